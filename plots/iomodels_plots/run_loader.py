"""The one reader of run.json (and of the loadgen's result JSON) on the Python side.

Every Python reader of a run goes through load_run(): it checks the schema
version, validates the file against results/schema/run.schema.json and gives
every case its "server", "variant" ("" when the suite ran the server as built)
and "case_id" ("echo/c16/s64"). A run written before the harness stored
case_id and variant gets them derived here, in derive_case_fields(), and
nowhere else: no other code takes a case name apart.

The names of the fields the readers need (requests per second, p99, server
CPU per request) are written here once too; readers ask median(case),
paired(case), round_value(rep) or loadgen_throughput(result) instead of
spelling the keys.

Inside the package import it as `from .run_loader import ...`; from elsewhere
put plots/ on PYTHONPATH and import `iomodels_plots.run_loader`."""
import json
import os

from . import ROOT

RUN_SCHEMA_VERSION = "iomodels.run/2"
RUN_SCHEMA = os.path.join(ROOT, "results", "schema", "run.schema.json")
LOADGEN_SCHEMA = os.path.join(ROOT, "results", "schema", "loadgen.schema.json")

THROUGHPUT = "requests_per_s"
P99 = "p99_us"
SERVER_CPU = "server_cpu_us_per_request"


class RunError(Exception):
    """A run (or loadgen result) that cannot be read; the message says which
    file, where in it, and why."""


_validators = {}


def _validator(schema_path):
    if schema_path not in _validators:
        try:
            import jsonschema
        except ImportError as e:
            raise RunError(f"checking a run needs python3-jsonschema (Debian's, seen by /usr/bin/python3): {e}")
        with open(schema_path) as f:
            schema = json.load(f)
        cls = jsonschema.validators.validator_for(schema)
        _validators[schema_path] = cls(schema)
    return _validators[schema_path]


def _validate(doc, schema_path, source):
    errors = sorted(_validator(schema_path).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise RunError(f"{source}: does not match {os.path.relpath(schema_path, ROOT)} at {where}: "
                       f"{first.message[:300]}{more}")


def _read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read {path}: {e}")


FIXED_LOAD_PREFIX = "fixed-load/"  # harness ab's fixed-load tier prefixes it to the name only


def derive_case_fields(case):
    """(variant, case_id) of a case record that lacks them, from its name and
    server: "io_uring[--setup plain]/echo/c16/s64" with server "io_uring" is
    ("--setup plain", "echo/c16/s64"); a "/" inside the brackets ("[A/A]")
    belongs to the variant. docs/harness.md, "Case names", has the rule."""
    name, server = case["name"], case["server"]
    if name.startswith(FIXED_LOAD_PREFIX):
        name = name[len(FIXED_LOAD_PREFIX):]
    rest = name[len(server):] if name.startswith(server) else None
    if rest and rest.startswith("["):
        close = rest.find("]/")
        if close > 0:
            return rest[1:close], rest[close + 2:]
    elif rest and rest.startswith("/") and len(rest) > 1:
        return "", rest[1:]
    raise RunError(f"case {case['name']!r}: its name is not \"{server}[variant]/case\" or \"{server}/case\"")


def row_of(case):
    """The row a case belongs to in tables and figures: its server, or the
    server with its variant ("io_uring[--setup plain]", "epoll_lt[A/A]")."""
    return case["server"] + (f"[{case['variant']}]" if case.get("variant") else "")


def checked(run, source="run"):
    """`run` (already parsed) checked and completed as load_run() does; returns it."""
    if not isinstance(run, dict):
        raise RunError(f"{source}: not a JSON object")
    version = run.get("schema")
    if version != RUN_SCHEMA_VERSION:
        raise RunError(f"{source} is schema {version!r}; this reads {RUN_SCHEMA_VERSION} only "
                       f"(a newer run needs a newer plots/, an older one the plots/ of its time)")
    for i, c in enumerate(run.get("cases") or []):
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not isinstance(c.get("server"), str):
            continue  # the schema check below names what is missing
        variant, case_id = derive_case_fields(c)
        if "case_id" not in c and "variant" not in c:
            c["variant"], c["case_id"] = variant, case_id
        elif (c.get("variant"), c.get("case_id")) != (variant, case_id):
            raise RunError(f"{source}: cases/{i}: name {c['name']!r} says variant {variant!r} and case "
                           f"{case_id!r}, the record says {c.get('variant')!r} and {c.get('case_id')!r}")
    _validate(run, RUN_SCHEMA, source)
    return run


def load_run(path):
    """The run of a results folder (or of a run.json path), checked against
    the schema, every case with "server", "variant" and "case_id"."""
    if os.path.isdir(path):
        path = os.path.join(path, "run.json")
    return checked(_read_json(path), path)


def load_loadgen(path):
    """A loadgen result (iomodels.loadgen/1), checked against its schema."""
    doc = _read_json(path)
    _validate(doc, LOADGEN_SCHEMA, path)
    return doc


def median(case, metric=THROUGHPUT):
    """The case's median of `metric` over its rounds, or None."""
    v = (case.get("aggregate") or {}).get(metric)
    return v.get("median") if isinstance(v, dict) else None


def spread(case, metric=THROUGHPUT):
    """(min, max) of `metric` over the case's rounds, or None."""
    v = (case.get("aggregate") or {}).get(metric)
    return (v.get("min"), v.get("max")) if isinstance(v, dict) and "min" in v else None


def paired(case, metric=THROUGHPUT):
    """The harness's paired ratio of `metric` to the reference, as
    {"median", "lo", "hi", "min", "max", "n", "confidence"} (lo..hi is the
    interval, min..max the per-round ratios' range, confidence None when the
    harness stated none), or None when the run has none for this case."""
    r = ((case.get("aggregate") or {}).get("paired_ratio") or {}).get(metric)
    if not isinstance(r, dict):
        return None
    return {k: r.get(k) for k in ("median", "lo", "hi", "min", "max", "n", "confidence")}


def paired_reference(run):
    """The server the run's paired ratios divide by, or None."""
    return next((c["aggregate"]["paired_ratio"].get("reference") for c in run["cases"]
                 if (c.get("aggregate") or {}).get("paired_ratio")), None)


def round_value(rep, metric=THROUGHPUT):
    """One repetition's figure of `metric`, or None."""
    if metric == THROUGHPUT:
        return loadgen_throughput(rep.get("loadgen") or {})
    if metric == P99:
        return (rep.get("loadgen") or {}).get("latency_us", {}).get("p99")
    if metric == SERVER_CPU:
        return (rep.get("server_cpu") or {}).get("us_per_request")
    return None


def loadgen_throughput(result):
    """Requests per second of a loadgen result (its summary), or None."""
    return (result.get("summary") or {}).get(THROUGHPUT)
