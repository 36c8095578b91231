#!/usr/bin/python3
"""Validate JSON files against a JSON Schema (python3-jsonschema).

  validate_schema.py SCHEMA FILE...          exit 0 when every file validates
  validate_schema.py --loadgen BIN SCHEMA    run BIN against a throwaway echo
                                             server on 127.0.0.1 (closed loop,
                                             open loop, merge) and validate each
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

import jsonschema


def validate(schema_path, files):
    with open(schema_path) as f:
        schema = json.load(f)
    validator = jsonschema.Draft7Validator(schema)
    bad = 0
    for path in files:
        with open(path) as f:
            doc = json.load(f)
        errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        for e in errors[:10]:
            print(f"{path}: {'/'.join(map(str, e.path))}: {e.message}", file=sys.stderr)
        bad += bool(errors)
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


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--loadgen":
        sys.exit(self_test(sys.argv[2], sys.argv[3]))
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(validate(sys.argv[1], sys.argv[2:]))
