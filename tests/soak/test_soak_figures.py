"""The soak's verdicts (harness/soak/soak_figures.py) on hand-made series: a
flat run passes; memory or fds that grow, CPU per message that climbs, an
error, or a missing second each fail it, named.
Run: PYTHONPATH=harness/soak /usr/bin/python3 tests/soak/test_soak_figures.py"""
import json
import os
import subprocess
import sys
import tempfile
import types
import unittest

import soak_figures

MIN = 60_000_000_000


def fake_soak(out, minutes, rss=lambda m: 5000, fds=lambda m: 10, cpu_per_min=lambda m: 6e8):
    s = types.SimpleNamespace(name="srv", out=out, failure="")
    s.samples = [(m * MIN + k * 10_000_000_000, rss(m), fds(m), 8000, 12) for m in range(minutes) for k in range(6)]
    marks, total = [0], 0
    for m in range(minutes):
        total += cpu_per_min(m)
        marks.append(total)
    s.cpu_marks = marks
    return s


def write_loadgen(out, minutes, errors=0, missing=None):
    import json
    ts = [{"t_s": t, "requests": 200, "errors": 0, "buckets": [[50_000, 197], [90_000, 3]],
           "schedule_lag_p99_us": 30.0, "schedule_lag_max_us": 80.0}
          for t in range(1, minutes * 60 + 1) if t != missing]
    doc = {"summary": {"requests": 200 * len(ts), "errors": {"timeout": errors}, "lost": {"total": 0}, "unsent": 0},
           "timeseries": ts}
    with open(os.path.join(out, "srv.loadgen.json"), "w") as f:
        json.dump(doc, f)


def args(minutes):
    return types.SimpleNamespace(minutes=minutes, window=2, tolerance=5.0, gates=soak_figures.GATES, rate=200,
                                 connections=2, size=64, protocol="echo", warmup=0, server_args={})


class SoakVerdicts(unittest.TestCase):
    def judge(self, minutes=6, errors=0, missing=None, **kw):
        with tempfile.TemporaryDirectory() as out:
            write_loadgen(out, minutes, errors, missing)
            return soak_figures.judge(fake_soak(out, minutes, **kw), args(minutes))

    def test_flat_run_passes(self):
        v = self.judge()
        self.assertTrue(v["pass"], v["failed"])
        self.assertAlmostEqual(v["checks"]["cpu"]["first"], 6e8 / 1000 / 12000)
        self.assertEqual(v["minutes"][0]["p99_us"], 90.0)
        self.assertEqual(v["minutes"][-1]["loadgen_schedule_lag_p99_us"], 30.0)

    def test_the_table_again_from_a_finished_soak(self):
        rep = {"config": {"window_minutes": 1}, "loadavg": ["0.1", "0.2", "0.3"], "servers": [self.judge()],
               "pass": True}
        with tempfile.TemporaryDirectory() as out:
            path = os.path.join(out, "soak.json")
            with open(path, "w") as f:
                json.dump(rep, f)
            r = subprocess.run([sys.executable, soak_figures.__file__, path], capture_output=True, text=True,
                               timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, soak_figures.table(rep) + "\n"), r.stderr)
        self.assertIn("soak: pass", r.stdout)

    def test_growing_memory_fails(self):
        v = self.judge(rss=lambda m: 5000 * (1 + 0.03 * m))
        self.assertEqual(v["failed"], ["rss"])

    def test_leaking_fds_fail(self):
        v = self.judge(fds=lambda m: 10 + m)
        self.assertEqual(v["failed"], ["fds"])

    def test_climbing_cpu_per_message_fails(self):
        v = self.judge(cpu_per_min=lambda m: 6e8 * (1 + 0.04 * m))
        self.assertEqual(v["failed"], ["cpu"])

    def test_an_error_fails(self):
        self.assertEqual(self.judge(errors=1)["failed"], ["errors"])

    def test_a_missing_second_fails(self):
        v = self.judge(missing=200)
        self.assertEqual(v["failed"], ["series"])
        self.assertEqual(v["minutes"][3]["seconds_missing"], 1)


if __name__ == "__main__":
    unittest.main()
