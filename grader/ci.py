"""CI glue for a finished run: the pass/fail threshold, GitHub's step summary and its annotations.

GitHub renders the Markdown appended to the file named by GITHUB_STEP_SUMMARY, and reads workflow
commands (`::error file=...,line=...::message`) from a step's stdout. Annotations carry student text
(exception messages), so it is sanitized and escaped: a newline or `::` in it cannot end the command
or start another one.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .i18n import _, ngettext
from .report import fmt_percent, fmt_points, sanitize, summary_line
from .results import ERROR, FAILED, NOT_ATTEMPTED

# GitHub shows about ten annotations of each level per step; the summary lists everything.
MAX_ANNOTATIONS = 10
# GitHub rejects a step summary over 1 MiB; stay clear of it.
SUMMARY_LIMIT = 1000 * 1000


# --- threshold -------------------------------------------------------------------------------


def percentage(result) -> float:
    """The score as a percentage of the maximum (100 when there is nothing to earn)."""
    return 100.0 if result.max_score <= 0 else 100.0 * result.score / result.max_score


def threshold_failure(result, fail_under: float | None) -> str | None:
    """The message to fail a CI job with when the score is below `fail_under` percent; else None."""
    if fail_under is None:
        return None
    # Rounding: 2/3 of the points is 66.67 %, and --fail-under 66.67 should pass it.
    achieved = round(percentage(result), 2)
    if achieved >= fail_under:
        return None
    return _("Score {score} / {max} ({achieved}) is below the required {threshold}.").format(
        score=fmt_points(result.score), max=fmt_points(result.max_score), achieved=fmt_percent(achieved / 100, 2),
        threshold=fmt_percent(fail_under / 100, 2))


# --- GitHub step summary ---------------------------------------------------------------------


def fit_summary(markdown: str, limit: int = SUMMARY_LIMIT) -> str:
    """The report cut at a section heading when it is over `limit` bytes, so no code fence or table
    is left open; a note says where the rest is."""
    if len(markdown.encode("utf-8")) <= limit:
        return markdown
    note = "\n> " + _("The summary was shortened; the full report is report.md / report.html.") + "\n"
    kept, size = [], len(note.encode("utf-8"))
    for section in _sections(markdown):
        size += len(section.encode("utf-8"))
        if size > limit:
            break
        kept.append(section)
    return "".join(kept).rstrip("\n") + "\n" + note


def _sections(markdown: str) -> list[str]:
    """Split before each heading; a `#` line inside a code fence (student output) is not one."""
    sections, current, fence = [], [], 0
    for line in markdown.splitlines(keepends=True):
        if not fence and line.startswith("#") and current:
            sections.append("".join(current))
            current = []
        current.append(line)
        ticks = len(line) - len(line.lstrip("`"))
        if ticks >= 3 and (not fence or (ticks >= fence and not line.strip().strip("`"))):
            fence = 0 if fence else ticks  # markdown.py's fences: longer than any backtick run inside
    return sections + ["".join(current)]


def write_step_summary(result, path) -> None:
    from .report.markdown import render_markdown
    with open(path, "a", encoding="utf-8", errors="replace") as f:  # appended: one file per step
        f.write(fit_summary(render_markdown(result)) + "\n")


# --- GitHub annotations ----------------------------------------------------------------------


@dataclass
class Annotation:
    level: str  # error | warning | notice
    message: str
    title: str = ""
    file: str | None = None  # relative to the repository root
    line: int | None = None
    lost: float = 0.0

    def command(self) -> str:
        props = [(k, v) for k, v in (("file", self.file), ("line", self.line), ("title", self.title)) if v]
        head = ",".join(f"{k}={_escape_property(str(v))}" for k, v in props)
        return f"::{self.level}{' ' + head if head else ''}::{_escape_data(self.message)}"


def _escape_data(text: str) -> str:
    # As @actions/core does: % first, then the line breaks that would end the command.
    return sanitize(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def repo_path(submission: str, file: str, workspace) -> str | None:
    """A submission file's path relative to the repository root, or None when it lies outside."""
    root = Path(submission)
    root = root.parent if root.is_file() else root
    try:
        return (root / file).resolve().relative_to(Path(workspace).resolve()).as_posix()
    except ValueError:
        return None


def annotations(result, workspace) -> list[Annotation]:
    """One annotation per student definition that lost points (its checks merged), most points lost
    first, broken code before code not yet written. Checks without a location (a name that is not
    defined at all) have nothing to point at; the summary lists them."""
    groups: dict[tuple, list] = {}  # every check of a definition, so the title can give its total
    for check in result.checks():
        if check.location is not None:
            key = (check.function, check.location.file, check.location.line)
            groups.setdefault(key, []).append(check)
    out = []
    for (function, file, line), every in groups.items():
        checks = [c for c in every if c.status in (FAILED, ERROR, NOT_ATTEMPTED)]
        if not checks:
            continue
        location = checks[0].location
        broken = any(c.status != NOT_ATTEMPTED for c in checks)
        lost = sum(c.max_score - c.score for c in checks)
        title = _("{function}: lost {lost} of {max} points").format(
            function=function, lost=fmt_points(lost), max=fmt_points(sum(c.max_score for c in every)))
        if location.cell is not None:  # a notebook: GitHub cannot point into a cell, the title can
            title += f" ({location.describe()})"
        lines = []
        for c in checks:
            lines.append(f"{c.kind}: {summary_line(c)}")
            if c.hint:
                lines.append("  " + _("Hint: %(h)s") % {"h": c.hint.text})
        out.append(Annotation(level="error" if broken else "warning", message="\n".join(lines), title=title,
                              file=repo_path(result.submission, file, workspace),
                              line=line if location.cell is None else None, lost=lost))
    # sorted() is stable: equal keys keep grading order, where earlier checks explain later ones.
    return sorted(out, key=lambda a: (a.level != "error", -a.lost))


def annotation_commands(result, workspace, limit: int = MAX_ANNOTATIONS) -> list[str]:
    found = annotations(result, workspace)
    commands = [a.command() for a in found[:limit]]
    if len(found) > limit:
        more = len(found) - limit
        commands.append(Annotation("notice", ngettext(
            "{n} more definition lost points; the job summary and report.md list every check.",
            "{n} more definitions lost points; the job summary and report.md list every check.",
            more).format(n=more)).command())
    return commands


def publish_github(result, environ=os.environ, echo=print) -> None:
    """In GitHub Actions: append the step summary and print the annotations."""
    summary = environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        write_step_summary(result, summary)
    if environ.get("GITHUB_ACTIONS") == "true":
        for command in annotation_commands(result, environ.get("GITHUB_WORKSPACE") or os.getcwd()):
            echo(command)
