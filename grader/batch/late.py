"""Late work: the assignment's policy, and when each submission came in.

The policy is the `[late]` table of the assignment file:

    [late]
    due = 2024-10-01T23:59:00-04:00   # a TOML date-time, or an ISO 8601 string
    grace_minutes = 15                # within the grace period a submission is on time
    percent_per_day = 10              # per started day late, as a percentage of `of`
    max_percent = 50                  # the cap (default 100)
    max_days = 7                      # optional: later than this, 100 % (not accepted)
    of = "earned"                     # "earned" (the points earned, default) or "total" (the maximum)

    [late.extensions]                 # per student or submission: extra days, or a new due date
    "alice@uni.edu" = 2
    submission_123 = 2024-10-04T12:00:00-04:00

Submission times come from Gradescope's export metadata (`submission_metadata.yml` beside the
submissions) or from a CSV the instructor gives (columns `submission`, `submitted_at`). File times are
never used: copying and unpacking change them. A submission without a known time is not penalised.
"""
from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from ..i18n import _
from .discover import METADATA_FILE


class LateError(Exception):
    """The policy or a submission-time file is unusable; the message says what and where."""


@dataclass(frozen=True)
class LatePolicy:
    due: datetime
    grace: timedelta = timedelta(0)
    percent_per_day: float = 0.0
    max_percent: float = 100.0
    max_days: float | None = None
    of: str = "earned"
    extensions: dict[str, Any] = field(default_factory=dict)  # key -> extra days (number) or a due datetime


@dataclass(frozen=True)
class Submitted:
    at: datetime | None
    students: tuple[dict, ...] = ()  # {"name", "sid", "email"} per submitter (Gradescope metadata)

    def keys(self) -> set[str]:
        return {str(s[k]) for s in self.students for k in ("name", "sid", "email") if s.get(k)}


_TIME = re.compile(r"^\s*(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?)?\s*(Z|[+-]\d\d:?\d\d)?\s*$")


def parse_time(value: Any, where: str) -> datetime:
    """A datetime from TOML/YAML values or ISO 8601 text (also Ruby's `2024-10-01 23:59:00.123456789 -04:00`)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time(23, 59, 59))  # a bare date means the end of that day
    match = _TIME.match(str(value))
    if not match:
        raise LateError(_("{where}: {value!r} is not a date and time (use ISO 8601, e.g. "
                          "2024-10-01T23:59:00-04:00).").format(where=where, value=value))
    day, clock, fraction, zone = match.groups()
    text = f"{day}T{clock or '23:59:59'}" + (f".{fraction[:6]:0<6}" if fraction else "")
    if zone:
        text += "+00:00" if zone == "Z" else (zone if ":" in zone else f"{zone[:3]}:{zone[3:]}")
    return datetime.fromisoformat(text)


def late_policy(options: dict) -> LatePolicy | None:
    """The assignment's late policy (its `[late]` table), or None when it sets no due date."""
    table = options.get("late")
    if not table:
        return None
    if not isinstance(table, dict) or "due" not in table:
        raise LateError(_("the assignment's [late] table needs `due = <date and time>`."))
    try:
        extensions = {}
        for key, value in dict(table.get("extensions", {})).items():
            extensions[str(key)] = float(value) if isinstance(value, (int, float)) else \
                parse_time(value, f"[late.extensions] {key}")
        policy = LatePolicy(
            due=parse_time(table["due"], "[late] due"), grace=timedelta(minutes=float(table.get("grace_minutes", 0))),
            percent_per_day=float(table.get("percent_per_day", 0)), max_percent=float(table.get("max_percent", 100)),
            max_days=float(table["max_days"]) if table.get("max_days") is not None else None,
            of=str(table.get("of", "earned")), extensions=extensions)
    except (TypeError, ValueError) as error:
        raise LateError(_("the assignment's [late] table is invalid: {error}").format(error=error)) from None
    if policy.of not in ("earned", "total"):
        raise LateError(_("[late] of must be \"earned\" or \"total\", not {of!r}.").format(of=policy.of))
    return policy


