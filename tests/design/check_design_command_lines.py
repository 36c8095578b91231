#!/usr/bin/python3
"""docs/design.md's "Command lines" against the built binaries' --help.

  check_design_command_lines.py DESIGN_MD BUILD_DIR

Each subsection of "## Command lines" names the options of one command; every
option its --help lists must be named there, and every option named there
must be in its --help. "### Servers" holds the options every server shares;
"### Model options" has one table row per server that has options of its own
(a server missing from the table has none). Exit 1 naming each difference.
"""
import json
import os
import re
import subprocess
import sys

# Subsection title -> the command (argv after BUILD_DIR/) whose --help it mirrors.
COMMANDS = {
    "loadgen": ["loadgen"],
    "harness run": ["harness", "run"],
    "harness compare": ["harness", "compare"],
    "harness ab": ["harness", "ab"],
    "harness micro": ["harness", "micro"],
    "harness cost": ["harness", "cost"],
}
OPTION_IN_HELP = re.compile(r"^  (?:-[A-Za-z0-9] \[ )?--([a-z0-9][a-z0-9-]*)")  # option lines: two spaces in
OPTION_IN_DOC = re.compile(r"(?<![\w-])--([a-z0-9][a-z0-9-]*)")


def help_options(build, argv):
    out = subprocess.run([os.path.join(build, argv[0])] + argv[1:] + ["--help"], capture_output=True,
                         text=True, timeout=30)
    return {m.group(1) for line in (out.stdout + out.stderr).splitlines() if (m := OPTION_IN_HELP.match(line))}


def subsections(design_md):
    text = open(design_md).read()
    start = text.index("\n## Command lines")
    end = text.find("\n## ", start + 1)
    part = text[start:end if end >= 0 else None]
    titles = list(re.finditer(r"^### (.+)$", part, re.M))
    for i, t in enumerate(titles):
        body = part[t.end():titles[i + 1].start() if i + 1 < len(titles) else None]
        yield t.group(1).replace("`", "").strip(), body


def compare(what, documented, actual):
    problems = []
    for o in sorted(actual - documented):
        problems.append(f"{what}: --{o} is in its --help but not in docs/design.md")
    for o in sorted(documented - actual):
        problems.append(f"{what}: docs/design.md names --{o}, which its --help does not list")
    return problems


def main(design_md, build):
    servers = [s["name"] for s in json.load(open(os.path.join(build, "servers.json")))]
    per_server = {s: help_options(build, [s]) for s in servers}
    common = set.intersection(*per_server.values())
    seen, problems = set(), []
    for title, body in subsections(design_md):
        seen.add(title)
        if title == "Servers":
            problems += compare("every server", set(OPTION_IN_DOC.findall(body)), common)
        elif title == "Model options":
            rows = {m.group(1): set(OPTION_IN_DOC.findall(m.group(2)))
                    for m in re.finditer(r"^\| `([a-z0-9_]+)` \|(.*)$", body, re.M)}
            for s in servers:
                problems += compare(s, rows.get(s, set()), per_server[s] - common)
            problems += [f"docs/design.md's model options name {s}, which is not in servers.json"
                         for s in rows if s not in per_server]
        elif title in COMMANDS:
            problems += compare(title, set(OPTION_IN_DOC.findall(body)), help_options(build, COMMANDS[title]))
    problems += [f"docs/design.md has no subsection '### {t}' under Command lines"
                 for t in ["Servers", "Model options", *COMMANDS] if t not in seen]
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
