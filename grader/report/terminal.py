"""Compact terminal summary: a table of checks, the total, what to fix first, where the full report is."""
from __future__ import annotations

import os
import sys
import textwrap

from grader import i18n
from grader.report import (
    exercise_status,
    fix_first,
    fmt_points,
    sanitize,
    seed_note,
    status_label,
    summary_line,
)
from grader.results import ERROR, FAILED, NOT_ATTEMPTED, PASSED, SKIPPED

_SYMBOLS = {PASSED: "✓", FAILED: "✗", ERROR: "!", SKIPPED: "-", NOT_ATTEMPTED: "·"}
# Windows consoles and LANG=C pipes cannot always encode the symbols above.
_ASCII = {PASSED: "+", FAILED: "x", ERROR: "!", SKIPPED: "-", NOT_ATTEMPTED: "."}
_COLORS = {PASSED: "32", FAILED: "31", ERROR: "31", SKIPPED: "33", NOT_ATTEMPTED: "33"}
_FIX_LIMIT = 5


def _(text: str) -> str:
    return i18n._(text)


def use_color(color: bool | None = None, stream=None) -> bool:
    """Colour when asked or when the stream is a TTY, never when NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR"):
        return False
    if color is not None:
        return color
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)()) and os.environ.get("TERM") != "dumb"


def _can_encode(text: str, stream=None) -> bool:
    encoding = getattr(stream or sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def _flat(text) -> str:
    """Student text on one line (a newline in a title would break the table)."""
    return " ".join(sanitize(text).split())


def _fit(text: str, width: int) -> str:
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"


def _row(left: str, right: str, width: int) -> str:
    """`left` truncated so that `right` ends exactly at `width` columns."""
    left = _fit(left, width - len(right) - 1)
    return left + " " * (width - len(left) - len(right)) + right


def render_terminal(result, color: bool | None = None, width: int = 80, report_path=None) -> str:
    width = max(width, 40)
    colored = use_color(color)
    symbols = _SYMBOLS if _can_encode("".join(_SYMBOLS.values()) + "…─") else _ASCII
    rule = ("─" if symbols is _SYMBOLS else "-") * width

    def paint(text, code):
        return f"\x1b[{code}m{text}\x1b[0m" if colored and code else text

    lines = []
    title = _("Grading report") + (f": {_flat(result.assignment)}" if result.assignment else "")
    lines.append(paint(_fit(title, width), "1"))
    lines.append(_fit(_("Submission: %(s)s") % {"s": _flat(result.submission)}, width))
    lines += textwrap.wrap(seed_note(result.seed_kind), width)
    for error in result.errors:
        for line in textwrap.wrap(sanitize(error), width - 2) or [""]:
            lines.append(paint("! " + line, "31"))
    lines.append(rule)

    status_width = max(len(status_label(s)) for s in _SYMBOLS)
    for exercise in result.exercises:
        points = f"{fmt_points(exercise.score)}/{fmt_points(exercise.max_score)}"
        ex_status = exercise_status(exercise)
        name = _flat(exercise.title or exercise.id)
        if exercise.title and exercise.title != exercise.id:
            name += f" ({_flat(exercise.id)})"
        head = _row(f"{symbols[ex_status]} {name}", points, width)
        lines.append(paint(head, "1"))
        for check in exercise.checks:
            points = f"{fmt_points(check.score)}/{fmt_points(check.max_score)}"
            label = f"{symbols.get(check.status, '?')} {status_label(check.status):<{status_width}}"
            text = _row(f"  {label} {_flat(check.name)}", points, width)
            # Colour only the status part so the row stays readable; escapes add no columns.
            prefix = f"  {label}"
            lines.append(paint(prefix, _COLORS.get(check.status)) + text[len(prefix):])
    lines.append(rule)

    total = f"{fmt_points(result.raw_score)}/{fmt_points(result.max_score)}"
    lines.append(paint(_row(_("Total"), total, width), "1"))
    if result.penalty:
        lines.append(_row(_("Penalty"), f"-{fmt_points(result.penalty)}", width))
        lines.append(paint(_row(_("Score"), f"{fmt_points(result.score)}/{fmt_points(result.max_score)}",
                                width), "1"))

    todo = fix_first(result)
    if todo:
        lines += ["", paint(_("Fix first:"), "1")]
        for n, check in enumerate(todo[:_FIX_LIMIT], 1):
            first = f"{n}. "
            pad = " " * len(first)
            lines += textwrap.wrap(f"{_flat(check.name)} ({_flat(check.exercise)}): {summary_line(check)}", width,
                                   initial_indent=first, subsequent_indent=pad)
            if check.hint:
                lines += textwrap.wrap(_("Hint: %(h)s") % {"h": _flat(check.hint.text)},
                                       width, initial_indent=pad, subsequent_indent=pad)
            if check.location:
                lines.append(_fit(pad + _("at %(w)s") % {"w": _flat(check.location.describe())}, width))
        if len(todo) > _FIX_LIMIT:
            more = len(todo) - _FIX_LIMIT
            lines.append(i18n.ngettext("… and %(n)d more check to fix", "… and %(n)d more checks to fix",
                                       more) % {"n": more})
    elif result.exercises:
        lines += ["", paint(_("All checks passed."), "32")]

    if report_path is not None:
        line = _("Full report: %(p)s") % {"p": report_path}
        # A path is only useful whole (to click or copy), so a long one gets its own line rather
        # than being cut; it may then be the one line wider than `width`.
        lines += ["", line] if len(line) <= width else ["", _("Full report:"), str(report_path)]
    return "\n".join(lines) + "\n"
