"""What every check kind shares: the registry of kinds, the context a check runs in, and scoring.

A check kind is a plugin, registered under one name (the name the assignment's `[points]` and
`[visibility]` tables use and the results report), for the unit types it grades:

    @check_kind("forward", units=(Function,))
    def forward(ctx, fn, points) -> CheckResult: ...      # hook `run`: grade the student's code

    @forward.replays
    def _(ctx, fn) -> Iterator[Replay]: ...               # hook `replay`: the cases as `run` builds them,
                                                          # for `grade validate` (no student code)

A kind may declare `depends_on`: the unit's main checks (its forward). When one of them does not pass,
the dependent check earns nothing (a gradient consistent with a wrong forward is worth nothing), and
its feedback says why. Old names of kinds (spec.RENAMED_CHECKS) are still accepted in assignment and
exercise files, with a deprecation warning for the instructor. Exercises name the kinds they want in
their `checks` tables; the engine looks them up here, so adding a kind never touches the engine.
"""
from __future__ import annotations

import time
import warnings
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

import numpy as np

from .. import compare as comparing
from .. import hints
from ..i18n import _
from ..results import (ERROR, FAILED, NOT_ATTEMPTED, PASSED, SKIPPED, CaseResult, CheckResult, Hint,
                       Location, status_of)
from ..context import CheckContext, NotAttempted, Unavailable, outcome_failure  # noqa: F401 - part of this API
from ..spec import RENAMED_CHECKS, Mistake, as_float64

Runner = Callable[["CheckContext", Any, float], CheckResult]
# Multipliers of the dtype's default (rtol, atol) for the check being run, from the assignment's
# [tolerances] table (rtol/atol, or per exercise in [tolerances.<id>]): run_check sets them,
# compare_output applies them.
TOLERANCE_SCALE: ContextVar[tuple[float, float]] = ContextVar("tolerance_scale", default=(1.0, 1.0))


@dataclass
class Replay:
    """One case of a check as `grade validate` replays it, in the grading process, without student code.

    `expected`: the reference's outputs as the check compares them (`names` name them); `mistakes`: each
    catalogued mistake's outputs on the same case (or the exception its reference raised); `grade(outputs)`
    judges outputs as the check would and returns (passed, hint code or None). `trivial`: whether an
    all-zero or constant output must fail this case (False where the expected values are facts, not
    numbers)."""

    label: str
    expected: tuple
    names: list[str]
    grade: Callable[[tuple], tuple[bool, str | None]]
    mistakes: dict[str, Any] = field(default_factory=dict)
    trivial: bool = True


class CheckKind:
    """A registered check kind: its name, the unit types it grades, and its hooks (see the module doc)."""

    def __init__(self, name: str, run: Runner, *, units: tuple[type, ...] = (object,), main: bool = False,
                 depends_on: tuple[str, ...] | str = (), replay: Callable | None = None, doc: str = ""):
        self.name, self.run, self.units, self.main = name, run, tuple(units), main
        self.depends_on = depends_on if depends_on == MAIN else tuple(depends_on)
        self.replay = replay  # None: validate cannot replay this kind (it says so)
        self.verify: Callable | None = None  # checks of the reference itself (autograd against finite differences)
        self.prepare: Callable | None = None  # reference work started before the exercises are graded
        self.__doc__ = doc or run.__doc__
        self.__name__ = getattr(run, "__name__", name)

    def __call__(self, ctx: "CheckContext", unit, points: float) -> CheckResult:
        return self.run(ctx, unit, points)

    def replays(self, hook: Callable[["CheckContext", Any], Iterable[Replay]]) -> Callable:
        """Decorator: set the `replay` hook, `hook(ctx, unit) -> Iterable[Replay]`."""
        self.replay = hook
        return hook

    def verifies(self, hook: Callable[["CheckContext", Any], Iterable[tuple[str, str | None]]]) -> Callable:
        """Decorator: set the `verify` hook, `hook(ctx, unit) -> Iterable[(case label, problem or None)]`:
        properties of the reference the check relies on (its gradients match finite differences...)."""
        self.verify = hook
        return hook

    def prepares(self, hook: Callable[["CheckContext", Any], Any]) -> Callable:
        """Decorator: set the `prepare` hook, `hook(ctx, unit) -> anything`: reference work that needs no
        student, started by the engine as soon as the references are loaded (before any exercise is
        graded), typically in a thread; `run` gets what it returned with ctx.take_ahead(unit, kind,
        "reference")."""
        self.prepare = hook
        return hook

    def grades(self, unit) -> bool:
        return isinstance(unit, self.units)

    def __repr__(self) -> str:
        return f"CheckKind({self.name!r}, units={[u.__name__ for u in self.units]})"


MAIN = "main"  # depends_on=MAIN: on every check of the unit whose kind is main (judges the outputs themselves)
REGISTRY: dict[str, list[CheckKind]] = {}  # name -> the kinds of that name, one per unit type


def nothing_to_replay(ctx: "CheckContext", unit) -> Iterator[Replay]:
    """The replay hook of a kind with no reference values (interface, inputs, timing): validate has
    nothing to compare, and says so only when the kind has no hook at all."""
    return iter(())


