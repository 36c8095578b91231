#!/usr/bin/python3
"""lab/libevent_epoll_ctl_per_change.sh: epoll_ctl calls per interest change
for epoll_lt and libevent --events one|two, echoing 12 MiB to a slow reader.
Usage: libevent_epoll_ctl_per_change.py BIN"""
import json, os, signal, socket, subprocess, sys, tempfile, time

BIN = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="measure_ctl.")
TOTAL = 12 << 20


def run(exe, args):
    stats, perf_out = os.path.join(tmp, "stats.json"), os.path.join(tmp, "perf.csv")
    # A baseline with no connection: the calls the server makes to set up and stop.
    counts = []
    for with_client in (False, True):
        p = subprocess.Popen([os.path.join(BIN, exe), "--port", "0", "--stats-file", stats] + args,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        port = int(p.stdout.readline().split()[1].rsplit(":", 1)[1])
        pp = subprocess.Popen(["strace", "-f", "-c", "-e", "trace=epoll_ctl", "-o", perf_out, "-p", str(p.pid)],
                              stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        if with_client:
            s = socket.create_connection(("127.0.0.1", port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            s.setblocking(False)
            data, sent, got = b"x" * TOTAL, 0, 0
            end = time.time() + 60
            while got < TOTAL and time.time() < end:
                if sent < TOTAL:
                    try:
                        sent += s.send(data[sent:sent + (1 << 20)])
                    except BlockingIOError:
                        pass
                time.sleep(0.005)
                try:
                    got += len(s.recv(64 * 1024))
                except BlockingIOError:
                    pass
            s.close()
            time.sleep(0.2)
        pp.send_signal(signal.SIGINT)
        pp.wait()
        p.send_signal(signal.SIGTERM)
        p.wait()
        n = sum(int(l.split()[3]) for l in open(perf_out) if l.split()[-1:] == ["epoll_ctl"])
        counts.append(n)
    st = json.load(open(stats))["counters"]
    return counts, st


print("loadavg", open("/proc/loadavg").read().split()[:3])
for label, exe, args in [("epoll_lt", "epoll_lt", []), ("libevent --events one", "libevent", ["--events", "one"]),
                         ("libevent --events two", "libevent", ["--events", "two"])]:
    (base, total), st = run(exe, args)
    x = st.get("extra", {})
    if exe == "epoll_lt":  # counts its own: listener, stop_fd, the connection's ADD, then MODs (close(2) is its DEL)
        changes, own = st["syscalls"].get("epoll_ctl", 0) - 3, 1
    else:  # our adds/deletes; the first is the connection's registration, event_del at close its DEL
        changes, own = x.get("event_rearms", 0) - 1, 2
    per = (total - base - own) / changes if changes > 0 else float("nan")
    print(f"{label:24} epoll_ctl {total} (setup/stop {base}), interest changes {changes}, "
          f"epoll_ctl per change {per:.2f}")
