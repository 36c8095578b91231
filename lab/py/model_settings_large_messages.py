#!/usr/bin/python3
"""lab/model_settings_large_messages.sh: model settings for large messages
(io_uring recv size, multishot buffers, bufferevent, libevent events, sigio wait)
against epoll_lt: ratio, CPU per reply, syscalls per reply (strace -c).
Usage: model_settings_large_messages.py BIN ROUNDS DURATION WARMUP PERF(0|1)"""
from lab_runs import start_server
from iomodels_plots.run_loader import load_loadgen, loadgen_throughput
import json, os, re, signal, statistics, subprocess, sys, tempfile, time

BIN, ROUNDS, DUR, WARM, PERF = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5] == "1"
TICK = os.sysconf("SC_CLK_TCK")
tmp = tempfile.mkdtemp(prefix="measure_best.")

CONFIGS = [  # (label, executable, args). The defaults before the large-message retune: recv16k, 256x4k, r0 w0, one, sigwaitinfo;
    # after: recv64k, 32x64k, r0 w0, two, signalfd
    ("epoll_lt", "epoll_lt", []),
    ("io_uring recv16k", "io_uring", ["--recv-bytes", "16384", "--poll-first", "0"]),
    ("io_uring recv64k", "io_uring", ["--recv-bytes", "65536", "--poll-first", "0"]),
    ("io_uring recv16k pf", "io_uring", ["--recv-bytes", "16384", "--poll-first", "1"]),
    ("io_uring recv64k pf", "io_uring", ["--recv-bytes", "65536", "--poll-first", "1"]),
    ("multishot 256x4k", "io_uring_multishot", ["--buffers", "256", "--buffer-size", "4096"]),
    ("multishot 256x16k", "io_uring_multishot", ["--buffers", "256", "--buffer-size", "16384"]),
    ("multishot 256x64k", "io_uring_multishot", ["--buffers", "256", "--buffer-size", "65536"]),
    ("multishot 1024x16k", "io_uring_multishot", ["--buffers", "1024", "--buffer-size", "16384"]),
    ("multishot 32x64k", "io_uring_multishot", ["--buffers", "32", "--buffer-size", "65536"]),
    ("bufferevent r0 w0", "libevent_bufferevent", ["--max-single-read", "0", "--max-single-write", "0"]),
    ("bufferevent r64k w64k", "libevent_bufferevent", ["--max-single-read", "65536", "--max-single-write", "65536"]),
    ("libevent one", "libevent", ["--events", "one"]),
    ("libevent two", "libevent", ["--events", "two"]),
    ("sigio sigwaitinfo", "sigio", ["--wait", "sigwaitinfo"]),
    ("sigio signalfd", "sigio", ["--wait", "signalfd"]),
]
CASES = [("s64", 64), ("s4096", 4096), ("s65536", 65536)]
if os.environ.get("ONLY"):
    CONFIGS = [c for c in CONFIGS if c[0] == "epoll_lt" or re.search(os.environ["ONLY"], c[0])]
if os.environ.get("CASES"):
    want = os.environ["CASES"].split(",")
    CASES = [c for c in CASES if c[0] in want]


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start(exe, args):
    return start_server(BIN, exe, args, tmp)


def run(cfg, size, perf=False):
    label, exe, args = cfg
    p, port, stats_path = start(exe, args)
    out, perf_out = os.path.join(tmp, "lg.json"), os.path.join(tmp, "perf.csv")
    pp = None
    if perf:
        pp = subprocess.Popen(["strace", "-c", "-f", "-o", perf_out, "-p", str(p.pid)], stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # attached before the load starts
    cpu0 = proc_cpu_s(p.pid)
    subprocess.run(["taskset", "-c", "1", os.path.join(BIN, "loadgen"), "--target", f"127.0.0.1:{port}",
                    "-c", "16", "-p", "1", "-s", str(size), "-d", DUR, "--warmup", WARM,
                    "--progress", "off", "-o", out], check=True, stderr=subprocess.DEVNULL)
    cpu1 = proc_cpu_s(p.pid)
    if pp:
        pp.send_signal(signal.SIGINT)
        pp.wait(timeout=30)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    result = load_loadgen(out)
    lg = result["summary"]
    st = json.load(open(stats_path))["counters"]
    r = {"rps": loadgen_throughput(result), "cpu_us": (cpu1 - cpu0) * 1e6 / max(1, lg["requests"])}
    if perf:
        replies = max(1.0, st["bytes_out"] / size)  # every reply of the server's life: the perf window
        sys_ = {}
        for line in open(perf_out):  # % time, seconds, usecs/call, calls, [errors,] syscall
            f = line.split()
            if len(f) >= 5 and f[3].isdigit() and f[-1] != "total":
                sys_[f[-1]] = int(f[3]) / replies
        r["sys"] = {k: v for k, v in sys_.items() if v >= 0.005}
    return r


def loadavg():
    return open("/proc/loadavg").read().split()[:3]


print(f"loadavg before: {' '.join(loadavg())}", flush=True)
res = {}
for rnd in range(ROUNDS):
    for case, size in CASES:
        order = CONFIGS[rnd % len(CONFIGS):] + CONFIGS[:rnd % len(CONFIGS)]
        for cfg in order:
            try:
                res.setdefault((case, cfg[0]), []).append(run(cfg, size))
            except Exception as e:
                print(f"round {rnd} {case} {cfg[0]}: {e}", file=sys.stderr)
                res.setdefault((case, cfg[0]), []).append(None)
    print(f"round {rnd + 1}/{ROUNDS} done, loadavg {' '.join(loadavg())}", file=sys.stderr, flush=True)
print(f"loadavg after the timed rounds: {' '.join(loadavg())}")


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


print(f"\n{ROUNDS} rounds x {DUR} s, echo c16 p1, server cpu0, loadgen cpu1; medians")
for case, size in CASES:
    base = res[(case, "epoll_lt")]
    print(f"\n== {case}: epoll_lt {med([b['rps'] if b else None for b in base]):.0f} req/s")
    print(f"{'config':24}{'ratio':>7}{'cpu_us':>8}")
    for lab in [c[0] for c in CONFIGS]:
        rows = res[(case, lab)]
        ratio = med([(a["rps"] / b["rps"]) if a and b else None for a, b in zip(rows, base)])
        cpu = med([a["cpu_us"] if a else None for a in rows])
        print(f"{lab:24}{ratio:7.2f}{cpu:8.2f}", flush=True)
if PERF:
    print("\nsyscalls per reply (strace -c -f -p SERVER over a separate run; total, then by name)")
    for case, size in CASES:
        print(f"\n== {case}")
        for cfg in CONFIGS:
            try:
                s = run(cfg, size, perf=True)["sys"]
                detail = " ".join(f"{k} {v:.2f}" for k, v in sorted(s.items(), key=lambda kv: -kv[1]))
                print(f"{cfg[0]:24}{sum(s.values()):7.2f}  {detail}", flush=True)
            except Exception as e:
                print(f"{cfg[0]:24} failed: {e}", flush=True)
    print(f"loadavg after: {' '.join(loadavg())}")
