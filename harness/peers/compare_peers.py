#!/usr/bin/python3
"""Cross-check our figures against tools nobody here wrote: wrk and nginx.

Runs, interleaved and repeated (A B A B ...), with the server pinned to one CPU
and the client to another:
  1. wrk -t1 -c50 vs loadgen --protocol http -c50 -t1 against epoll_lt's http
     mode: req/s and the client's CPU µs per request (whole process, rusage);
  2. epoll_lt vs nginx (1 worker, `return 200 "Hello, World!"`) under the same
     wrk: server CPU µs per request from /proc/PID/stat over the run.
Prints a table (medians and every repetition) and writes JSON with --out.
Needs: wrk, nginx-light (Debian). Traffic goes to 127.0.0.1 only.

  PYTHONPATH=plots /usr/bin/python3 harness/peers/compare_peers.py --bin-dir build --reps 3 --duration 5
(plots/ on PYTHONPATH: the loadgen's result is read by the one loader, iomodels_plots/run_loader.py)
"""
import argparse, json, os, re, resource, shutil, signal, statistics, subprocess, sys, tempfile, time

from iomodels_plots.run_loader import load_loadgen, loadgen_throughput

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def start_epoll_lt(bin_dir, cpu):
    p = subprocess.Popen(["taskset", "-c", cpu, os.path.join(bin_dir, "epoll_lt"), "--protocol", "http",
                          "--port", "0", "--stats-file", os.devnull], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline().split()
    if not line or line[0] != "listening":
        raise SystemExit("epoll_lt did not start")
    return p, [p.pid], int(line[1].rsplit(":", 1)[1])


def start_nginx(cpu, tmp):
    port = 18080 + os.getpid() % 1000
    conf = os.path.join(tmp, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""worker_processes 1; daemon off; master_process on; pid {tmp}/nginx.pid;
error_log {tmp}/error.log; events {{ worker_connections 4096; }}
http {{ access_log off; server {{ listen 127.0.0.1:{port}; keepalive_requests 1000000;
  location / {{ default_type text/plain; return 200 "Hello, World!"; }} }} }}
""")
    p = subprocess.Popen(["taskset", "-c", cpu, shutil.which("nginx") or "/usr/sbin/nginx", "-c", conf, "-p", tmp])
    for _ in range(100):
        time.sleep(0.05)
        kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
        if kids:
            return p, [p.pid] + [int(k) for k in kids], port
    raise SystemExit("nginx did not start")


def run_client(cmd):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, cpu


def wrk(port, cpu, duration):
    out, client_cpu = run_client(["taskset", "-c", cpu, "wrk", "-t1", "-c50", f"-d{duration}s",
                                  f"http://127.0.0.1:{port}/"])
    m = re.search(r"Requests/sec:\s+([\d.]+)", out.stdout)
    total = re.search(r"(\d+) requests in", out.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", out.stdout)
    return {"tool": "wrk", "req_s": float(m.group(1)), "requests": int(total.group(1)),
            "client_cpu_s": client_cpu, "errors": errors.group(0) if errors else ""}


def loadgen(bin_dir, port, cpu, duration, tmp):
    path = os.path.join(tmp, "lg.json")
    out, client_cpu = run_client(["taskset", "-c", cpu, os.path.join(bin_dir, "loadgen"), "--target",
                                  f"127.0.0.1:{port}", "--protocol", "http", "-c", "50", "-t", "1",
                                  "--duration", str(duration), "--warmup", "0", "--progress", "off",
                                  "--output", path])
    j = load_loadgen(path)
    s = j["summary"]
    return {"tool": "loadgen", "req_s": loadgen_throughput(j), "requests": s["requests"],
            "client_cpu_s": client_cpu, "errors": sum(s["errors"].values())}


def measure(server, client, args, tmp):
    if server == "nginx":
        proc, pids, port = start_nginx(args.server_cpu, tmp)
    else:
        proc, pids, port = start_epoll_lt(args.bin_dir, args.server_cpu)
    time.sleep(0.2)
    cpu0 = sum(proc_cpu_s(p) for p in pids)
    r = wrk(port, args.client_cpu, args.duration) if client == "wrk" else \
        loadgen(args.bin_dir, port, args.client_cpu, args.duration, tmp)
    cpu1 = sum(proc_cpu_s(p) for p in pids)
    proc.send_signal(signal.SIGTERM if server != "nginx" else signal.SIGQUIT)
    proc.wait(timeout=5)
    r.update(server=server, server_cpu_s=cpu1 - cpu0)
    r["client_us_per_req"] = 1e6 * r["client_cpu_s"] / max(r["requests"], 1)
    r["server_us_per_req"] = 1e6 * r["server_cpu_s"] / max(r["requests"], 1)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default="build")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--client-cpu", default="1")
    ap.add_argument("--out")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install wrk")
    combos = [("epoll_lt", "wrk"), ("epoll_lt", "loadgen"), ("nginx", "wrk")]
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        print("nginx not found (apt-get install nginx-light): skipping the nginx rows", file=sys.stderr)
        combos.pop()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for server, client in combos:
                r = measure(server, client, args, tmp)
                r["rep"] = rep
                rows.append(r)
                print(f"rep {rep} {server:8} {client:7} {r['req_s']:10.0f} req/s  client {r['client_us_per_req']:6.2f} "
                      f"µs/req  server {r['server_us_per_req']:6.2f} µs/req  errors {r['errors']}", file=sys.stderr)
    print(f"\n| server | client | req/s (median) | client CPU µs/req | server CPU µs/req | runs (req/s) |")
    print("|---|---|---|---|---|---|")
    for server, client in combos:
        rs = [r for r in rows if r["server"] == server and r["tool"] == client]
        med = lambda k: statistics.median(r[k] for r in rs)
        runs = ", ".join(f"{r['req_s']:.0f}" for r in rs)
        print(f"| {server} | {client} | {med('req_s'):.0f} | {med('client_us_per_req'):.2f} | "
              f"{med('server_us_per_req'):.2f} | {runs} |")
    if args.out:
        json.dump(rows, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
