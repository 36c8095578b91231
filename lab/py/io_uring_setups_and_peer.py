#!/usr/bin/python3
"""lab/io_uring_setups_and_peer.sh: io_uring setups, epoll_et and sigio, and
liburing's echo-server, interleaved against epoll_lt: ratios, CPU per request,
recv or io_uring_enter per message.
Usage: io_uring_setups_and_peer.py BIN ROUNDS DURATION WARMUP PEER"""
from lab_runs import start_server
from iomodels_plots.run_loader import load_loadgen, loadgen_throughput
import json, os, signal, socket, statistics, subprocess, sys, tempfile, time

BIN, ROUNDS, DUR, WARM, PEER = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
TICK = os.sysconf("SC_CLK_TCK")
tmp = tempfile.mkdtemp(prefix="measure_models.")

CONFIGS = [  # (label, executable, args)
    ("epoll_lt", "epoll_lt", []),
    ("epoll_et", "epoll_et", []),
    ("sigio", "sigio", []),
    ("io_uring", "io_uring", []),
    ("io_uring plain", "io_uring", ["--setup", "plain"]),
    ("io_uring no-reg-ring", "io_uring", ["--register-ring-fd", "0"]),
    ("multishot", "io_uring_multishot", []),
    ("multishot plain", "io_uring_multishot", ["--setup", "plain"]),
    ("multishot coop", "io_uring_multishot", ["--setup", "coop"]),
    ("multishot no-reg-ring", "io_uring_multishot", ["--register-ring-fd", "0"]),
]
if os.access(PEER, os.X_OK):
    CONFIGS.append(("liburing echo-server", None, []))
else:
    print(f"(peer {PEER} not built: skipped)", file=sys.stderr)
CASES = [("c16", 16, 1), ("c64", 64, 1), ("c64 p16", 64, 16), ("c256", 256, 1)]
# Optional narrowing while developing: ONLY=regex on config labels (epoll_lt always stays),
# CASES=c16,c64 (labels without spaces: c64p16).
import re
if os.environ.get("ONLY"):
    CONFIGS = [c for c in CONFIGS if c[0] == "epoll_lt" or re.search(os.environ["ONLY"], c[0])]
if os.environ.get("CASES"):
    want = os.environ["CASES"].split(",")
    CASES = [c for c in CASES if c[0].replace(" ", "") in want]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start(cfg):
    label, exe, args = cfg
    if exe is None:  # the peer: fixed port, prints its own banner
        port = free_port()
        # Its banner is printf'd into a pipe (block-buffered): wait for the port instead.
        p = subprocess.Popen(["taskset", "-c", "0", PEER, str(port)], stdout=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise SystemExit("the peer did not start")
        return p, port, None
    return start_server(BIN, exe, args, tmp, label)


def run(cfg, conns, pipeline):
    p, port, stats_path = start(cfg)
    cpu0 = proc_cpu_s(p.pid)
    out = os.path.join(tmp, "lg.json")
    subprocess.run(["taskset", "-c", "1", os.path.join(BIN, "loadgen"), "--target", f"127.0.0.1:{port}",
                    "-c", str(conns), "-p", str(pipeline), "-s", "64", "-d", DUR, "--warmup", WARM,
                    "--progress", "off", "-o", out], check=True, stderr=subprocess.DEVNULL)
    cpu1 = proc_cpu_s(p.pid)
    p.send_signal(signal.SIGTERM if stats_path else signal.SIGKILL)
    p.wait(timeout=5)
    result = load_loadgen(out)
    lg = result["summary"]
    r = {"rps": loadgen_throughput(result)}
    if stats_path:
        st = json.load(open(stats_path))["counters"]
        replies = st["bytes_out"] / 64
        sc = st.get("syscalls", {})
        r["cpu_us"] = (cpu1 - cpu0) * 1e6 / max(1, lg["requests"])
        r["recv_per_msg"] = sc.get("recv", 0) / max(1, replies)
        r["enter_per_msg"] = sc.get("io_uring_enter", 0) / max(1, replies)
    else:
        r["cpu_us"] = (cpu1 - cpu0) * 1e6 / max(1, lg["requests"])
    return r


res = {}  # (case, label) -> [per round dict]
for rnd in range(ROUNDS):
    for case, conns, pipe in CASES:
        order = CONFIGS[rnd % len(CONFIGS):] + CONFIGS[:rnd % len(CONFIGS)]
        for cfg in order:
            try:
                res.setdefault((case, cfg[0]), []).append(run(cfg, conns, pipe))
            except Exception as e:  # one failed run costs its cell, not the table
                print(f"round {rnd} {case} {cfg[0]}: {e}", file=sys.stderr)
                res.setdefault((case, cfg[0]), []).append(None)
    print(f"round {rnd + 1}/{ROUNDS} done", file=sys.stderr, flush=True)


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else float("nan")


labels = [c[0] for c in CONFIGS]
print(f"\nreq/s ratio vs epoll_lt (median of per-round ratios; {ROUNDS} rounds, {DUR} s each, echo 64 B, server cpu0, loadgen cpu1)")
print(f"{'config':24}" + "".join(f"{c[0]:>10}" for c in CASES))
for lab in labels:
    row = f"{lab:24}"
    for case, _, _ in CASES:
        ratios = [(a["rps"] / b["rps"]) if a and b else None for a, b in zip(res[(case, lab)], res[(case, "epoll_lt")])]
        row += f"{med(ratios):10.3f}"
    print(row)
print(f"\n{'epoll_lt req/s':24}" + "".join(f"{med([r['rps'] if r else None for r in res[(c[0], 'epoll_lt')]]):10.0f}" for c in CASES))
print("\nserver CPU µs per request (median)")
print(f"{'config':24}" + "".join(f"{c[0]:>10}" for c in CASES))
for lab in labels:
    print(f"{lab:24}" + "".join(f"{med([r['cpu_us'] if r else None for r in res[(c[0], lab)]]):10.2f}" for c in CASES))
print("\nsyscalls per message (median): recv for readiness models, io_uring_enter for io_uring")
print(f"{'config':24}" + "".join(f"{c[0]:>10}" for c in CASES))
for lab in labels:
    key = "enter_per_msg" if "uring" in lab or "multishot" in lab else "recv_per_msg"
    if lab.startswith("liburing"):
        continue
    print(f"{lab:24}" + "".join(f"{med([r.get(key) if r else None for r in res[(c[0], lab)]]):10.3f}" for c in CASES) + f"  ({key})")