def attempt(function: Callable[[], Any]) -> Any:
    """A mistake's outputs, or the exception its reference raised (validate reports it with the mistake)."""
    try:
        return function()
    except Exception as error:  # an instructor's function: report it, do not stop validating
        return error


def output_grader(expected: tuple, names: list[str], *, unit=None, exact: bool = False, batch_size=None,
                  mistakes: tuple[Mistake, ...] = (), mistake_outputs: dict[str, Any] | None = None,
                  terms: tuple | None = None) -> Callable[[tuple], tuple[bool, str | None]]:
    """Replay.grade for checks that compare outputs in order with compare_output (`terms`: each output's
    term magnitudes, as the check passes them): the first failing output decides, and its hint is the
    case's."""
    def grade(actual: tuple) -> tuple[bool, str | None]:
        if len(actual) != len(expected):
            return False, None  # the check says "expected a tuple of n arrays", with no hint
        for i, (name, got, want) in enumerate(zip(names, actual, expected)):
            outputs = {m: out[i] for m, out in (mistake_outputs or {}).items()
                       if isinstance(out, tuple) and i < len(out)}
            ok, _message, _comparison, hint = compare_output(got, want, output=name, unit=unit, exact=exact,
                                                             batch_size=batch_size, mistakes=mistakes,
                                                             mistake_outputs=outputs,
                                                             terms=None if terms is None else terms[i])
            if not ok:
                return False, hint.code if hint else None
        return True, None
    return grade


def check_kind(name: str, *, units: tuple[type, ...] | type = (object,), main: bool = False,
               depends_on: tuple[str, ...] | str = ()) -> Callable[[Runner], CheckKind]:
    """Register `run` as the check kind `name` for `units` (a kind of the same name for a more specific
    unit type is looked up first). `main`: the kind judges the unit's outputs themselves (forward);
    `depends_on`: kind names, or MAIN, whose failure leaves this check without points. Returns the
    CheckKind, still callable as run."""
    units = units if isinstance(units, tuple) else (units,)

    def register(run: Runner) -> CheckKind:
        if name in RENAMED_CHECKS:
            raise ValueError(f"{name!r} is the old name of the check kind {RENAMED_CHECKS[name]!r}")
        kind = CheckKind(name, run, units=units, main=main, depends_on=depends_on)
        REGISTRY.setdefault(name, []).append(kind)
        return kind
    return register


def canonical(name: str) -> str:
    """The name of a kind, for a current or a deprecated name."""
    return RENAMED_CHECKS.get(name, name)


def lookup(name: str, unit) -> CheckKind | None:
    """The kind called `name` (or a deprecated alias) that grades `unit`; None when there is none."""
    kinds = [k for k in REGISTRY.get(canonical(name), []) if k.grades(unit)]
    return min(kinds, key=lambda k: object in k.units, default=None)  # a kind for this unit type first


def dependency_note(kind: CheckKind, main: CheckResult) -> str:
    if kind.name == "gradcheck":
        return _("Your gradient matches your own forward, but the forward is wrong ({main}): this check earns "
                 "points only once {main} passes.").format(main=main.name)
    return _("This check earns points only once {main} passes, and {main} does not pass yet.").format(main=main.name)


def apply_dependencies(unit, results: list[CheckResult]) -> None:
    """A check whose kind depends on a main check of the same unit earns nothing when that check did not
    pass (issue: a constant forward with a zero backward passed gradcheck, kink and inputs)."""
    by_kind = {r.kind: r for r in results}
    for result in results:
        kind = lookup(result.kind, unit)
        if kind is None or not kind.depends_on:
            continue
        names = kind.depends_on if kind.depends_on != MAIN else tuple(
            r.kind for r in results if getattr(lookup(r.kind, unit), "main", False))
        mains = [by_kind[m] for m in names if m in by_kind and m != result.kind]
        broken = [m for m in mains if m.status not in (PASSED, SKIPPED)]
        if not broken or result.status in (SKIPPED, NOT_ATTEMPTED):
            continue
        note = dependency_note(kind, broken[0])
        result.score = 0.0
        if result.status == PASSED:
            result.status, result.message = FAILED, note
        else:
            result.message = f"{note} {result.message}".strip()
        result.extra["depends_on"] = broken[0].name


def compare_output(actual, expected, *, output: str, unit=None, batch_size: int | None = None,
                   exact: bool = False, mistakes: tuple[Mistake, ...] = (),
                   mistake_outputs: dict[str, Any] | None = None, terms=None,
                   slack=None, brief: bool = False) -> tuple[bool, str, Any, Hint | None]:
    """Compare one output; on failure, name a catalogued mistake it matches or diagnose its shape.
    `terms`: the magnitude of the terms forming each expected element (grader/terms.py), which scales
    its tolerance (grader/compare.py); `slack`: an absolute allowance for a documented freedom;
    `brief`: a passing comparison without its statistics (compare's brief)."""
    expected = as_float64(expected)
    rtol, atol = _scaled_tolerance(actual, exact)
    comparison = comparing.compare(actual, expected, label=output, exact=exact, rtol=rtol, atol=atol,
                                   terms=terms, slack=slack, brief=brief)
    if comparison.passed:
        return True, "", comparison, None
    hint = None
    for mistake in mistakes:
        wrong = (mistake_outputs or {}).get(mistake.id)
        # NaN where the variant also gives NaN is that variant's behaviour (unstable losses on big logits).
        if wrong is not None and comparing.compare(actual, as_float64(wrong), exact=exact, heatmap=False,
                                                   equal_nan=True).passed:
            hint = Hint(code=f"mistake:{mistake.id}", text=_(mistake.explanation))  # extracted from exercises
            break
    if hint is None:
        hint = hints.diagnose(actual, expected, batch_size=batch_size,
                              axis_hint=getattr(unit, "axis", None), comparison=comparison)
    return False, comparison.message, comparison, hint


