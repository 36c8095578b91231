"""docs/models.md, the one place each model's explanation lives: a
`## name` section with a few lines of text and a `Per message:` line with the
syscall sequence in backticks."""
import os
import re

from . import ROOT

DOC = os.path.join(ROOT, "docs", "models.md")


def load_models_doc(path=DOC):
    """{name: {"lines": [str], "per_message": str, "note": str}}; {} when the
    file is missing (the report then says so in each panel)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return {}
    out = {}
    for block in re.split(r"^## ", text, flags=re.M)[1:]:
        head, _, body = block.partition("\n")
        name = head.strip()
        lines, per, note = [], "", ""
        for line in body.splitlines():
            line = line.strip()
            m = re.match(r"^Per message:\s*`([^`]*)`\s*(.*)$", line)
            if m:
                per, note = m.group(1), m.group(2).strip()
            elif line:
                lines.append(line)
        out[name] = {"lines": lines, "per_message": per, "note": note}
    return out