def _comparable(moment: datetime, due: datetime, where: str) -> datetime:
    """A submission time in the due date's terms: naive times are read in the due date's time zone."""
    if (moment.tzinfo is None) == (due.tzinfo is None):
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=due.tzinfo)
    raise LateError(_("{where} has a time zone but the due date has none: give `due` with its UTC offset, "
                      "e.g. 2024-10-01T23:59:00-04:00.").format(where=where))


def assess(policy: LatePolicy | None, name: str, submitted: Submitted | None) -> dict | None:
    """Days late and the penalty percentage for one submission; None when no policy applies or the time
    is unknown. Days are started days after the (extended) due date plus the grace period."""
    if policy is None or submitted is None or submitted.at is None:
        return None
    due = policy.due
    for key in [name, *sorted(submitted.keys())]:
        if key in policy.extensions:
            extension = policy.extensions[key]
            due = due + timedelta(days=extension) if isinstance(extension, float) else extension
            break
    at = _comparable(submitted.at, due, _("the submission time of {name}").format(name=name))
    over = (at - due - policy.grace).total_seconds()
    days = max(0, math.ceil(over / 86400)) if over > 0 else 0
    if policy.max_days is not None and days > policy.max_days:
        percent = 100.0
    else:
        percent = min(policy.max_percent, days * policy.percent_per_day)
    return {"days": days, "percent": round(percent, 6), "of": policy.of, "submitted_at": at.isoformat()}


def penalty_points(late: dict | None, earned: float, total: float) -> float:
    if not late or not late["percent"]:
        return 0.0
    basis = earned if late["of"] == "earned" else total
    return round(basis * late["percent"] / 100.0, 4)


# ------------------------------------------------------------------------------- submission times


def submission_times(folder: Path, csv_path: Path | None = None) -> dict[str, Submitted]:
    """Submission name -> Submitted, from Gradescope's metadata in `folder` and/or the instructor's CSV
    (the CSV wins where both name a submission)."""
    times: dict[str, Submitted] = {}
    metadata = Path(folder) / METADATA_FILE
    if metadata.is_file():
        times.update(read_gradescope_metadata(metadata))
    if csv_path is not None:
        for name, at in read_times_csv(Path(csv_path)).items():
            times[name] = Submitted(at, times[name].students if name in times else ())
    return times


def _yaml_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        """Safe loading that also reads Ruby's tagged values (!ruby/object...) as plain data."""

    def plain(loader, _suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)
    Loader.add_multi_constructor("!", plain)
    return yaml, Loader


def _field(mapping: dict, name: str):
    """Gradescope's Ruby-flavoured keys start with a colon (`:created_at`); accept both spellings."""
    return mapping.get(f":{name}", mapping.get(name))


def read_gradescope_metadata(path: Path) -> dict[str, Submitted]:
    yaml, loader = _yaml_loader()
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
    except (OSError, yaml.YAMLError) as error:
        raise LateError(_("cannot read {path}: {error}").format(path=path, error=error)) from None
    if not isinstance(data, dict):
        raise LateError(_("{path} is not a mapping of submissions.").format(path=path))
    out = {}
    for name, entry in data.items():
        if not isinstance(entry, dict):
            continue
        created = _field(entry, "created_at")
        students = tuple({"name": _field(s, "name"), "sid": _field(s, "sid"), "email": _field(s, "email")}
                         for s in _field(entry, "submitters") or [] if isinstance(s, dict))
        at = parse_time(created, f"{path.name}: {name}") if created is not None else None
        out[str(name)] = Submitted(at, students)
    return out


def read_times_csv(path: Path) -> dict[str, datetime]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except OSError as error:
        raise LateError(_("cannot read {path}: {error}").format(path=path, error=error.strerror)) from None
    if rows and not {"submission", "submitted_at"} <= set(rows[0]):
        raise LateError(_("{path} needs the columns submission,submitted_at.").format(path=path))
    return {row["submission"].strip(): parse_time(row["submitted_at"], f"{path.name}: {row['submission']}")
            for row in rows if (row.get("submission") or "").strip() and (row.get("submitted_at") or "").strip()}
