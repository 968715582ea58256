#!/usr/bin/env python3
"""Write the assignment file's reference into docs/instructors.md from the schema (grader/assignment_schema.py).

    python scripts/assignment_reference.py          # rewrite the generated table
    python scripts/assignment_reference.py --check  # exit 1 when the doc is not current
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "instructors.md"


def current(text: str) -> str:
    """The doc with its generated table replaced by the schema's."""
    from grader.assignment_schema import REFERENCE_END, REFERENCE_START, reference_markdown
    start, end = text.index(REFERENCE_START), text.index(REFERENCE_END) + len(REFERENCE_END)
    return text[:start] + reference_markdown() + text[end:]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when the doc is not current")
    args = parser.parse_args(argv)
    text = DOC.read_text(encoding="utf-8")
    wanted = current(text)
    if args.check:
        if wanted != text:
            print(f"{DOC.relative_to(ROOT)} is not current: run python scripts/assignment_reference.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
