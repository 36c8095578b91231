#!/usr/bin/python3
"""soak: every server for a long time at one fixed offered rate, watched per minute.

    harness/soak/soak.py [--minutes 30] [--rate 200] [--connections 4] [--servers all|a,b]
                         [--bin-dir build] [--out DIR] [--window 5] [--tolerance 5]
                         [--gate errors,rss,fds,cpu,series] [--warmup 30] [--timeout 10]
                         [--server-arg NAME=ARGS ...]

Each server runs with its own open-loop loadgen (--rate, --connections, one
thread) for --minutes after --warmup seconds. The servers run side by side, not
one after another: 15 servers x 30 minutes in turn would take 7.5 hours, and a
soak is about what a process does over time, not about its speed next to the
others (run fewer with --servers for a quieter machine). Per minute of the
loadgen's measured window (its CLOCK_MONOTONIC marks, --notify-fd) it records
for the server: RSS (mean of samples every --sample seconds), open fds (max),
CPU ns (process CPU clock, every thread, read at each minute mark) per message
answered in that minute, and the p99 of that minute (the loadgen's per-second
histograms merged); for the loadgen: its RSS, fds and schedule lag (the largest
per-second p99 of send - intended time in the minute).

Pass, per server: no error and nothing lost, and RSS, fds and CPU per message
each within --tolerance percent between the first and the last --window
minutes; `series`: every second of the window is in the loadgen's time series
with replies in it. --gate picks the checks that decide the exit code (CI runs
a 2-minute version gating errors, rss, fds and series: CPU per message over one
minute of a shared machine is a timing figure, reported, not asserted).

Writes OUT/soak.json (every series and verdict), OUT/<server>.loadgen.json,
OUT/<server>.stats.json and OUT/logs/, and prints one row per server. Exit 0
all pass, 1 a check failed, 2 bad command line, 3 cannot run (no binaries).
SIGINT/SIGTERM stop every server and loadgen it started before it exits.
"""
import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time

import soak_figures  # the per-minute arithmetic and verdicts (beside this script, so on its path)

HERE = os.path.dirname(os.path.abspath(__file__))

PR_SET_PDEATHSIG = 1
CHILDREN = []  # every Popen we started, killed as groups on exit or signal
CHILDREN_LOCK = threading.Lock()


def die_with_parent():
    # In the child: killed with us even if we are SIGKILLed, in its own group.
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setpgid(0, 0)


def spawn(cmd, **kw):
    p = subprocess.Popen(cmd, preexec_fn=die_with_parent, **kw)
    with CHILDREN_LOCK:
        CHILDREN.append(p)
    return p


def kill_all():
    with CHILDREN_LOCK:
        for p in CHILDREN:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def on_signal(signum, _frame):
    kill_all()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def cpu_ns(pid):
    """The process's CPU clock: ns, every thread, exited ones included."""
    try:
        return time.clock_gettime_ns(((~pid) << 3) | 2)
    except OSError:
        return None


def proc_sample(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), None)
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        return rss, fds
    except (OSError, StopIteration):
        return None, None


