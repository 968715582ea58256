"""The assignment file (TOML): which exercises, points, names, limits and options.

Built-in exercises live in the package's exercises/ folder; an instructor's own exercise is a file
beside the assignment file. Both are loaded by the same function, from a path.
"""
from __future__ import annotations

import importlib.util
import re
import sys
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from . import __version__
from .i18n import _
from .layout import LAYOUTS
from .spec import Exercise

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_ASSIGNMENT = "default.toml"


class AssignmentError(Exception):
    """The assignment file or an exercise file is unusable; the message says what and where."""


def builtin_dir() -> Path:
    return Path(str(resources.files("grader.exercises")))


def load_exercise_file(path: Path) -> Exercise:
    """Import an exercise file by path and return its EXERCISE."""
    name = f"_grader_exercise_{path.stem}_{abs(hash(str(path.resolve())))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AssignmentError(_("{path} is not a Python file.").format(path=path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # an instructor's file: say where it broke
        del sys.modules[name]
        raise AssignmentError(_("exercise file {path} failed to load: {error}").format(
            path=path, error=f"{type(error).__name__}: {error}")) from error
    exercise = getattr(module, "EXERCISE", None)
    if not isinstance(exercise, Exercise):
        raise AssignmentError(_("exercise file {path} must define EXERCISE = Exercise(...).").format(path=path))
    return exercise


@dataclass
class Assignment:
    path: Path
    title: str
    exercise_ids: list[str]
    exercise_files: dict[str, Path]
    practice_seed: int = 0
    limits: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # canonical name -> the course's name
    points: dict[str, dict[str, float]] = field(default_factory=dict)  # exercise -> check kind -> points
    visibility: dict[str, dict[str, str]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # for the instructor (the CLI prints them)
    _cache: dict[str, Exercise] = field(default_factory=dict, repr=False)

    def exercise(self, exercise_id: str) -> Exercise:
        if exercise_id not in self._cache:
            exercise = load_exercise_file(self.exercise_files[exercise_id])
            if exercise.id != exercise_id:
                raise AssignmentError(_("{path} defines exercise {got!r}, but the assignment calls it {want!r}.").format(
                    path=self.exercise_files[exercise_id], got=exercise.id, want=exercise_id))
            self._cache[exercise_id] = self._configure(exercise)
        return self._cache[exercise_id]

    def _configure(self, exercise: Exercise) -> Exercise:
        """Apply the assignment's points and visibility overrides to an exercise."""
        points = self.points.get(exercise.id)
        if points:
            units = tuple(replace(u, checks={k: float(points.get(k, v)) for k, v in u.checks.items()})
                          for u in exercise.units)
            exercise = replace(exercise, units=units)
        visibility = self.visibility.get(exercise.id)
        if visibility:
            exercise = replace(exercise, visibility={**exercise.visibility, **visibility})
        return exercise

    def select(self, ids: list[str] | None) -> list[Exercise]:
        unknown = [i for i in ids or [] if i not in self.exercise_files]
        if unknown:
            raise AssignmentError(_("unknown exercise id {ids}; this assignment has: {known}").format(
                ids=", ".join(map(repr, unknown)), known=", ".join(self.exercise_ids)))
        return [self.exercise(i) for i in (ids or self.exercise_ids)]


TOLERANCE_KEYS = ("rtol", "atol")


def _check_options(path: Path, options: dict[str, Any], ids: list[str]) -> None:
    """Options the grader itself reads: a wrong value fails here, naming the file, not midway through grading."""
    layout = options.get("layout", LAYOUTS[0])
    if layout not in LAYOUTS:
        raise AssignmentError(_("{path}: layout must be one of {choices}, not {got!r}.").format(
            path=path, choices=", ".join(map(repr, LAYOUTS)), got=layout))
    tolerances = options.get("tolerances", {})
    if not isinstance(tolerances, dict):
        raise AssignmentError(_("{path}: tolerances must be a table ([tolerances] with rtol and atol).").format(
            path=path))
    for key, value in tolerances.items():
        if isinstance(value, dict) and key not in ids:
            raise AssignmentError(_("{path}: [tolerances.{id}] names no exercise of this assignment.").format(
                path=path, id=key))
        where = f"[tolerances.{key}]" if isinstance(value, dict) else "[tolerances]"
        for name, number in (value.items() if isinstance(value, dict) else [(key, value)]):
            if name not in TOLERANCE_KEYS or isinstance(number, bool) or not isinstance(number, (int, float)) \
                    or not number > 0:
                raise AssignmentError(_("{path}: {where} {name} = {value!r}: expected rtol or atol, a positive "
                                        "number that multiplies the default tolerance of the student's dtype.").format(
                    path=path, where=where, name=name, value=number))


def _version(text: str) -> tuple[int, ...]:
    """(0, 2) for "0.2", "0.2.0" and "0.2rc1": the leading numeric components, zeros dropped at the end."""
    parts = []
    for piece in text.split("."):
        digits = re.match(r"\d+", piece)
        if digits is None:
            break
        parts.append(int(digits.group()))
        if digits.end() < len(piece):
            break
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


def version_warnings(path: Path, written_for: Any, running: str = __version__) -> list[str]:
    """A warning when the assignment was written for a newer grader than this one."""
    if written_for is None:
        return []
    if not isinstance(written_for, str) or not re.match(r"\d+(\.\d+)*", written_for):
        raise AssignmentError(_("{path}: grader_version must be a version string such as \"0.1\", not {got!r}.").format(
            path=path, got=written_for))
    if _version(written_for) <= _version(running):
        return []
    return [_("{path} was written for grader version {want}, newer than this grader ({have}): exercises, check "
              "kinds or options it relies on may be missing or graded differently. Install the grader "
              "the course gives (the wheel in a student repository's .grader/ folder) before grading with it.").format(path=path, want=written_for,
                                                                             have=running)]


def load_assignment(path: Path | None = None) -> Assignment:
    path = Path(path) if path else builtin_dir() / DEFAULT_ASSIGNMENT
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AssignmentError(_("assignment file {path} does not exist.").format(path=path)) from None
    except tomllib.TOMLDecodeError as error:
        raise AssignmentError(_("assignment file {path} is not valid TOML: {error}").format(path=path, error=error)) from None
    ids = data.get("exercises")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or not ids:
        raise AssignmentError(_("assignment file {path} needs `exercises = [\"id\", ...]`.").format(path=path))
    files = {}
    custom = data.get("exercise", {})
    for exercise_id in ids:
        relative = custom.get(exercise_id, {}).get("file")
        candidate = (path.parent / relative) if relative else builtin_dir() / f"{exercise_id}.py"
        if not candidate.is_file():
            raise AssignmentError(_("exercise {id!r}: no exercise file at {path}.").format(id=exercise_id, path=candidate))
        files[exercise_id] = candidate
    options = {k: v for k, v in data.items() if k not in {"exercises", "exercise", "limits", "names", "points",
                                                           "visibility", "title", "practice_seed"}}
    _check_options(path, options, list(ids))
    return Assignment(
        path=path, title=data.get("title", path.stem), exercise_ids=list(ids), exercise_files=files,
        practice_seed=int(data.get("practice_seed", 0)), limits=dict(data.get("limits", {})),
        names=dict(data.get("names", {})), points={k: dict(v) for k, v in data.get("points", {}).items()},
        visibility={k: dict(v) for k, v in data.get("visibility", {}).items()},
        options=options, warnings=version_warnings(path, data.get("grader_version")),
    )