def tolerance_scale(options: dict[str, Any], exercise_id: str) -> tuple[float, float]:
    """(rtol, atol) multipliers of an exercise: [tolerances.<id>] over [tolerances] over 1."""
    table = options.get("tolerances") or {}
    own = table.get(exercise_id) if isinstance(table.get(exercise_id), dict) else {}
    return float(own.get("rtol", table.get("rtol", 1.0))), float(own.get("atol", table.get("atol", 1.0)))


def _scaled_tolerance(actual, exact: bool) -> tuple[float | None, float | None]:
    """The actual dtype's default tolerances times the assignment's multipliers; (None, None) keeps the defaults."""
    scale = TOLERANCE_SCALE.get()
    array = None if exact or scale == (1.0, 1.0) else comparing.coerce(actual)[0]
    if array is None:
        return None, None
    rtol, atol = comparing.tolerance_for(array.dtype)
    return rtol * scale[0], atol * scale[1]


def finish(ctx: CheckContext, result: CheckResult, started: float) -> CheckResult:
    """Score a check from its cases: points split evenly, status from what happened."""
    cases = result.cases
    passed = sum(c.passed for c in cases)
    if cases:
        result.score = round(result.max_score * passed / len(cases), 6)
    if result.status == PASSED:  # a body may set another status itself (its data is unavailable...)
        result.status = status_of(cases)
    if result.status != PASSED and not result.message:
        first = result.failed_cases()[0] if result.failed_cases() else None
        result.message = _("{passed} of {total} cases passed.").format(passed=passed, total=len(cases))
        if first is not None and first.message:
            result.message += " " + _("First failure: {label}: {message}").format(label=first.label,
                                                                                 message=first.message)
    hinted = [c.hint for c in cases if c.hint is not None]
    if hinted and result.hint is None:
        result.hint = hinted[0]
    result.stdout = "".join(ctx.output)[-8192:]
    ctx.output.clear()
    result.duration_s = round(time.perf_counter() - started, 4)
    return result


def run_check(ctx: CheckContext, kind: str, unit, function: str, points: float,
              body: Callable[[CheckResult], None], location: Location | None = None) -> CheckResult:
    """Run a check body that appends cases; turn NotAttempted/Unavailable into statuses."""
    started = time.perf_counter()
    result = CheckResult(exercise=ctx.exercise.id, function=function, kind=kind, max_score=points,
                         visibility=ctx.exercise.visibility.get(kind, "visible"), location=location)
    scale = TOLERANCE_SCALE.set(tolerance_scale(ctx.options, ctx.exercise.id))
    try:
        # A student's NaN or Inf flowing through the grader's arithmetic (finite differences, a mistake's
        # reference) is reported in the verdict, never as a library warning on the grader's terminal.
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            body(result)
    except NotAttempted as why:
        result.cases.clear()
        result.status, result.message = NOT_ATTEMPTED, str(why)
    except Unavailable as why:
        result.cases.clear()
        result.status, result.message = ERROR, str(why)
    except SkipCheck as why:
        result.cases.clear()
        result.status, result.message, result.score = SKIPPED, str(why), 0.0
    except Exception as error:  # a bug in an exercise's reference or in the grader: this check, not the run
        result.cases.clear()
        result.status = ERROR
        result.message = _("The grader could not run this check ({error}); tell your instructor.").format(
            error=f"{type(error).__name__}: {error}")
    finally:
        TOLERANCE_SCALE.reset(scale)
    return finish(ctx, result, started)


class SkipCheck(Exception):
    """The check cannot apply (e.g. no CUDA device for a timing); not a failure."""


def case_result(label: str, call: str, outcome_error: str | None, compared: list[tuple],
                status: str = ERROR) -> CaseResult:
    """Build a case from a call's error (if any) and its (output, ok, message, comparison, hint) rows.
    `outcome_error` is an error of the student's code (it raised, or returned something unusable) unless
    `status` says FAILED (a wrong behaviour found without comparing values, e.g. a modified input)."""
    if outcome_error is not None:
        return CaseResult(label=label, passed=False, call=call, message=outcome_error, status=status)
    for output, ok, message, comparison, hint in compared:
        if not ok:
            return CaseResult(label=label, passed=False, call=call, output=output, message=message,
                              comparison=comparison, hint=hint)
    return CaseResult(label=label, passed=True, call=call)
