#!/usr/bin/python3
"""Every server in the list (build/servers.json, written from
servers/CMakeLists.txt) is documented, and its one-line description (the
list's SUMMARY) is written in one place only:
  - docs/models.md has its `## NAME` section, with a `Per message:` line;
  - the README's model table has its row, exactly "| `NAME` | SUMMARY |";
  - its source file's first line is "// NAME — SUMMARY";
  - a source over 250 lines says why in its section ("Longer than 250 lines:");
and neither docs/models.md nor the README's table names a server that is not
in the list. Each problem is printed with the server and what is missing.

usage: check_server_docs.py SERVERS_JSON SOURCE_DIR   (exit 0 all there, 1 not, 2 usage)"""
import json
import os
import re
import sys

MAX_MODEL_LINES = 250
WHY_LONGER = "Longer than 250 lines:"


def model_sections(path):
    """{name: section text} of docs/models.md."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        out[head.strip()] = body
    return out


def readme_rows(path):
    """{name: description} of the README's model table (the rows under "## The models")."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    part = text.split("\n## The models", 1)
    if len(part) < 2:
        return None
    rows = {}
    for line in part[1].split("\n## ", 1)[0].splitlines():
        m = re.fullmatch(r"\|\s*`([^`]+)`\s*\|(.*)\|\s*", line)
        if m:
            rows[m.group(1)] = m.group(2).strip()
    return rows


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    servers_json, root = argv[1], argv[2]
    with open(servers_json, encoding="utf-8") as f:
        servers = json.load(f)
    docs_path = os.path.join(root, "docs", "models.md")
    readme_path = os.path.join(root, "README.md")
    sections = model_sections(docs_path)
    rows = readme_rows(readme_path)
    errors = []
    if rows is None:
        errors.append(f"README.md: no '## The models' table")
        rows = {}
    listed = [s["name"] for s in servers]
    for s in servers:
        name, summary = s["name"], s.get("summary", "")
        if not summary:
            errors.append(f"{name}: no SUMMARY in the list (servers/CMakeLists.txt)")
        section = sections.get(name)
        if section is None:
            errors.append(f"{name}: no '## {name}' section in docs/models.md")
        elif not re.search(r"^Per message:\s*`", section, re.M):
            errors.append(f"{name}: its docs/models.md section has no 'Per message: `...`' line")
        if name not in rows:
            errors.append(f"{name}: no row in README.md's model table; add: | `{name}` | {summary} |")
        elif rows[name] != summary:
            errors.append(f"{name}: README.md's row says {rows[name]!r}, the list's SUMMARY {summary!r}")
        src = os.path.join(root, s["source"])
        try:
            with open(src, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            errors.append(f"{name}: cannot read {s['source']}: {e.strerror}")
            continue
        first = lines[0] if lines else ""
        if first != f"// {name} — {summary}":
            errors.append(f"{name}: {s['source']} line 1 is {first!r}, not '// {name} — {summary}'")
        if len(lines) > MAX_MODEL_LINES and section is not None and WHY_LONGER not in section:
            errors.append(f"{name}: {s['source']} has {len(lines)} lines (> {MAX_MODEL_LINES}) and its "
                          f"docs/models.md section does not say why ('{WHY_LONGER} ...')")
    for name in sections:
        if name not in listed:
            errors.append(f"docs/models.md: section '## {name}' names no listed server")
    for name in rows:
        if name not in listed:
            errors.append(f"README.md: model table row '{name}' names no listed server")
    for line in errors:
        print("server docs: " + line, file=sys.stderr)
    if not errors:
        print(f"server docs: {len(servers)} servers, each with its section, README row and description")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
