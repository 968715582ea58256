"""Grade one submission: load, isolate, run every exercise's checks, collect one GradeResult."""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .assignment import Assignment
from .i18n import _, current_language
from .loader import SubmissionError, nothing_graded, plan_submission
from .notebook import map_errors
from .policy import FrameworkPolicy, enforce
from .results import ERROR, CheckResult, ExerciseResult, GradeResult
from .sandbox.session import Limits, Sandbox
from .seeds import Seed

if TYPE_CHECKING:
    from .checks import CheckContext

CHECKS = "grader.checks"  # the check kinds, and with them PyTorch: seconds to import

# Importing torch (and, at the first optimizer, torch._dynamo) in the child costs seconds of CPU on a slow
# machine, and more of wall clock on a busy one.
TORCH_IMPORT_CPU_S = 30.0
TORCH_IMPORT_WALL_S = 60.0
TORCH_CALL_CPU_S = 10.0  # a call may be the first to need one of torch's lazily imported parts


def limits_from(assignment: Assignment, **overrides) -> Limits:
    options = {**assignment.limits, **{k: v for k, v in overrides.items() if v is not None}}
    limits = Limits()
    for key, value in options.items():
        if key == "memory_mb":
            limits.memory_bytes = int(value) * 2**20
        elif key == "disk_mb":
            limits.disk_bytes = int(value) * 2**20
        elif hasattr(limits, key):
            setattr(limits, key, type(getattr(limits, key))(value) if getattr(limits, key) is not None else value)
    return limits


def grade(path: Path, assignment: Assignment, seed: Seed, *, exercise_ids: list[str] | None = None,
          limits: Limits | None = None, hide: list[Path | str] = ()) -> GradeResult:
    """Grade one submission. `hide`: more folders or files the student's code must not see (a batch's
    class folder and output folder), beside the assignment's folder and the submission's own parent."""
    started = time.perf_counter()
    loading = _import_in_background(CHECKS)  # meanwhile the student's process starts on the other core
    try:
        return _grade(path, assignment, seed, exercise_ids, limits, hide, started)
    finally:
        if loading is not None:
            loading.join()


def _import_in_background(name: str) -> threading.Thread | None:
    if name in sys.modules:
        return None
    thread = threading.Thread(target=_import_quietly, args=(name,), name=f"import {name}", daemon=True)
    thread.start()
    return thread


def _warm_imports(exercises, options) -> None:
    """Import in the background the slow modules the selected exercises' check kinds declare
    (`check_kind(imports=...)`): the import runs while earlier exercises wait on the student's process
    and in torch's kernels, both of which release the GIL."""
    from .checks import lookup
    wanted: list[str] = []
    for exercise in exercises:
        for unit in exercise.units:
            names = list(unit.checks) + [kind for option, kinds in getattr(unit, "optional_checks", {}).items()
                                         if options.get(option) for kind in kinds]
            for name in names:
                kind = lookup(name, unit)
                wanted += getattr(kind, "imports", ()) if kind is not None else ()
    for name in dict.fromkeys(wanted):
        _import_in_background(name)


def _import_quietly(name: str) -> None:
    try:
        importlib.import_module(name)
    except BaseException:  # noqa: BLE001 - the grading thread imports it again and reports the error
        pass


def _grade(path, assignment: Assignment, seed: Seed, exercise_ids, limits, hide, started: float) -> GradeResult:
    exercises = assignment.select(exercise_ids)
    names = {canonical: assignment.names.get(canonical, canonical)
             for exercise in exercises for canonical in exercise.required_names() + exercise.related_names()}
    frameworks = sorted({f for exercise in exercises for f in exercise.frameworks})
    options = {**assignment.options, "allow_torch": True} if "torch" in frameworks else assignment.options
    plan = plan_submission(Path(path), list(names.values()), options=options)
    if names and not plan.definitions and not plan.errors:  # unrelated files: one sentence, not a list per check
        graded = [assignment.names.get(c, c) for exercise in exercises for c in exercise.required_names()]
        raise SubmissionError(nothing_graded(path, graded))  # its notes would only say each file defines nothing
    result = GradeResult(submission=str(path), seed_kind=seed.kind, grader_version=__version__,
                         language=current_language(), assignment=assignment.title, notes=list(plan.notes),
                         errors=[str(issue) for issue in plan.errors])
    policy = FrameworkPolicy.from_options(assignment.options)
    with contextlib.ExitStack() as stack:
        children = Children(stack, plan, assignment, policy, limits or limits_from(assignment),
                            [assignment.path.parent, *hide], result, names, exercises)
        for i, exercise in enumerate(exercises):
            sandbox = children.get(exercise.frameworks)
            from .checks import CheckContext  # waits for the import started in grade()
            if i == 0:
                _warm_imports(exercises, assignment.options)
            ctx = CheckContext(sandbox=sandbox, exercise=exercise, seed=seed.value, definitions=plan.definitions,
                               import_errors=children.import_errors[tuple(sorted(exercise.frameworks))],
                               names=assignment.names, options=assignment.options,
                               unparsable=[str(i) for i in plan.errors if i.kind in ("syntax", "encoding")],
                               sandbox_for=children.pair)
            seen = len(sandbox.violations)  # framework-policy violations so far
            result.exercises.append(enforce(grade_exercise(ctx), ctx, sandbox.violations, seen))
        for sandbox in children.opened():
            for key, value in sandbox.protections.items():  # a protection holds when it held in every child
                result.protections[key] = result.protections.get(key, True) and value
        # Calls a time limit stopped (CPU or wall clock per call, or the whole budget), for batch grading's
        # "timed out" status; the verdicts are already in the checks.
        stopped = [q for sandbox in children.opened() for q in sandbox.timed_out] + (
            ["total_cpu_s"] if any(s.budget_used >= s.limits.total_cpu_s for s in children.opened()) else [])
        if stopped:
            result.extra["timed_out"] = stopped
    result.duration_s = round(time.perf_counter() - started, 3)
    return result


