"""JUnit XML, for CI systems that annotate test results (GitHub Actions, GitLab, Jenkins)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from grader.report import check_text, fmt_points, sanitize, summary_line
from grader.results import ERROR, FAILED, NOT_ATTEMPTED, SKIPPED

# Which JUnit element a status becomes. A function not attempted costs points, so CI should show it
# as a failure, not hide it as skipped.
_ELEMENT = {FAILED: "failure", NOT_ATTEMPTED: "failure", ERROR: "error", SKIPPED: "skipped"}


def _clean(text) -> str:
    # sanitize() removes what XML 1.0 forbids (C0 controls but tab/newline, surrogates, U+FFFE/F)
    # along with terminal escapes; ElementTree escapes the rest.
    return sanitize(text)


def render_junit(result) -> str:
    checks = list(result.checks())
    counts = {kind: sum(_ELEMENT.get(c.status) == kind for c in checks) for kind in ("failure", "error", "skipped")}
    attrs = {
        "tests": str(len(checks)),
        "failures": str(counts["failure"]),
        "errors": str(counts["error"]),
        "time": f"{result.duration_s:.3f}",
    }
    name = _clean(result.assignment or "nn-autograder")
    # The common JUnit schema (Jenkins' junit-10.xsd, tests/schemas/) allows `skipped` on a testsuite only.
    root = ET.Element("testsuites", {"name": name, **attrs})
    suite = ET.SubElement(root, "testsuite", {"name": name, **attrs, "skipped": str(counts["skipped"])})
    props = ET.SubElement(suite, "properties")
    for key, value in (("submission", result.submission), ("seed_kind", result.seed_kind),
                       ("grader_version", result.grader_version),
                       ("score", f"{fmt_points(result.score)}/{fmt_points(result.max_score)}")):
        ET.SubElement(props, "property", {"name": key, "value": _clean(value)})

    seen: dict[tuple[str, str], int] = {}
    for check in checks:
        key = (check.exercise, check.name)
        seen[key] = seen.get(key, 0) + 1
        test_name = check.name if seen[key] == 1 else f"{check.name} ({seen[key]})"
        case = ET.SubElement(suite, "testcase", {
            "classname": _clean(check.exercise), "name": _clean(test_name), "time": f"{check.duration_s:.3f}"})
        element = _ELEMENT.get(check.status)
        if element:
            points = f"{fmt_points(check.score)}/{fmt_points(check.max_score)}"
            child = ET.SubElement(case, element, {
                "message": f"{summary_line(check)} ({points})", "type": check.status})
            if element != "skipped":
                child.text = _clean(check_text(check, stdout_limit=0))  # output goes to system-out
        if check.stdout.strip():
            ET.SubElement(case, "system-out").text = _clean(check.stdout)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
