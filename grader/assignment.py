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
from .spec import RENAMED_CHECKS, Exercise

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_ASSIGNMENT = "default.toml"


class AssignmentError(Exception):
    """The assignment file or an exercise file is unusable; the message says what and where."""


def builtin_dir() -> Path:
    return Path(str(resources.files("grader.exercises")))


def builtin_exercises() -> dict[str, str]:
    """Every built-in exercise id with the first sentence of its description, read from the files' module
    docstrings without importing them (an import would load torch)."""
    import ast
    found = {}
    for path in sorted(builtin_dir().glob("*.py")):
        if path.name.startswith("_"):
            continue
        doc = " ".join((ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").split())
        doc = doc.split(": ", 1)[1] if doc.startswith("Exercise `") and ": " in doc else doc
        found[path.stem] = doc.split(". ")[0].rstrip(".")
    return found


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
    raw: dict[str, Any] = field(default_factory=dict, repr=False)  # the parsed file, for the exercise schema
    _cache: dict[str, Exercise] = field(default_factory=dict, repr=False)
    _checked: set = field(default_factory=set, repr=False)

    def exercise(self, exercise_id: str) -> Exercise:
        if exercise_id not in self._cache:
            exercise = load_exercise_file(self.exercise_files[exercise_id])
            if exercise.id != exercise_id:
                raise AssignmentError(_("{path} defines exercise {got!r}, but the assignment calls it {want!r}.").format(
                    path=self.exercise_files[exercise_id], got=exercise.id, want=exercise_id))
            self._cache[exercise_id] = self._configure(exercise)
        return self._cache[exercise_id]

    def _configure(self, exercise: Exercise) -> Exercise:
        """Apply the assignment's points and visibility overrides to an exercise (old kind names renamed)."""
        exercise = _renamed_checks(exercise, self.warnings)
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
        exercises = [self.exercise(i) for i in (ids or self.exercise_ids)]
        self._check_exercise_keys()
        _check_shared_names(exercises)  # the selected ones: loading the others would cost their imports
        return exercises

    def _check_exercise_keys(self) -> None:
        """The keys only exercises know ([points.<id>] kinds, [names], declared options), checked against
        the exercises loaded so far; names and top-level keys once every exercise is loaded."""
        from .assignment_schema import exercise_schema
        loaded = frozenset(self._cache)
        if loaded in self._checked or not self.raw:
            return
        complete = loaded >= set(self.raw.get("exercises", []))  # every exercise the file names, not a subset
        _raise_problems(self.path, self.raw, exercise_schema({i: self._cache[i] for i in sorted(loaded)}, complete))
        self._checked.add(loaded)


def _renamed(table: dict, where: str, warnings: list[str]) -> dict:
    """`table` (check kind -> value) with old kind names replaced by their names, warning once per name."""
    out = {}
    for key, value in table.items():
        name = RENAMED_CHECKS.get(key, key)
        if name != key:
            note = _("{where}: the check kind {old!r} is now called {new!r}; the old name still works but is "
                     "deprecated: write {new!r}.").format(where=where, old=key, new=name)
            if note not in warnings:
                warnings.append(note)
        out[name] = value
    return out


def _renamed_checks(exercise: Exercise, warnings: list[str]) -> Exercise:
    """An instructor's exercise file may still use old kind names in `checks`, `optional_checks` and
    `visibility`."""
    where = _("exercise {id!r}").format(id=exercise.id)
    units = tuple(replace(u, checks=_renamed(u.checks, where, warnings), **(
        {"optional_checks": {o: _renamed(k, where, warnings) for o, k in u.optional_checks.items()}}
        if getattr(u, "optional_checks", None) else {})) for u in exercise.units)
    return replace(exercise, units=units, visibility=_renamed(exercise.visibility, where, warnings))


def _signature(unit) -> tuple:
    """What a student's function must look like for a unit: its kind and its positional arguments."""
    args = unit.positional() if hasattr(unit, "positional") else list(getattr(unit, "args", ()) or ())
    return type(unit).__name__, tuple(args)


def _check_shared_names(exercises: list[Exercise]) -> None:
    """Two exercises may grade one function (initialize_adam in optimizers and from_scratch) only as the
    same function; otherwise no submission can satisfy both (utils' predict(params, X) and
    from_scratch's predict(X, parameters))."""
    seen: dict[str, tuple[str, tuple]] = {}
    for exercise in exercises:
        for unit in exercise.units:
            for name in unit.graded_names()[:1]:
                first = seen.setdefault(name, (exercise.id, _signature(unit)))
                if first[0] != exercise.id and first[1] != _signature(unit):
                    raise AssignmentError(_("exercises {first} and {second} both grade a function named {name}, with "
                                            "different arguments: an assignment can hold only one of them.").format(
                        first=first[0], second=exercise.id, name=name))


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


def builtin_ids() -> list[str]:
    """The built-in exercises: the exercise files shipped in the package."""
    return sorted(p.stem for p in builtin_dir().glob("*.py") if not p.stem.startswith("_"))


def _raise_problems(path: Path, data: dict, schema: dict, extra: list[str] = ()) -> None:
    """One AssignmentError listing every violation of `schema` (and `extra`), each naming the file."""
    from .assignment_schema import message, problems
    found = [message(*problem) for problem in problems(data, schema)] + list(extra)
    lines = [line for text in found for line in text.splitlines() if line]
    if lines:
        raise AssignmentError("\n".join(f"{path}: {line}" for line in dict.fromkeys(lines)))


def _exercise_problems(data: dict) -> list[str]:
    """Exercise ids: each built in or of the instructor's own, and every per-exercise table names one."""
    from .assignment_schema import closest
    ids, custom, builtin = data["exercises"], data.get("exercise", {}), builtin_ids()
    found = []
    for exercise_id in ids:
        if exercise_id not in custom and exercise_id not in builtin:
            suggestion = closest(exercise_id, builtin + list(custom))
            hint = _("did you mean `{suggestion}`?").format(suggestion=suggestion) if suggestion else _(
                "the built-in exercises are {known}.").format(known=", ".join(builtin))
            found.append(_("exercises: {id!r} is not a built-in exercise and has no [exercise.{id}] table with "
                           "its file; {hint}").format(id=exercise_id, hint=hint))
    for table in ("exercise", "points", "visibility", "tolerances"):
        for key, value in data.get(table, {}).items():
            if (table != "tolerances" or isinstance(value, dict)) and key not in ids:
                suggestion = closest(key, ids)
                found.append(_("[{table}.{key}] names no exercise in `exercises`; {hint}").format(
                    table=table, key=key, hint=_("did you mean `{suggestion}`?").format(suggestion=suggestion)
                    if suggestion else _("this assignment has {known}.").format(known=", ".join(ids))))
    return found


def _top_level_typos(data: dict) -> list[str]:
    """Unknown top-level keys close to a key the grader reads: a typo, reported now. Others may be an
    option an exercise declares, known once the exercises load (Assignment._check_exercise_keys)."""
    from .assignment_schema import closest, static_schema
    known = static_schema()["properties"]
    return [_("unknown key `{key}` in {table}; did you mean `{suggestion}`?").format(
        key=key, table=_("the top level"), suggestion=closest(key, known))
        for key in data if key not in known and closest(key, known)]


def load_assignment(path: Path | None = None) -> Assignment:
    from .assignment_schema import static_schema
    path = Path(path) if path else builtin_dir() / DEFAULT_ASSIGNMENT
    if not path.exists() and path.parent == Path(".") and (builtin_dir() / path.name).is_file():
        path = builtin_dir() / path.name  # a bundled assignment by its name: `--assignment bridge.toml`
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AssignmentError(_("assignment file {path} does not exist.").format(path=path)) from None
    except tomllib.TOMLDecodeError as error:
        raise AssignmentError(_("assignment file {path} is not valid TOML: {error}").format(path=path, error=error)) from None
    renamed: list[str] = []  # old kind names in [points.<id>] and [visibility.<id>]: renamed, with a warning
    for section in ("points", "visibility"):
        if isinstance(data.get(section), dict):
            data[section] = {k: _renamed(v, f"{path}: [{section}.{k}]", renamed) if isinstance(v, dict) else v
                             for k, v in data[section].items()}
    ids = data.get("exercises")
    listed = isinstance(ids, list) and bool(ids) and all(isinstance(i, str) for i in ids)
    _raise_problems(path, data, static_schema(), _top_level_typos(data) + (_exercise_problems(data) if listed else []))
    ids = data["exercises"]
    files = {}
    custom = data.get("exercise", {})
    for exercise_id in ids:
        relative = custom.get(exercise_id, {}).get("file")
        candidate = (path.parent / relative) if relative else builtin_dir() / f"{exercise_id}.py"
        if not candidate.is_file():
            raise AssignmentError(_("{path}: [exercise.{id}] file = {file!r}: no such file beside the assignment "
                                    "file.").format(path=path, id=exercise_id, file=relative))
        files[exercise_id] = candidate
    options = {k: v for k, v in data.items() if k not in {"exercises", "exercise", "limits", "names", "points",
                                                           "visibility", "title", "practice_seed"}}
    return Assignment(
        path=path, title=data.get("title", path.stem), exercise_ids=list(ids), exercise_files=files,
        practice_seed=int(data.get("practice_seed", 0)), limits=dict(data.get("limits", {})),
        names=dict(data.get("names", {})), points={k: dict(v) for k, v in data.get("points", {}).items()},
        visibility={k: dict(v) for k, v in data.get("visibility", {}).items()},
        options=options, warnings=version_warnings(path, data.get("grader_version")) + renamed, raw=data,
    )
