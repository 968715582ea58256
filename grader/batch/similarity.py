"""Fingerprints for the class summary's "look at these together" hints (never verdicts):

- `code_shingles`: hashed k-grams of a submission's normalised Python tokens (comments, docstrings and
  layout dropped; local names replaced by one placeholder, attribute names kept), minus those of the
  starter kit that every student starts from. Near-identical code has a high Jaccard similarity.
- `wrong_output_key`: the facts of every failed comparison (which case, worst element, value there,
  largest error). The inputs are the same for the whole class, so equal keys mean equal wrong outputs.
"""
from __future__ import annotations

import hashlib
import io
import json
import keyword
import tokenize
import zlib
from pathlib import Path

K = 12  # tokens per shingle: long enough that common idioms alone do not make two files look alike
SIMILAR = 0.9  # Jaccard similarity from which two submissions are grouped
MIN_SHINGLES = 20  # fewer student-written shingles than this: too little code to compare


def python_sources(root: Path) -> list[str]:
    """The Python text of a submission: .py files and the code cells of notebooks."""
    root = Path(root)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    sources = []
    for path in files:
        try:
            if path.suffix == ".py":
                sources.append(path.read_text(encoding="utf-8", errors="replace"))
            elif path.suffix == ".ipynb":
                cells = json.loads(path.read_text(encoding="utf-8", errors="replace")).get("cells", [])
                for cell in cells:
                    if isinstance(cell, dict) and cell.get("cell_type") == "code":
                        source = cell.get("source", "")
                        sources.append("".join(source) if isinstance(source, list) else str(source))
        except (OSError, ValueError, AttributeError):
            continue
    return sources


def normalised_tokens(source: str) -> list[str]:
    out: list[str] = []
    line_start, after_dot = True, False
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            kind, text = token.type, token.string
            if kind in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                line_start = True
                continue
            if kind in (tokenize.COMMENT, tokenize.NL, tokenize.ENDMARKER, tokenize.ENCODING):
                continue
            if kind == tokenize.STRING:
                if line_start:  # a docstring (or a bare string statement): documentation, not code
                    continue
                text = "S"
            elif kind == tokenize.NAME and not keyword.iskeyword(text) and not after_dot:
                text = "N"  # renaming variables does not hide copied code
            out.append(text)
            line_start, after_dot = False, text == "."
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # an unfinished file still has its tokens up to the error
    return out


def shingles(sources: list[str]) -> set[int]:
    found: set[int] = set()
    for source in sources:
        tokens = normalised_tokens(source)
        for i in range(len(tokens) - K + 1):
            found.add(zlib.crc32(" ".join(tokens[i:i + K]).encode()))
    return found


def code_shingles(root: Path, starter: set[int] = frozenset()) -> list[int]:
    return sorted(shingles(python_sources(root)) - starter)


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def similar_groups(shingle_sets: dict[str, set[int]], threshold: float = SIMILAR) -> list[dict]:
    """Groups of submissions whose code is near-identical (connected by pairs at or above the threshold)."""
    names = sorted(n for n, s in shingle_sets.items() if len(s) >= MIN_SHINGLES)
    parent = {n: n for n in names}

    def root(n):
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n
    best: dict[str, float] = {}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            sa, sb = shingle_sets[a], shingle_sets[b]
            if min(len(sa), len(sb)) < threshold * max(len(sa), len(sb)):
                continue  # sizes alone rule out the threshold
            score = jaccard(sa, sb)
            if score >= threshold:
                parent[root(a)] = root(b)
                best[a], best[b] = max(best.get(a, 0), score), max(best.get(b, 0), score)
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(root(n), []).append(n)
    return sorted(({"members": m, "similarity": round(min(best[x] for x in m), 3)}
                   for m in groups.values() if len(m) > 1), key=lambda g: (-len(g["members"]), g["members"]))


def wrong_output_key(result) -> str | None:
    """A digest of every failed comparison of a GradeResult, or None when no output was wrong."""
    facts = []
    for check in result.checks():
        for case in check.cases:
            c = case.comparison
            if case.passed or c is None:
                continue
            facts.append([check.exercise, check.name, case.label, case.output, c.reason, c.actual_shape,
                          c.worst_index, _sig(c.actual_at_worst), _sig(c.max_abs_error), c.n_mismatched])
    if not facts:
        return None
    return hashlib.sha256(json.dumps(facts, default=str).encode()).hexdigest()[:16]


def _sig(x):
    """Six significant digits: equal outputs from the same code give equal keys across float noise."""
    return None if x is None else float(f"{float(x):.6g}")