class Children:
    """The student's processes of one grading, one per set of frameworks an exercise may use, started when
    the first exercise needing it is graded: NumPy exercises in a child where torch is blocked (and, when
    the assignment has PyTorch exercises, importable only as an inert stand-in), PyTorch exercises in a child
    that may load it and that imports only the modules defining their names."""

    def __init__(self, stack, plan, assignment, policy, limits, hide, result, names, exercises):
        self.stack, self.plan, self.assignment, self.policy = stack, plan, assignment, policy
        self.limits, self.hide, self.result, self.names = limits, hide, result, names
        self.exercises = exercises
        self.boxes: dict[tuple, Any] = {}
        self.import_errors: dict[tuple, dict] = {}
        self.reported: set[str] = set()

    def opened(self) -> list:
        return list(self.boxes.values())

    def pair(self, frameworks=()):
        """(the child for these frameworks, its modules' import errors)."""
        sandbox = self.get(frameworks)
        return sandbox, self.import_errors[tuple(sorted(frameworks))]

    def get(self, frameworks=()):
        key = tuple(sorted(frameworks))
        if key in self.boxes:
            return self.boxes[key]
        plan, limits, modules = self.plan, self.limits, self.plan.modules
        if key:  # only the modules that define what the exercises allowed these frameworks grade
            wanted = {self.names[n] for e in self.exercises if tuple(sorted(e.frameworks)) == key
                      for n in e.required_names() if n in self.names}
            modules = [m for m in modules if any(d.module == m for n, d in plan.definitions.items() if n in wanted)]
            wall = None if limits.wall_s_per_call is None else max(limits.wall_s_per_call, TORCH_IMPORT_WALL_S)
            limits = dataclasses.replace(limits, import_cpu_s=max(limits.import_cpu_s, TORCH_IMPORT_CPU_S),
                                         cpu_s_per_call=max(limits.cpu_s_per_call, TORCH_CALL_CPU_S),
                                         wall_s_per_call=wall)
        sandbox = self.stack.enter_context(Sandbox(
            plan.root, modules, limits, files=plan.generated, search_path=plan.search_path,
            policy=self.policy.allowing(key) if key else self.policy, hide=self.hide, adapter=bool(key)))
        # What the working copy left out (links, special files, over the caps): the same for every child.
        self.result.notes += [n for n in sandbox.notes if n not in self.result.notes]
        sandbox = map_errors(sandbox, plan)  # notebooks: errors point at cells
        shown = {f.module: f.rel for f in plan.files if f.generated}  # a notebook's module by its file name
        errors = {m: e for m, e in sandbox.start().items() if e is not None}
        for module, error in errors.items():
            text = _("{module} failed to import: {error}").format(module=shown.get(module, module),
                                                                   error=error.message)
            if text not in self.reported:
                self.reported.add(text)
                self.result.errors.append(text)
        self.boxes[key], self.import_errors[key] = sandbox, errors
        return sandbox


def grade_exercise(ctx: CheckContext) -> ExerciseResult:
    from .checks import lookup
    from .checks.base import apply_dependencies
    exercise = ctx.exercise
    graded = ExerciseResult(id=exercise.id, title=_(exercise.title))  # titles are extracted from exercises
    for unit in exercise.units:
        checks = dict(unit.checks)
        for option, kinds in getattr(unit, "optional_checks", {}).items():  # opt-in kinds (e.g. timing)
            if ctx.options.get(option):
                checks.update(kinds)
        results = []
        for name, points in checks.items():
            kind = lookup(name, unit)
            if kind is None:
                results.append(CheckResult(exercise=exercise.id, function=unit.graded_names()[0], kind=name,
                                           max_score=points, status=ERROR,
                                           message=_("unknown check kind {kind!r}").format(kind=name)))
                continue
            results.append(kind.run(ctx, unit, points))
        apply_dependencies(unit, results)  # a check that depends on a failed main check earns nothing
        graded.checks += results
    return graded
