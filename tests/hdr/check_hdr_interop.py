#!/usr/bin/python3
"""The loadgen's HdrHistogram files read back by HdrHistogram's reference
implementation (Debian's libhdrhistogram-java, not our code):

  check_hdr_interop.py --loadgen BIN --jar hdrhistogram.jar --java-src tests/hdr/HdrCheck.java

1. the loadgen loads a throwaway echo server on 127.0.0.1 (open loop, 2 s) and
   writes its JSON, an interval log (--hdr-log) and a percentile distribution (--hgrm);
2. HdrCheck.java decodes the log; its count and percentiles must equal our
   JSON's within the histogram's precision (3 significant digits), its tag the case's;
3. our .hgrm must match the distribution HdrHistogram prints from what it decoded;
4. `loadgen merge` of the log must give our JSON's count and percentiles back;
   a log with a damaged histogram must make merge fail naming the line.
Prints the decoder's percentiles beside ours. Exit 0 when all hold.
"""
import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

PRECISION = 0.001  # 3 significant digits: a reported value is within 1/1000 of the bucket's
PERCENTILES = ["p50", "p90", "p99", "p99_9", "p99_99"]


def echo_server():
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)

    def serve(c):
        with c:
            while data := c.recv(65536):
                c.sendall(data)

    def accept():
        while True:
            c, _ = srv.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return srv.getsockname()[1]


def close_enough(a, b):
    return abs(a - b) <= PRECISION * max(abs(a), abs(b)) + 0.001  # + 1 ns: the printed resolution


def same_percentile(decoder, ours, our_max):
    """Both report the top of the bucket holding the rank (HdrHistogram's rule),
    so they agree to the nanosecond; ours is clamped to the exact maximum seen,
    which lies in that same bucket: within the histogram's precision."""
    if ours == our_max:
        return decoder >= ours and close_enough(decoder, ours)
    return abs(decoder - ours) < 0.0005


def same_row(m, t):
    """A .hgrm row: value, percentile, total count exact; 1/(1-p) to its print."""
    return len(m) == len(t) and m[:3] == t[:3] and all(abs(x - y) <= 0.011 for x, y in zip(m[3:], t[3:]))


def hgrm_rows(text):
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if not parts or line.startswith("#") or parts[0] == "Value":
            continue
        rows.append([float(p) for p in parts])
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loadgen", required=True)
    ap.add_argument("--jar", required=True)
    ap.add_argument("--java-src", required=True)
    a = ap.parse_args()
    for tool in ("java", "javac"):
        if not shutil.which(tool):
            print(f"FAIL: no {tool}: install default-jdk-headless (./run_all.sh test does)", file=sys.stderr)
            return 1
    if not os.path.exists(a.jar):
        print(f"FAIL: no {a.jar}: install libhdrhistogram-java (./run_all.sh test does)", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="hdr-interop-")
    failures = []
    try:
        subprocess.run(["javac", "-d", tmp, "-cp", a.jar, a.java_src], check=True, timeout=120)
        port = echo_server()
        paths = {k: os.path.join(tmp, "run." + k) for k in ("json", "hlog", "hgrm")}
        subprocess.run([a.loadgen, "--target", f"127.0.0.1:{port}", "--progress", "off", "-c", "4",
                        "--rate", "2000", "-d", "2", "-o", paths["json"], "--hdr-log", paths["hlog"],
                        "--hgrm", paths["hgrm"]], check=True, timeout=60, stderr=subprocess.DEVNULL)
        ours = json.load(open(paths["json"]))["latency_us"]
        java_hgrm = os.path.join(tmp, "java.hgrm")
        out = subprocess.run(["java", "-cp", f"{a.jar}:{tmp}", "HdrCheck", paths["hlog"], java_hgrm],
                             check=True, timeout=120, capture_output=True, text=True).stdout
        decoded = [json.loads(line) for line in out.splitlines() if line.strip()]
        if len(decoded) != 1:
            failures.append(f"expected one tag in the log, the decoder found {len(decoded)}")
        d = decoded[0]
        if d["tag"] != "echo/c4/s64/r2000":
            failures.append(f"tag {d['tag']!r}, expected 'echo/c4/s64/r2000'")
        if d["intervals"] < 2:
            failures.append(f"{d['intervals']} intervals for a 2 s window")
        print(f"{'':8} {'HdrHistogram (Java)':>20} {'loadgen JSON':>14}")
        print(f"{'count':8} {d['count']:>20} {ours['count']:>14}")
        if d["count"] != ours["count"] or d["count"] == 0:
            failures.append(f"count: decoder {d['count']}, ours {ours['count']}")
        for p in PERCENTILES + ["max"]:
            print(f"{p:8} {d[p + '_us']:>17.3f} us {ours[p]:>11.3f} us")
            if not same_percentile(d[p + "_us"], ours[p], ours["max"]):
                failures.append(f"{p}: decoder {d[p + '_us']} us, ours {ours[p]} us")
        # Our .hgrm against HdrHistogram's own print of the decoded histogram.
        mine, theirs = hgrm_rows(open(paths["hgrm"]).read()), hgrm_rows(open(java_hgrm).read())
        if len(mine) != len(theirs) or not mine:
            failures.append(f".hgrm: {len(mine)} rows, HdrHistogram prints {len(theirs)}")
        for r, (m, t) in enumerate(zip(mine, theirs)):
            if not same_row(m, t):
                failures.append(f".hgrm row {r + 1}: ours {m}, HdrHistogram {t}")
                break
        footers = [[l for l in open(f).read().splitlines() if l.startswith("#[")] for f in (paths["hgrm"], java_hgrm)]
        numbers = [[float(x.strip(" ]")) for l in f for x in l.split("=")[1:] for x in [x.split(",")[0]]] for f in footers]
        if len(footers[0]) != 3 or len(numbers[0]) != len(numbers[1]) or \
                not all(close_enough(x, y) for x, y in zip(*numbers)):
            failures.append(f".hgrm footer: ours {footers[0]}, HdrHistogram {footers[1]}")
        # merge reads the log back.
        m = subprocess.run([a.loadgen, "merge", paths["hlog"]], timeout=60, capture_output=True, text=True)
        if m.returncode != 0:
            failures.append(f"merge of the log: exit {m.returncode}: {m.stderr.strip()}")
            m.stdout = json.dumps({"latency_us": {k: -1 for k in ["count"] + PERCENTILES}})
        merged = json.loads(m.stdout)["latency_us"]
        if merged["count"] != ours["count"]:
            failures.append(f"merge of the log: count {merged['count']}, ours {ours['count']}")
        for p in PERCENTILES:
            if not same_percentile(merged[p], ours[p], ours["max"]):
                failures.append(f"merge of the log: {p} {merged[p]} us, ours {ours[p]} us")
        lines = open(paths["hlog"]).read().splitlines()
        broken = os.path.join(tmp, "broken.hlog")
        last = len(lines) - 1
        head, _, b64 = lines[last].rpartition(",")
        lines[last] = head + "," + b64[:8] + "AAAA" + b64[12:]  # damage the compressed histogram
        open(broken, "w").write("\n".join(lines) + "\n")
        bad = subprocess.run([a.loadgen, "merge", broken], timeout=60, capture_output=True, text=True)
        if bad.returncode == 0 or f"line {last + 1}" not in bad.stderr:
            failures.append(f"merge of a damaged log: exit {bad.returncode}, stderr {bad.stderr.strip()!r}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("FAIL:", f, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
