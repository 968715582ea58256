"""Gradescope's autograder results.json (one test per check)."""
from __future__ import annotations

import json

from grader import i18n
from grader.report import atomic_write_text, check_text, clip, sanitize, seed_note
from grader.results import PASSED, VISIBILITIES

OUTPUT_LIMIT = 8000  # per test; Gradescope pages get slow and results.json has a size cap


def _score(x: float) -> float:
    # 1/3 of a point reads as 0.3333 rather than 0.3333333333333333.
    return round(float(x), 4)


def _unique(name: str, seen: dict[str, int]) -> str:
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name} ({seen[name]})"


def to_gradescope(result) -> dict:
    seen: dict[str, int] = {}
    tests = []
    for check in result.checks():
        tests.append({
            "name": _unique(f"{check.exercise}: {check.function} [{check.kind}]", seen),
            "name_format": "text",
            "score": _score(check.score),
            "max_score": _score(check.max_score),
            "status": "passed" if check.status == PASSED else "failed",
            "output": clip(check_text(check), OUTPUT_LIMIT),
            "output_format": "text",
            "visibility": check.visibility if check.visibility in VISIBILITIES else "visible",
            "tags": [check.exercise, check.kind],
            "extra_data": {"function": check.function, "status": check.status,
                           "duration_s": round(check.duration_s, 3)},
        })

    summary = [seed_note(result.seed_kind)]
    if result.errors:
        summary += ["", i18n._("Problems with your submission:")] + [sanitize(e) for e in result.errors]
    if result.notes:
        summary += ["", i18n._("How your files were loaded:")] + [f"- {sanitize(n)}" for n in result.notes]
    if result.penalty:
        summary += ["", i18n._("Penalty: %(p)s points") % {"p": _score(result.penalty)}]

    data = {
        "execution_time": round(float(result.duration_s), 3),
        "output": "\n".join(summary),
        "output_format": "text",
        "test_output_format": "text",
        "test_name_format": "text",
        # Instructors may hide a whole run (e.g. private seeds until grades are published).
        "visibility": result.extra.get("visibility") if result.extra.get("visibility") in VISIBILITIES
        else "visible",
        "tests": tests,
        "extra_data": {
            "seed_kind": result.seed_kind,
            "grader_version": result.grader_version,
            "assignment": result.assignment,
            "language": result.language,
            "protections": dict(result.protections),
            "raw_score": _score(result.raw_score),
            "penalty": _score(result.penalty),
        },
    }
    # Gradescope sums the tests unless a top-level score is given; give one only when a penalty
    # makes the grade differ from that sum.
    if result.penalty:
        data["score"] = _score(result.score)
    return data


def write_results_json(result, path):
    return atomic_write_text(path, json.dumps(to_gradescope(result), indent=2, ensure_ascii=False) + "\n")
