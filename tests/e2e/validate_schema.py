#!/usr/bin/python3
"""Validate JSON files against a JSON Schema (python3-jsonschema).

  validate_schema.py SCHEMA FILE...          exit 0 when every file validates
  validate_schema.py --loadgen BIN SCHEMA    run BIN against a throwaway echo
                                             server on 127.0.0.1 (closed loop,
                                             open loop, merge) and validate each
  validate_schema.py --server NAME BIN SCHEMA
                                             run the server BIN once per protocol,
                                             serve a request, and validate its
                                             SIGUSR1 snapshot and its stats file
                                             at SIGTERM (model must be NAME)
  validate_schema.py --run RUN_JSON          run.json against run.schema.json, and
                                             every server stats object embedded in
                                             it against server_stats.schema.json
"""
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import jsonschema

SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "results", "schema")


def validator_for(schema_path):
    with open(schema_path) as f:
        schema = json.load(f)
    return jsonschema.validators.validator_for(schema, default=jsonschema.Draft7Validator)(schema)


def errors_in(validator, doc, where):
    """Prints up to 10 errors of doc, prefixed by where; True when there was any."""
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors[:10]:
        print(f"{where}: {'/'.join(map(str, e.path))}: {e.message}", file=sys.stderr)
    return bool(errors)


def validate(schema_path, files):
    validator = validator_for(schema_path)
    bad = 0
    for path in files:
        with open(path) as f:
            doc = json.load(f)
        bad += errors_in(validator, doc, path)
    return 1 if bad else 0


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


def self_test(loadgen, schema_path):
    port = echo_server()
    target = f"127.0.0.1:{port}"
    tmp = tempfile.mkdtemp(prefix="loadgen-schema-")
    runs = {
        "closed.json": ["-c", "2", "-n", "300", "-d", "0", "--size", "1-200"],
        "open.json": ["-c", "2", "--rate", "500", "-d", "1"],
        "churn.json": ["-c", "2", "-n", "100", "-d", "0", "--requests-per-connection", "10"],
    }
    files = []
    for name, args in runs.items():
        out = os.path.join(tmp, name)
        subprocess.run([loadgen, "--target", target, "--progress", "off", "-o", out] + args,
                       check=True, timeout=60, stderr=subprocess.DEVNULL)
        files.append(out)
    merged = os.path.join(tmp, "merged.json")
    with open(merged, "w") as f:
        subprocess.run([loadgen, "merge"] + files, check=True, timeout=60, stdout=f)
    files.append(merged)
    return validate(schema_path, files)


# One request per protocol, and the reply it must get back (http: its body).
REQUESTS = {
    "echo": (b"stats schema", b"stats schema"),
    "framed": (b"\x00\x00\x00\x05hello", b"\x00\x00\x00\x05hello"),
    "http": (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"Hello, World!"),
}


def read_line(proc, timeout=10):
    if not select.select([proc.stdout], [], [], timeout)[0]:
        raise RuntimeError("no line on stdout within %d s" % timeout)
    return proc.stdout.readline().decode()


def server_stats_once(binary, protocol, tmp):
    """The server's SIGUSR1 snapshot after one answered request, and its stats file after SIGTERM."""
    stats_file = os.path.join(tmp, f"stats-{protocol}.json")
    proc = subprocess.Popen([binary, "--port", "0", "--protocol", protocol, "--stats-file", stats_file],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = read_line(proc)
        if not line.startswith("listening "):
            raise RuntimeError(f"first line was {line!r}, not 'listening ADDR:PORT'")
        port = int(line.rsplit(":", 1)[1])
        request, reply = REQUESTS[protocol]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
            c.sendall(request)
            got = b""
            while reply not in got:
                chunk = c.recv(65536)
                if not chunk:
                    raise RuntimeError(f"{protocol}: connection closed before the reply")
                got += chunk
        proc.send_signal(signal.SIGUSR1)
        line = read_line(proc)
        if not line.startswith("stats "):
            raise RuntimeError(f"SIGUSR1 printed {line!r}, not 'stats {{...}}'")
        snapshot = json.loads(line[len("stats "):])
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        with open(stats_file) as f:
            final = json.load(f)
        return snapshot, final
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def server_test(name, binary, schema_path):
    validator = validator_for(schema_path)
    tmp = tempfile.mkdtemp(prefix="server-stats-schema-")
    bad = 0
    for protocol in REQUESTS:
        try:
            snapshot, final = server_stats_once(binary, protocol, tmp)
        except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as e:
            print(f"{name} --protocol {protocol}: {e}", file=sys.stderr)
            bad += 1
            continue
        for what, doc in (("snapshot", snapshot), ("stats file", final)):
            where = f"{name} --protocol {protocol}, {what}"
            bad += errors_in(validator, doc, where)
            if doc.get("model") != name:
                print(f"{where}: model is {doc.get('model')!r}, not {name!r}", file=sys.stderr)
                bad += 1
            if doc.get("counters", {}).get("messages", 0) < 1:
                print(f"{where}: no message counted after one was answered", file=sys.stderr)
                bad += 1
    return 1 if bad else 0


def run_test(run_json):
    """run.json against its schema, and each embedded server stats object against its own."""
    with open(run_json) as f:
        run = json.load(f)
    bad = errors_in(validator_for(os.path.join(SCHEMA_DIR, "run.schema.json")), run, run_json)
    stats = validator_for(os.path.join(SCHEMA_DIR, "server_stats.schema.json"))
    for c in run.get("cases", []):
        for r in c.get("repetitions", []):
            if r.get("server_stats") is not None:
                bad += errors_in(stats, r["server_stats"], f"{run_json}: {c.get('name')} round {r.get('round')} server_stats")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--loadgen":
        sys.exit(self_test(sys.argv[2], sys.argv[3]))
    if len(sys.argv) == 5 and sys.argv[1] == "--server":
        sys.exit(server_test(sys.argv[2], sys.argv[3], sys.argv[4]))
    if len(sys.argv) == 3 and sys.argv[1] == "--run":
        sys.exit(run_test(sys.argv[2]))
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(validate(sys.argv[1], sys.argv[2:]))
