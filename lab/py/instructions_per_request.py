#!/usr/bin/python3
"""lab/instructions_per_request.sh: user-space instructions per request of every
server under callgrind (difference of two fixed request counts).
Usage: instructions_per_request.py BIN BEFORE_BIN N1 N2 ONLY CONNECTIONS"""
import json, os, subprocess, sys, tempfile

BIN, BEFORE, N1, N2, ONLY, CONNS = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]
tmp = tempfile.mkdtemp(prefix="measure_instr.")

def servers(bin_dir):
    return [s["name"] for s in json.load(open(os.path.join(bin_dir, "servers.json")))]

def run_once(bin_dir, name, n):
    out = os.path.join(tmp, f"cg.{abs(hash(bin_dir))}.{name}.{n}")
    srv = subprocess.Popen(["taskset", "-c", "0", "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                            os.path.join(bin_dir, name), "--port", "0", "--stats-file", out + ".stats.json"],
                           stdout=subprocess.PIPE, stderr=open(out + ".stderr", "w"), text=True)
    try:
        line = ""
        while not line.startswith("listening"):
            line = srv.stdout.readline()
            if not line: raise RuntimeError(f"{name} did not start under valgrind (see {out}.stderr)")
        port = line.strip().rsplit(":", 1)[1]
        subprocess.run(["taskset", "-c", "1", os.path.join(bin_dir, "loadgen"), "--target", f"127.0.0.1:{port}",
                        "-c", CONNS, "--size", "64", "-d", "0", "-n", str(n), "--timeout", "120",
                        "--progress", "off", "-o", out + ".loadgen.json"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
    finally:
        srv.terminate()
        srv.wait(timeout=120)
    for l in open(out):
        if l.startswith("summary:") or l.startswith("totals:"):
            return int(l.split()[1])
    raise RuntimeError("no summary in " + out)

def per_request(bin_dir, name):
    try:
        return (run_once(bin_dir, name, N2) - run_once(bin_dir, name, N1)) / (N2 - N1)
    except Exception as e:
        print(f"{name}: {e}", file=sys.stderr)
        return None

names = servers(BIN)
if ONLY: names = [n for n in names if n in ONLY.split(",")]
fmt = lambda v: "-" if v is None else f"{v:.0f}"
print(f"user-space instructions per request, echo 64 B, c{CONNS}, callgrind, ({N2} - {N1} requests) / {N2 - N1}")
if BEFORE:
    before = set(servers(BEFORE))
    print(f"| server | before | after | change |\n|---|---:|---:|---:|")
    for n in names:
        b = per_request(BEFORE, n) if n in before else None
        a = per_request(BIN, n)
        ch = "-" if a is None or not b else f"{(a / b - 1) * 100:+.0f}%"
        print(f"| {n} | {fmt(b)} | {fmt(a)} | {ch} |", flush=True)
else:
    print("| server | instructions/request |\n|---|---:|")
    for n in names:
        print(f"| {n} | {fmt(per_request(BIN, n))} |", flush=True)
