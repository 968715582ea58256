"""Reporters: every one renders a `GradeResult` and none recomputes a verdict.

This module holds the registry (`write_reports`) and the few text helpers all reporters share, so
the wording of a failure (index, errors, tolerance) is the same in the terminal, the HTML page,
results.json, Markdown and JUnit, and is translated once.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from grader import i18n
from grader.results import ERROR, FAILED, NOT_ATTEMPTED, PASSED, SKIPPED, CheckResult, Comparison

__all__ = [
    "FORMATS",
    "write_reports",
    "atomic_write_text",
    "sanitize",
    "clip",
    "fmt_points",
    "fmt_num",
    "fmt_percent",
    "fmt_index",
    "fix_first",
    "summary_line",
    "comparison_items",
    "status_label",
    "seed_note",
    "exercise_status",
    "case_messages",
    "case_text",
    "check_text",
]


def _(text: str) -> str:
    # Looked up at call time so a language activated after import still applies.
    return i18n._(text)


# --- sanitising student-controlled text -------------------------------------------------------

# ANSI CSI / OSC / two-character escapes: a student's print() must not recolour or retitle a
# terminal, and the bytes are noise in HTML, JSON and XML.
_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
# C0/C1 controls except tab and newline, DEL, lone surrogates (they cannot be encoded as UTF-8,
# so they would crash the write) and the two XML non-characters.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


# The grader's own temporary folders (the sandbox's working copy, an unpacked .zip): a path inside
# one is shown relative to the submission, as the student knows it.
_TEMP_ROOTS = "|".join(re.escape(p) for p in dict.fromkeys((tempfile.gettempdir(),
                                                             os.path.realpath(tempfile.gettempdir()))))
_INTERNAL = re.compile(rf"(?:{_TEMP_ROOTS})/(?:grader-sandbox-[^/\s'\"]+(?:/submission)?|grade-zip-[^/\s'\"]+"
                       rf"(?:/[^/\s'\"]+)?)(?:/|\b)")


def sanitize(text) -> str:
    """Text safe to show anywhere: no escape sequences, no control characters, newlines as \\n, no
    path inside the grader's temporary folders."""
    if text is None:
        return ""
    text = str(text).replace("\r\n", "\n").replace("\r", "\n")
    return _INTERNAL.sub("", _CONTROL.sub("", _ANSI.sub("", text)))


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, saying how much was cut (feedback must not flood a page)."""
    if len(text) <= limit:
        return text
    rest = len(text) - limit
    return text[:limit] + "\n… " + i18n.ngettext(
        "(%(n)d more character)", "(%(n)d more characters)", rest
    ) % {"n": rest}


# --- numbers ---------------------------------------------------------------------------------


def _decimal_symbol() -> str:
    """The decimal separator of the feedback's language (Babel's locale data): "," in Spanish."""
    from babel.numbers import get_decimal_symbol
    return get_decimal_symbol(i18n.current_language())


def fmt_points(x: float) -> str:
    """3.0, 2.5, 0.33 (3,0, 2,5, 0,33 in Spanish): at most two decimals, at least one."""
    s = f"{round(float(x), 2):.2f}".rstrip("0")
    return (s + "0" if s.endswith(".") else s).replace(".", _decimal_symbol())


def fmt_num(x, digits: int = 6) -> str:
    """A value as %g, with the language's decimal separator."""
    if x is None:
        return "—"
    if isinstance(x, float) or hasattr(x, "dtype"):
        return f"{float(x):.{digits}g}".replace(".", _decimal_symbol())
    return str(x)


def fmt_percent(fraction: float, digits: int = 0) -> str:
    """A share as the language writes percentages (Babel): 50%, 12.5% in English; 50 %, 12,5 % in Spanish."""
    from babel.numbers import format_percent
    return format_percent(round(float(fraction), digits + 2), locale=i18n.current_language(),
                          decimal_quantization=False)


def fmt_index(index) -> str:
    """NumPy indexing syntax, so a student can paste it: out[0, 3]."""
    if index is None:
        return "—"
    if len(index) == 0:
        return "[()]"
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def _fmt_shape(shape) -> str:
    return "—" if shape is None else "(" + ", ".join(str(int(s)) for s in shape) + ("," if len(shape) == 1 else "") + ")"