class Soak:
    """One server and its loadgen, sampled until the loadgen is done."""

    def __init__(self, name, args, out):
        self.name, self.args, self.out = name, args, out
        self.samples = []     # (t_ns since window start, server rss kB, fds, loadgen rss kB, fds)
        self.cpu_marks = []   # server CPU ns at window start + k minutes, k = 0..minutes
        self.failure = ""
        self.skipped = ""
        self.server = self.loadgen = None
        self.window_start = None

    def start(self):
        a = self.args
        log = open(os.path.join(self.out, "logs", self.name + ".server.log"), "w")
        cmd = [os.path.join(a.bin_dir, self.name), "--port", "0", "--protocol", a.protocol,
               "--stats-file", os.path.join(self.out, self.name + ".stats.json")]
        cmd += a.server_args.get(self.name, [])
        try:
            self.server = spawn(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        except OSError as e:
            self.failure = f"cannot start: {e}"
            return False
        line = read_line_within(self.server.stdout, 5.0)
        if not line.startswith("listening "):
            try:
                rc = self.server.wait(timeout=1)
            except subprocess.TimeoutExpired:
                rc = None
            log.flush()
            why = open(log.name).read().strip().splitlines()[-1:] or [""]
            if rc == 2:  # the kernel lacks what the model needs (docs/design.md, "Servers"): said, not failed
                self.skipped = f"exit 2 at start: {why[0]}"
            else:
                self.failure = f"no 'listening' line within 5 s (got {line!r}, {why[0]})"
            return False
        target = line.split()[1]
        rfd, wfd = os.pipe()
        lcmd = [os.path.join(a.bin_dir, "loadgen"), "--target", target, "--protocol", a.protocol,
                "--connections", str(a.connections), "--threads", "1", "--rate", str(a.rate),
                "--size", str(a.size), "--duration", f"{a.minutes * 60}s", "--warmup", f"{a.warmup}s",
                "--timeout", f"{a.timeout}s", "--progress", "off", "--notify-fd", str(wfd),
                "--output", os.path.join(self.out, self.name + ".loadgen.json")]
        llog = open(os.path.join(self.out, "logs", self.name + ".loadgen.log"), "w")
        self.loadgen = spawn(lcmd, stdout=llog, stderr=subprocess.STDOUT, pass_fds=(wfd,))
        os.close(wfd)
        self.notify = os.fdopen(rfd)
        return True

    def watch(self):
        """Thread body: wait for the window, then sample until the loadgen exits."""
        a = self.args
        line = read_line_within(self.notify, a.warmup + 60.0)
        if not line.startswith("window_start "):
            self.failure = f"the loadgen never opened its window (got {line!r})"
            return
        self.window_start = int(line.split()[1])
        mark = 0
        while True:
            now = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
            due = self.window_start + mark * 60_000_000_000
            if now >= due and mark <= a.minutes:
                self.cpu_marks.append(cpu_ns(self.server.pid))
                mark += 1
                continue
            if self.loadgen.poll() is not None or self.server.poll() is not None:
                break
            srss, sfds = proc_sample(self.server.pid)
            lrss, lfds = proc_sample(self.loadgen.pid)
            self.samples.append((now - self.window_start, srss, sfds, lrss, lfds))
            next_due = self.window_start + mark * 60_000_000_000 if mark <= a.minutes else now + 10**10
            time.sleep(max(0.0, min(a.sample, (next_due - now) / 1e9)))
        if self.server.poll() is not None:
            self.failure = f"server exited early: {exit_text(self.server.returncode)}"

    def stop(self):
        try:
            self.loadgen.wait(timeout=self.args.timeout + 30)
        except subprocess.TimeoutExpired:
            os.killpg(self.loadgen.pid, signal.SIGKILL)
            self.failure = self.failure or "loadgen did not finish"
        if self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                # Generous: the stats file is fsynced, and a busy disk takes seconds.
                # Stop promptness is the conformance suite's check, not the soak's.
                self.server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.server.pid, signal.SIGKILL)
                self.server.wait()
                self.failure = self.failure or "server needed SIGKILL to stop"
        if self.loadgen.returncode not in (0, None) and not self.failure:
            self.failure = f"loadgen {exit_text(self.loadgen.returncode)}"


def exit_text(rc):
    return f"killed by signal {-rc}" if rc < 0 else f"exit {rc}"


