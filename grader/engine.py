"""Grade one submission: load, isolate, run every exercise's checks, collect one GradeResult."""
from __future__ import annotations

import time
from pathlib import Path

from . import __version__
from .assignment import Assignment
from .checks import REGISTRY, CheckContext
from .i18n import _, current_language
from .loader import plan_submission
from .notebook import map_errors
from .policy import FrameworkPolicy, enforce
from .results import ERROR, CheckResult, ExerciseResult, GradeResult
from .sandbox.session import Limits, Sandbox
from .seeds import Seed


def limits_from(assignment: Assignment, **overrides) -> Limits:
    options = {**assignment.limits, **{k: v for k, v in overrides.items() if v is not None}}
    limits = Limits()
    for key, value in options.items():
        if key == "memory_mb":
            limits.memory_bytes = int(value) * 2**20
        elif hasattr(limits, key):
            setattr(limits, key, type(getattr(limits, key))(value) if getattr(limits, key) is not None else value)
    return limits


def grade(path: Path, assignment: Assignment, seed: Seed, *, exercise_ids: list[str] | None = None,
          limits: Limits | None = None, hide: list[Path | str] = ()) -> GradeResult:
    """Grade one submission. `hide`: more folders or files the student's code must not see (a batch's
    class folder and output folder), beside the assignment's folder and the submission's own parent."""
    started = time.perf_counter()
    exercises = assignment.select(exercise_ids)
    names = {canonical: assignment.names.get(canonical, canonical)
             for exercise in exercises for canonical in exercise.required_names()}
    plan = plan_submission(Path(path), list(names.values()), options=assignment.options)
    result = GradeResult(submission=str(path), seed_kind=seed.kind, grader_version=__version__,
                         language=current_language(), assignment=assignment.title, notes=list(plan.notes),
                         errors=[str(issue) for issue in plan.errors])
    with Sandbox(plan.root, plan.modules, limits or limits_from(assignment), files=plan.generated,
                 search_path=plan.search_path,
                 policy=FrameworkPolicy.from_options(assignment.options),
                 hide=[assignment.path.parent, *hide]) as sandbox:
        result.notes += sandbox.notes  # what the working copy left out (links, special files, over the caps)
        sandbox = map_errors(sandbox, plan)  # notebooks: errors point at cells
        shown = {f.module: f.rel for f in plan.files if f.generated}  # a notebook's module by its file name
        import_errors = {m: e for m, e in sandbox.start().items() if e is not None}
        for module, error in import_errors.items():
            result.errors.append(_("{module} failed to import: {error}").format(module=shown.get(module, module),
                                                                                error=error.message))
        for exercise in exercises:
            ctx = CheckContext(sandbox=sandbox, exercise=exercise, seed=seed.value, definitions=plan.definitions,
                               import_errors=import_errors, names=assignment.names, options=assignment.options,
                               unparsable=[str(i) for i in plan.errors if i.kind in ("syntax", "encoding")])
            seen = len(sandbox.violations)  # framework-policy violations so far
            result.exercises.append(enforce(grade_exercise(ctx), ctx, sandbox.violations, seen))
        result.protections = dict(sandbox.protections)
        # Calls a time limit stopped (CPU or wall clock per call, or the whole budget), for batch grading's
        # "timed out" status; the verdicts are already in the checks.
        stopped = sandbox.timed_out + (
            ["total_cpu_s"] if sandbox.budget_used >= sandbox.limits.total_cpu_s else [])
        if stopped:
            result.extra["timed_out"] = stopped
    result.duration_s = round(time.perf_counter() - started, 3)
    return result


def grade_exercise(ctx: CheckContext) -> ExerciseResult:
    exercise = ctx.exercise
    graded = ExerciseResult(id=exercise.id, title=_(exercise.title))  # titles are extracted from exercises
    for unit in exercise.units:
        checks = dict(unit.checks)
        for option, kinds in getattr(unit, "optional_checks", {}).items():  # opt-in kinds (e.g. timing)
            if ctx.options.get(option):
                checks.update(kinds)
        for kind, points in checks.items():
            runner = REGISTRY.get(kind)
            if runner is None:
                graded.checks.append(CheckResult(exercise=exercise.id, function=unit.graded_names()[0], kind=kind,
                                                 max_score=points, status=ERROR,
                                                 message=_("unknown check kind {kind!r}").format(kind=kind)))
                continue
            graded.checks.append(runner(ctx, unit, points))
    return graded
