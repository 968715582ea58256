"""The class summary (OUT/summary.html): where the class struggled, from the batch's records.

- the score distribution and counts by status,
- the pass rate of every check, hardest first,
- the most frequent hints (catalogued mistakes and recognised error shapes),
- groups of submissions with identical wrong outputs, and with near-identical code: hints for the
  instructor to look at together, never verdicts,
- the slowest submissions, and those that could not be graded.
"""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict

from ..report import atomic_write_text
from . import similarity

BINS = 10
TOP = 10


def _distribution(percents: list[float]) -> list[dict]:
    counts = [0] * BINS
    for p in percents:
        counts[min(BINS - 1, int(p // (100 / BINS)))] += 1
    width = 100 // BINS
    from ..report import fmt_percent
    return [{"label": f"{fmt_percent(i * width / 100)}–{fmt_percent((i + 1) * width / 100)}", "count": c,
             "share": 100.0 * c / max(1, len(percents))} for i, c in enumerate(counts)]


def build(records: list[dict], table: list[dict], title: str) -> dict:
    """The summary's data (also handy as JSON); `table` holds the gradebook rows, aligned with records."""
    scores = [float(row["score"]) for row in table]
    percents = [100.0 * float(row["score"]) / float(record["max_score"]) if record["max_score"] else 0.0
                for row, record in zip(table, records)]
    graded = [r for r in records if r["status"] != "error"]

    per_check: dict[tuple, dict] = {}
    hints: Counter = Counter()
    hint_checks: dict[tuple, set] = defaultdict(set)
    for record in graded:
        for check in record["checks"]:
            entry = per_check.setdefault((check["exercise"], check["check"]),
                                         {"exercise": check["exercise"], "check": check["check"], "total": 0,
                                          "passed": 0, "points": 0.0, "max_score": check["max_score"]})
            entry["total"] += 1
            entry["passed"] += check["status"] == "passed"
            entry["points"] += check["score"]
            if check["status"] != "passed" and check.get("hint"):
                key = (check["hint"], check.get("hint_text") or "")
                hints[key] += 1
                hint_checks[key].add(check["check"])
    checks = sorted(({**e, "rate": 100.0 * e["passed"] / e["total"], "mean": e["points"] / e["total"]}
                     for e in per_check.values()), key=lambda e: (e["rate"], e["exercise"], e["check"]))

    same_output: dict[str, list[str]] = defaultdict(list)
    for record in graded:
        if record.get("wrong_outputs"):
            same_output[record["wrong_outputs"]].append(record["submission"])
    return {
        "title": title,
        "count": len(records),
        "statuses": dict(Counter(r["status"] for r in records)),
        "mean": statistics.fmean(scores) if scores else 0.0,
        "median": statistics.median(scores) if scores else 0.0,
        "min": min(scores, default=0.0),
        "max": max(scores, default=0.0),
        "max_score": max((r["max_score"] for r in records), default=0.0),
        "distribution": _distribution(percents),
        "checks": checks,
        "hints": [{"code": code, "text": text, "count": n, "checks": sorted(hint_checks[(code, text)])}
                  for (code, text), n in hints.most_common(TOP)],
        "same_wrong_outputs": sorted((sorted(m) for m in same_output.values() if len(m) > 1),
                                     key=lambda m: (-len(m), m)),
        "similar_code": similarity.similar_groups({r["submission"]: set(r.get("shingles") or ()) for r in records}),
        "slowest": sorted(({"submission": r["submission"], "duration_s": r.get("duration_s", 0.0),
                            "status": r["status"]} for r in records), key=lambda r: -r["duration_s"])[:TOP],
        "problems": [{"submission": r["submission"], "status": r["status"], "message": r.get("message", "")}
                     for r in records if r["status"] != "graded"],
    }


def render(data: dict) -> str:
    from ..report.html import environment
    return environment().get_template("summary.html.j2").render(summary=data)


def write(path, data: dict):
    return atomic_write_text(path, render(data))
