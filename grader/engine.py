"""Grade one submission: load, isolate, run every exercise's checks, collect one GradeResult."""
from __future__ import annotations

import contextlib
import dataclasses
import importlib
import sys
import threading
import time
from pathlib import Path
from typing import Any

from . import __version__
from .ahead import planned as planned_ahead
from .ahead import run_ahead
from .assignment import Assignment
from .context import CheckContext
from .i18n import _, current_language
from .loader import SubmissionError, nothing_graded, plan_submission
from .notebook import map_errors
from .policy import FrameworkPolicy, enforce
from .results import ERROR, CheckResult, ExerciseResult, GradeResult
from .sandbox.session import Limits, Sandbox
from .seeds import Seed
from .spec import unit_checks

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
          limits: Limits | None = None, hide: list[Path | str] = (), meanwhile=None) -> GradeResult:
    """Grade one submission. `hide`: more folders or files the student's code must not see (a batch's
    class folder and output folder), beside the assignment's folder and the submission's own parent.
    `meanwhile()`: work of the caller's to do in the background once the check kinds are loaded, while
    grading mostly waits on the student's process (compiling the report's templates, say)."""
    started = time.perf_counter()
    loading = BackgroundImport(CHECKS, then=meanwhile)
    try:
        return _grade(path, assignment, seed, exercise_ids, limits, hide, started, loading)
    finally:
        loading.join()


class BackgroundImport:
    """A module imported in a thread, from when `start` is first called: the check kinds, and with them
    PyTorch, from when the student's process starts (see Children.get). Not earlier: the import holds
    the interpreter most of the time, and reading the submission and preparing the sandbox would wait."""

    def __init__(self, name: str, then=None):
        self.name, self.then, self.started, self.thread = name, then, False, None

    def start(self) -> None:
        if not self.started:
            self.started = True
            self.thread = _import_in_background(self.name, self.then)

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()


def _import_in_background(name: str, then=None) -> threading.Thread | None:
    """Import `name` in a thread, then call then(); None when it is imported already and there is
    nothing to do then."""
    if name in sys.modules and then is None:
        return None
    thread = threading.Thread(target=_import_quietly, args=(name, then), name=f"import {name}", daemon=True)
    thread.start()
    return thread


def _start_reference_work(exercises, options, ahead_of: dict, context) -> None:
    """Before the first exercise is graded, start what the selected exercises' check kinds can do without
    the student: their `prepare` hooks (the training check's reference runs start in a thread, which runs
    while exercises are graded: they mostly wait on the student's process or in torch's kernels, neither
    of which holds the GIL)."""
    from .checks import lookup
    for exercise in exercises:
        kinds = [(unit, kind) for unit in exercise.units for name in unit_checks(unit, options)
                 if (kind := lookup(name, unit)) is not None]
        prepare = [(unit, kind.name, kind.prepare) for unit, kind in kinds if kind.prepare is not None]
        if prepare:
            ctx = context(exercise)
            ctx.ahead = ahead_of.setdefault(exercise.id, ({}, range(0)))[0]
            run_ahead(ctx, prepare, stage="reference")


def _import_quietly(name: str, then=None) -> None:
    try:
        importlib.import_module(name)
        if then is not None:
            then()
    except BaseException:  # noqa: BLE001 - the grading thread imports it again and reports the error;
        pass  # `then` is only a head start on work done again when needed


def _grade(path, assignment: Assignment, seed: Seed, exercise_ids, limits, hide, started: float,
           loading: BackgroundImport) -> GradeResult:
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
                            [assignment.path.parent, *hide], result, names, exercises, loading.start)

        def context(exercise) -> CheckContext:
            return CheckContext(sandbox=children.get(exercise.frameworks), exercise=exercise, seed=seed.value,
                                definitions=plan.definitions,
                                import_errors=children.import_errors[tuple(sorted(exercise.frameworks))],
                                names=assignment.names, options=assignment.options,
                                unparsable=[str(i) for i in plan.errors if i.kind in ("syntax", "encoding")],
                                sandbox_for=children.pair)
        # The student's side of the checks that need no PyTorch, while the grader is importing it (ahead.py).
        ahead_of: dict[str, tuple[dict, range]] = {}  # exercise -> (its ctx.ahead, the violations meanwhile)
        for exercise in exercises:
            work = planned_ahead(exercise, assignment.options)
            if work:
                ctx = context(exercise)
                before = len(ctx.sandbox.violations)
                run_ahead(ctx, work)
                ahead_of[exercise.id] = ctx.ahead, range(before, len(ctx.sandbox.violations))
        for i, exercise in enumerate(exercises):
            if i == 0:  # once the check kinds (and PyTorch) are loaded: this waits for their import
                from .timing import torch_threads
                stack.enter_context(torch_threads(1))  # small matrices; the other core runs the student
                _start_reference_work(exercises, assignment.options, ahead_of, context)
            ctx = context(exercise)
            ctx.ahead, during_ahead = ahead_of.get(exercise.id, ({}, range(0)))
            seen = len(ctx.sandbox.violations)  # framework-policy violations so far
            result.exercises.append(enforce(grade_exercise(ctx), ctx, ctx.sandbox.violations, seen, during_ahead))
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

    def __init__(self, stack, plan, assignment, policy, limits, hide, result, names, exercises, starting=None):
        self.stack, self.plan, self.assignment, self.policy = stack, plan, assignment, policy
        self.limits, self.hide, self.result, self.names = limits, hide, result, names
        self.exercises = exercises
        self.starting = starting  # called as a student's process starts (on_spawn): the grader's imports begin
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
            policy=self.policy.allowing(key) if key else self.policy, hide=self.hide, adapter=bool(key),
            on_spawn=self.starting, imports=plan.imports))
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
        checks = unit_checks(unit, ctx.options)
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