# --- shared wording --------------------------------------------------------------------------


def status_label(status: str) -> str:
    return {
        PASSED: _("passed"),
        FAILED: _("failed"),
        ERROR: _("error"),
        SKIPPED: _("skipped"),
        NOT_ATTEMPTED: _("not attempted"),
    }.get(status, status)


def seed_note(seed_kind: str) -> str:
    if seed_kind == "private":
        return _("Private inputs: this is the run that counts for your grade.")
    return _(
        "Practice inputs: the final grade uses different, private inputs, so passing here is "
        "necessary but not a guarantee."
    )


def exercise_status(exercise) -> str:
    """One status for an exercise: the worst of its checks, for the symbol next to its title."""
    statuses = {c.status for c in exercise.checks}
    for status in (ERROR, FAILED, NOT_ATTEMPTED, SKIPPED):
        if status in statuses:
            return status
    return PASSED


def fix_first(result) -> list[CheckResult]:
    """Checks that lost points, broken ones before missing ones, otherwise in grading order:
    earlier checks (interface, forward) often cause later ones to fail, so this order is fastest."""
    lost = [c for c in result.checks() if c.status in (FAILED, ERROR, NOT_ATTEMPTED)]
    return sorted(lost, key=lambda c: c.status == NOT_ATTEMPTED)


def summary_line(check: CheckResult) -> str:
    """One line saying what went wrong. For a traceback, its last line names the exception."""
    text = check.message or next((c.message for c in check.failed_cases() if c.message), "")
    lines = [line.strip() for line in sanitize(text).splitlines() if line.strip()]
    if not lines:
        return status_label(check.status)
    return lines[-1] if check.status == ERROR and len(lines) > 1 else lines[0]


def comparison_items(cmp: Comparison | None) -> list[tuple[str, str]]:
    """(label, value) pairs describing a comparison; only the facts that are known."""
    if cmp is None:
        return []
    items = []
    if cmp.expected_shape is not None or cmp.actual_shape is not None:
        if cmp.expected_shape != cmp.actual_shape or cmp.reason == "shape":
            items.append((_("Shape"), _("expected %(e)s, got %(a)s") % {
                "e": _fmt_shape(cmp.expected_shape), "a": _fmt_shape(cmp.actual_shape)}))
    if cmp.actual_dtype and cmp.reason in ("dtype", "type"):
        items.append((_("Type you returned"), sanitize(cmp.actual_dtype)))
    if cmp.worst_index is not None or cmp.expected_at_worst is not None:
        items.append((_("Worst element %(i)s") % {"i": fmt_index(cmp.worst_index)},
                      _("expected %(e)s, got %(a)s") % {
                          "e": fmt_num(cmp.expected_at_worst), "a": fmt_num(cmp.actual_at_worst)}))
    if cmp.max_abs_error is not None or cmp.max_rel_error is not None:
        relative = fmt_num(cmp.max_rel_error, 3) if cmp.max_rel_error is not None else _("not defined")
        items.append((_("Largest error"), _("absolute %(a)s, relative %(r)s") % {
            "a": fmt_num(cmp.max_abs_error, 3), "r": relative}))
    if cmp.n_mismatched is not None and cmp.n_total:
        items.append((_("Elements off"), _("%(n)d of %(t)d (%(p)s%%)") % {
            "n": cmp.n_mismatched, "t": cmp.n_total, "p": f"{100 * cmp.n_mismatched / cmp.n_total:.3g}"}))
    if cmp.rtol is not None or cmp.atol is not None:
        items.append((_("Tolerance"), "rtol=%s, atol=%s" % (fmt_num(cmp.rtol, 3), fmt_num(cmp.atol, 3))))
    return items


def case_messages(case) -> list[str]:
    """The case's messages worth showing next to `comparison_items` (sanitized)."""
    cmp = case.comparison
    out = []
    if case.message and not (cmp and case.message == cmp.message):
        out.append(sanitize(case.message))
    # The comparison's one-liner repeats comparison_items; keep it only when it says something else.
    if cmp and cmp.message and (not comparison_items(cmp) or cmp.reason in ("nonfinite", "type")):
        out.append(sanitize(cmp.message))
    return out


