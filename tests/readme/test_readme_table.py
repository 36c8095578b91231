#!/usr/bin/python3
"""README and baseline agree: the README's results table and the notes under
its figures are exactly what `plots/table.py --markdown` renders from the
baseline its marker names, and a README whose table or notes were edited by
hand (or left behind by a new baseline) fails.

usage: test_readme_table.py SOURCE_DIR"""
import os
import subprocess
import sys
import tempfile


def check(table_py, readme):
    return subprocess.run(["/usr/bin/python3", table_py, "--markdown", "--check", readme],
                          capture_output=True, text=True)


def main(argv):
    src = argv[1]
    table_py = os.path.join(src, "plots", "table.py")
    readme = os.path.join(src, "README.md")
    r = check(table_py, readme)
    if r.returncode != 0:
        print(r.stdout + r.stderr, file=sys.stderr)
        print("FAIL: README.md and its baseline disagree", file=sys.stderr)
        return 1
    # The check must be able to fail: change one cell and expect exit 1.
    text = open(readme).read()
    start = text.index("<!-- results-table: generated")
    row = text.index("\n| ", text.index("|---|", start)) + 1
    edited = text[:row] + text[row:].replace(" / ", " / 1", 1)
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as f:
        f.write(edited)
    try:
        r2 = check(table_py, f.name)
    finally:
        os.unlink(f.name)
    if r2.returncode != 1 or "differ" not in r2.stderr:
        print(f"FAIL: an edited table was not caught (exit {r2.returncode}): {r2.stdout}{r2.stderr}", file=sys.stderr)
        return 1
    # And a figure in the generated notes edited by hand.
    notes = text.index("<!-- results-notes: generated")
    digit = next(i for i in range(text.index("\n- ", notes), len(text)) if text[i].isdigit())
    edited = text[:digit] + str((int(text[digit]) + 1) % 10) + text[digit + 1:]
    with tempfile.NamedTemporaryFile("w", suffix=".md", delete=False) as f:
        f.write(edited)
    try:
        r3 = check(table_py, f.name)
    finally:
        os.unlink(f.name)
    if r3.returncode != 1:
        print(f"FAIL: an edited note was not caught (exit {r3.returncode})", file=sys.stderr)
        return 1
    print(r.stdout.strip() + "; an edited table cell and an edited note are caught")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
