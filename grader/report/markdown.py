"""Markdown report (report.md, GitHub step summary): the HTML report's content without pictures."""
from __future__ import annotations

import html
import re

from grader import i18n
from grader.report import (
    case_messages,
    clip,
    comparison_items,
    exercise_status,
    fix_first,
    fmt_index,
    fmt_num,
    fmt_points,
    sanitize,
    seed_note,
    status_label,
    summary_line,
)
from grader.results import ERROR, FAILED, NOT_ATTEMPTED, PASSED, SKIPPED

_SYMBOLS = {PASSED: "✅", FAILED: "❌", ERROR: "💥", SKIPPED: "⏭️", NOT_ATTEMPTED: "⬜"}
MAX_CASES = 3
STDOUT_LIMIT = 3000


def _(text: str) -> str:
    return i18n._(text)


def _text(value) -> str:
    """Student text inline: no HTML (GitHub renders it), no Markdown tables broken by | or newlines."""
    text = html.escape(" ".join(sanitize(value).split()), quote=False)
    return re.sub(r"([\\`*_\[\]|#])", r"\\\1", text)


def _code(value) -> str:
    """Inline code with a fence longer than any backtick run inside, so the student cannot close it."""
    text = " ".join(sanitize(value).split()).replace("|", "¦")  # a pipe would split a table cell
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _block(value) -> str:
    text = sanitize(value).rstrip("\n")
    fence = "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}text\n{text}\n{fence}"


def render_markdown(result) -> str:
    out = []
    title = _("Grading report") + (f": {_text(result.assignment)}" if result.assignment else "")
    out += [f"# {title}", ""]
    score = f"**{fmt_points(result.score)} / {fmt_points(result.max_score)}**"
    if result.penalty:
        score += " " + _("(%(raw)s earned, %(p)s penalty)") % {
            "raw": fmt_points(result.raw_score), "p": fmt_points(result.penalty)}
    out += [_("Score: %(s)s") % {"s": score}, "", f"> {seed_note(result.seed_kind)}", ""]
    out += [_("Submission: %(s)s") % {"s": _code(result.submission)}, ""]

    if result.errors:
        out += [f"## {_('Problems with your submission')}", ""]
        out += [_block(e) for e in result.errors] + [""]

    todo = fix_first(result)
    if todo:
        out += [f"## {_('What to fix first')}", ""]
        for n, check in enumerate(todo, 1):
            out.append(f"{n}. {_SYMBOLS.get(check.status, '')} {_code(check.name)} ({_text(check.exercise)}): "
                       f"{_text(summary_line(check))}")
            if check.hint:
                out.append(f"   - {_('Hint')}: {_text(check.hint.text)}")
        out.append("")
    elif result.exercises:
        out += [f"{_SYMBOLS[PASSED]} {_('All checks passed.')}", ""]

    for exercise in result.exercises:
        status = exercise_status(exercise)
        out += [f"## {_SYMBOLS[status]} {_text(exercise.title or exercise.id)} "
                f"({fmt_points(exercise.score)} / {fmt_points(exercise.max_score)})", ""]
        out += [f"_{_text(note)}_" for note in exercise.notes] + ([""] if exercise.notes else [])
        columns = (_("Check"), _("Status"), _("Points"), _("Feedback"))  # outside an f-string: extracted
        out += ["| " + " | ".join(columns) + " |", "|---|---|---:|---|"]
        for check in exercise.checks:
            feedback = "" if check.status == PASSED else _text(summary_line(check))
            out.append(f"| {_code(check.name)} | {_SYMBOLS.get(check.status, '')} {status_label(check.status)} "
                       f"| {fmt_points(check.score)} / {fmt_points(check.max_score)} | {feedback} |")
        out.append("")
        for check in exercise.checks:
            if check.status != PASSED:
                out += _check_section(check)
    if result.protections:
        active = [f"{'✅' if on else '⚠️'} {_code(name)}" for name, on in result.protections.items()]
        out += [f"**{_('Sandbox protections')}:** " + ", ".join(active), ""]
    if result.notes:
        out += [f"**{_('How your files were loaded')}:**", ""] + [f"- {_text(n)}" for n in result.notes] + [""]
    return "\n".join(out).rstrip() + "\n"


def _check_section(check) -> list[str]:
    out = [f"### {_code(check.name)} — {status_label(check.status)}", ""]
    if check.message:
        message = sanitize(check.message)
        out += [_block(message) if "\n" in message else _text(message), ""]
    if check.location:
        out += [f"{_('Where')}: {_code(check.location.describe())}", ""]
    if check.hint:
        out += [f"> 💡 **{_('Hint')}:** {_text(check.hint.text)}", ""]
    failed = check.failed_cases()
    for case in failed[:MAX_CASES]:
        out.append(f"- **{_text(case.label)}**")
        if case.call:
            out.append(f"  - {_('Call')}: {_code(case.call)}")
        if case.output:
            out.append(f"  - {_('Output')}: {_code(case.output)}")
        out += [f"  - {_text(message)}" for message in case_messages(case)]
        out += [f"  - {label}: {_text(value)}" for label, value in comparison_items(case.comparison)]
        if case.hint and (not check.hint or case.hint.text != check.hint.text):
            out.append(f"  - 💡 {_text(case.hint.text)}")
        rows = case.comparison.worst_rows if case.comparison else []
        if rows:
            out += ["", f"  | {_('Index')} | {_('Expected')} | {_('Got')} | {_('Absolute error')} |",
                    "  |---|---:|---:|---:|"]
            out += [f"  | {fmt_index(i)} | {fmt_num(e)} | {fmt_num(a)} | {fmt_num(err, 3)} |" for i, e, a, err in rows]
            out.append("")
    if len(failed) > MAX_CASES:
        more = len(failed) - MAX_CASES
        out.append(i18n.ngettext("- … and %(n)d more failed case", "- … and %(n)d more failed cases", more)
                   % {"n": more})
    if failed:
        out.append("")
    if check.stdout.strip():
        out += ["<details><summary>" + html.escape(_("What your code printed")) + "</summary>", "",
                _block(clip(sanitize(check.stdout), STDOUT_LIMIT)), "", "</details>", ""]
    return out