def case_text(case, indent: str = "  ") -> list[str]:
    """Plain-text lines for one failed case (results.json, JUnit, Markdown fallbacks)."""
    lines = [sanitize(case.label) or _("case")]
    if case.call:
        lines.append(indent + _("Call: %(c)s") % {"c": sanitize(case.call)})
    if case.output:
        lines.append(indent + _("Output: %(o)s") % {"o": sanitize(case.output)})
    for message in case_messages(case):
        lines += [indent + line for line in message.splitlines()]
    lines += [f"{indent}{label}: {value}" for label, value in comparison_items(case.comparison)]
    if case.hint:
        lines.append(indent + _("Hint: %(h)s") % {"h": sanitize(case.hint.text)})
    return lines


def check_text(check: CheckResult, max_cases: int = 3, stdout_limit: int = 2000) -> str:
    """Plain-text feedback for one check: message, location, hint, failed cases, captured output
    (omitted when stdout_limit is 0)."""
    lines = [sanitize(check.message)] if check.message else []
    if check.status != PASSED and check.location:
        lines.append(_("Where: %(w)s") % {"w": sanitize(check.location.describe())})
    if check.hint:
        lines.append(_("Hint: %(h)s") % {"h": sanitize(check.hint.text)})
    failed = check.failed_cases()
    if failed and check.status != PASSED:
        lines.append(_("Failed cases: %(n)d of %(t)d") % {"n": len(failed), "t": len(check.cases)})
        for case in failed[:max_cases]:
            lines += ["- " + line if i == 0 else "  " + line for i, line in enumerate(case_text(case))]
        if len(failed) > max_cases:
            more = len(failed) - max_cases
            lines.append(i18n.ngettext("… and %(n)d more failed case", "… and %(n)d more failed cases",
                                       more) % {"n": more})
    if stdout_limit and check.stdout.strip():
        lines += ["", _("Your code printed:"), clip(sanitize(check.stdout), stdout_limit)]
    return "\n".join(lines)


# --- writing ---------------------------------------------------------------------------------


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write via a temp file in the same folder + os.replace, so a reader (Gradescope, a browser,
    a CI step) never sees half a file even if grading is killed mid-write. The file is the owner's
    only (mkstemp's 0600) until replaced."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8", errors="replace"))


def _write_html(result, path):
    from grader.report.html import write_html
    return write_html(result, path)


def _write_json(result, path):
    from grader.report.gradescope import write_results_json
    return write_results_json(result, path)


def _write_md(result, path):
    from grader.report.markdown import render_markdown
    return atomic_write_text(path, render_markdown(result))


def _write_junit(result, path):
    from grader.report.junit import render_junit
    return atomic_write_text(path, render_junit(result))


# format -> (default file name, writer). Reporters are imported lazily: jinja2 and matplotlib are
# only paid for when their format is asked for.
FORMATS = {
    "html": ("report.html", _write_html),
    "json": ("results.json", _write_json),
    "md": ("report.md", _write_md),
    "junit": ("junit.xml", _write_junit),
}


def write_reports(result, out_dir, formats=("html", "json", "md"), junit_path=None) -> dict[str, Path]:
    """Write the requested reports into out_dir (JUnit to junit_path when given, which also turns
    it on). Returns {format: path}."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format(s) {unknown}; known: {sorted(FORMATS)}")
    out_dir = Path(out_dir)
    targets = {fmt: out_dir / FORMATS[fmt][0] for fmt in formats}
    if junit_path is not None:
        targets["junit"] = Path(junit_path)
    written = {}
    for fmt, path in targets.items():
        FORMATS[fmt][1](result, path)
        written[fmt] = Path(path)
    return written


def prepare(formats=("html", "json", "md")) -> None:
    """Import the reporters of these formats and compile the HTML report's templates now, so that
    write_reports is quick afterwards: grading calls this in a background thread, where it runs while
    the grader waits on the student's process."""
    import importlib
    modules = {"html": "grader.report.html", "json": "grader.report.gradescope", "md": "grader.report.markdown",
               "junit": "grader.report.junit"}
    for fmt in formats:
        importlib.import_module(modules[fmt])
    if "html" in formats:
        from grader.report.html import environment
        for name in ("report.html.j2", "report.css"):  # the report includes its stylesheet
            environment().get_template(name)
