"""The class gradebook: one row per submission, the instructor's overrides, and an LMS (Canvas) CSV.

Overrides live in an instructor's CSV (by default OUT/overrides.csv, created empty on the first run and
never written again): `submission,points,comment`, where points are added to the score (negative to
take off) and several rows for one submission add up. They apply to the gradebook only, so they
survive every rerun, forced or not.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from ..i18n import _
from ..report import atomic_write_text

OVERRIDE_COLUMNS = ("submission", "points", "comment")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


class OverrideError(Exception):
    pass


@dataclass
class Override:
    points: float = 0.0
    comments: list[str] = field(default_factory=list)


def number(x: float) -> str:
    """Points as text: at most four decimals, no trailing zeros (2.5, 13, 0.3333)."""
    text = f"{round(float(x), 4):.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def ensure_overrides_file(path: Path) -> None:
    """Create an empty overrides file with its header, so the instructor knows where adjustments go."""
    if not path.exists():
        atomic_write_text(path, ",".join(OVERRIDE_COLUMNS) + "\n")


def read_overrides(path: Path) -> dict[str, Override]:
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames and not {"submission", "points"} <= set(reader.fieldnames):
            raise OverrideError(_("{path} needs the columns submission,points[,comment].").format(path=path))
        out: dict[str, Override] = {}
        for line, row in enumerate(reader, 2):
            name = (row.get("submission") or "").strip()
            if not name:
                continue
            try:
                points = float((row.get("points") or "0").strip() or 0)
            except ValueError:
                raise OverrideError(_("{path}, line {line}: points {points!r} is not a number.").format(
                    path=path, line=line, points=row.get("points"))) from None
            entry = out.setdefault(name, Override())
            entry.points += points
            if (row.get("comment") or "").strip():
                entry.comments.append(row["comment"].strip())
    return out


def columns(exercise_ids: list[str], late: bool) -> list[str]:
    return ["submission", "score", "max_score", *exercise_ids, "status",
            *(["submitted_at", "late_days", "penalty"] if late else []), "adjustment", "comment", "message"]


def rows(records: list[dict], exercise_ids: list[str], overrides: dict[str, Override], late: bool) -> list[dict]:
    """The gradebook rows, in the order of `records`. Score = points earned - late penalty + override,
    never below 0."""
    out = []
    for record in records:
        override = overrides.get(record["submission"], Override())
        earned = max(0.0, record["raw_score"] - record["penalty"])
        row = {"submission": record["submission"], "score": number(max(0.0, earned + override.points)),
               "max_score": number(record["max_score"])}
        row.update({e: number(record["exercises"].get(e, 0.0)) for e in exercise_ids})
        row["status"] = record["status"]
        if late:
            info = record.get("late") or {}
            row["submitted_at"] = info.get("submitted_at", "")
            row["late_days"] = str(info["days"]) if info else ""
            row["penalty"] = number(record["penalty"]) if info else ""
        row["adjustment"] = number(override.points) if override.points else ""
        row["comment"] = "; ".join(override.comments)
        row["message"] = record.get("message", "")
        out.append(row)
    return out


def to_csv(table: list[dict], fieldnames: list[str]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    writer.writerows(table)
    return buffer.getvalue()


def canvas_csv(table: list[dict], students: dict[str, tuple], column: str, max_score: float) -> str:
    """Canvas's gradebook import: Student, ID, SIS User ID, SIS Login ID, Section, then the assignment
    column. One row per student of a submission (Gradescope's metadata names them: SID as the SIS User
    ID, email as the SIS Login ID); without metadata, the submission's name is the student."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*CANVAS_COLUMNS, column])
    writer.writerow(["    Points Possible", "", "", "", "", number(max_score)])
    for row in table:
        for student in students.get(row["submission"]) or ({"name": row["submission"]},):
            writer.writerow([student.get("name") or row["submission"], "", student.get("sid") or "",
                             student.get("email") or "", "", row["score"]])
    return buffer.getvalue()