def read_line_within(stream, seconds):
    got = []
    t = threading.Thread(target=lambda: got.append(stream.readline()), daemon=True)
    t.start()
    t.join(seconds)
    return got[0].strip() if got else ""


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--minutes", type=int, default=30)
    p.add_argument("--rate", type=int, default=200, help="requests/s offered to each server")
    p.add_argument("--connections", type=int, default=4)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--protocol", default="echo", choices=["echo", "framed", "http"])
    p.add_argument("--servers", default="all")
    p.add_argument("--bin-dir", default=os.path.join(os.path.dirname(os.path.dirname(HERE)), "build"))
    p.add_argument("--out", default="")
    p.add_argument("--window", type=int, default=5, help="minutes compared at each end")
    p.add_argument("--tolerance", type=float, default=5.0, help="percent")
    p.add_argument("--gate", default="errors,rss,fds,cpu,series")
    p.add_argument("--warmup", type=float, default=30.0, help="seconds before the first minute")
    p.add_argument("--timeout", type=float, default=10.0, help="loadgen --timeout, seconds")
    p.add_argument("--sample", type=float, default=5.0, help="seconds between RSS/fd samples")
    p.add_argument("--server-arg", action="append", default=[], metavar="NAME=ARGS",
                   help="extra arguments for one server (split on spaces)")
    a = p.parse_args(argv)

    def bad(option, why):
        print(f"soak: --{option}: {why}", file=sys.stderr)
        sys.exit(2)
    if a.minutes < 1 or a.minutes > 24 * 60:
        bad("minutes", "must be 1..1440")
    if a.rate < 1:
        bad("rate", "must be >= 1 (the soak is open loop)")
    if a.connections < 1:
        bad("connections", "must be >= 1")
    if a.window < 1 or 2 * a.window > a.minutes and a.minutes > 1:
        bad("window", f"must be 1..minutes/2 ({a.minutes // 2})")
    if a.tolerance <= 0:
        bad("tolerance", "must be > 0")
    if a.warmup < 0 or a.timeout <= 0 or a.sample <= 0:
        bad("warmup/timeout/sample", "must be >= 0 / > 0 / > 0")
    gates = set(x for x in a.gate.split(",") if x)
    if not gates <= soak_figures.GATES:
        bad("gate", f"unknown {sorted(gates - soak_figures.GATES)}; known {sorted(soak_figures.GATES)}")
    a.gates = gates
    a.server_args = {}
    for s in a.server_arg:
        if "=" not in s:
            bad("server-arg", f"expected NAME=ARGS, got {s!r}")
        k, v = s.split("=", 1)
        a.server_args[k] = v.split()
    return a


def main(argv):
    a = parse_args(argv)
    listed = os.path.join(a.bin_dir, "servers.json")
    if not os.path.exists(listed) or not os.path.exists(os.path.join(a.bin_dir, "loadgen")):
        print(f"soak: no servers.json or loadgen in {a.bin_dir} (build first)", file=sys.stderr)
        return 3
    names = [s["name"] for s in json.load(open(listed))]
    if a.servers != "all":
        wanted = a.servers.split(",")
        unknown = [s for s in wanted if s not in names]
        if unknown:
            print(f"soak: --servers: unknown {unknown}", file=sys.stderr)
            return 2
        names = wanted
    # nonblocking_spin burns a core by design; beside 14 others it would take
    # one from them (and the shared machine): it sleeps when a pass finds nothing.
    a.server_args.setdefault("nonblocking_spin", ["--idle-sleep-us", "1000"])
    a.out = a.out or time.strftime("results/%Y-%m-%d-%H%M%S-soak")
    os.makedirs(os.path.join(a.out, "logs"), exist_ok=True)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    soaks = [Soak(n, a, a.out) for n in names]
    started = [s for s in soaks if s.start()]
    threads = [threading.Thread(target=s.watch) for s in started]
    print(f"soak: {len(started)} servers side by side, {a.rate} req/s each over {a.connections} connections, "
          f"{a.minutes} min after {a.warmup:g} s warmup; out {a.out}", flush=True)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in started:
        s.stop()
    kill_all()
    report = soak_figures.report(soaks, a)
    with open(os.path.join(a.out, "soak.json.tmp"), "w") as f:
        json.dump(report, f, indent=1)
    os.replace(os.path.join(a.out, "soak.json.tmp"), os.path.join(a.out, "soak.json"))
    print(soak_figures.table(report))
    return 0 if report["pass"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
