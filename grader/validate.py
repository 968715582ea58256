"""`grade validate`: before an assignment is released, check that it grades right.

For every exercise, on the inputs the checks themselves generate (the practice seed):

- references: each PyTorch reference agrees with itself. Two evaluations on the same inputs are
  identical (deterministic), every output and gradient is finite, and the autograd gradients the
  backward checks use match finite differences of the reference (torch.autograd.gradcheck, float64).
- loose checks: an all-zero output, or a constant one (the mean of the expected output), fails every
  case of every forward, backward and update check. Trivial outputs are sent as float32, the loosest
  tolerance a student can get, with the assignment's [tolerances] multipliers applied.
- mistakes: every catalogued mistake is replayed here, in the grading process: its outputs (the
  instructor's torch function, cast to float32) go through compare_output exactly as a student's
  would. It must fail against the reference on some case (caught), and compare_output must name it
  there (named: not hidden behind an earlier mistake of the catalogue that gives the same outputs).
  No student code is needed for that: a mistake's reference imitates the check's outputs.
- model solution: graded by the engine, it gets full marks.
- starter kit: written by grader.starter and graded, it gets 0, with no errors.

Units and mistakes of other check kinds (optimizers' trajectories, data utilities, distributions)
are not replayed here; the model solution and the starter kit still cover them, and the report says
what was left out. The report is for instructors and stays in English (students never see it).
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import torch

from . import torch_bridge
from .assignment import Assignment, builtin_dir
from .checks.base import TOLERANCE_SCALE, CheckContext, compare_output, tolerance_scale
from .checks.functions import _backward_values, _each_case, _upstream  # the checks' own inputs
from .checks.model import _cases as _model_cases, _mistake_grads, reference_grads, reference_probs, sgd_reference
from .results import ERROR, SKIPPED, GradeResult
from .seeds import Seed
from .spec import Arg, Case, Exercise, Function, Mistake, Model, as_float64

OK, DEFECT, NOTE = "ok", "defect", "note"
REFERENCES, LOOSE, MISTAKES, SOLUTION, STARTER = "references", "loose checks", "mistakes", "model solution", \
    "starter kit"
STAGES = (REFERENCES, LOOSE, MISTAKES, SOLUTION, STARTER)
OUTPUT_KINDS = ("forward", "update")  # Function checks comparing the forward's outputs with the reference


@dataclass
class Finding:
    exercise: str
    stage: str  # one of STAGES
    status: str  # ok | defect | note (something left out, not a defect)
    message: str


@dataclass
class Validation:
    assignment: str
    seed: int
    findings: list[Finding] = field(default_factory=list)

    @property
    def defects(self) -> list[Finding]:
        return [f for f in self.findings if f.status == DEFECT]

    def render(self) -> str:
        lines = [f"Validating {self.assignment} (practice seed {self.seed})"]
        exercises = list(dict.fromkeys(f.exercise for f in self.findings))
        for exercise in exercises:
            lines.append("")
            lines.append(exercise)
            own = [f for f in self.findings if f.exercise == exercise]
            for finding in sorted(own, key=lambda f: STAGES.index(f.stage)):
                mark = {OK: "ok", DEFECT: "FAIL", NOTE: "note"}[finding.status]
                lines.append(f"  {mark:<5} {finding.stage:<15} {finding.message}")
        lines.append("")
        if self.defects:
            lines.append(f"{len(self.defects)} defect(s): fix them before releasing this assignment.")
        else:
            lines.append("No defects: the references, checks, mistakes, model solution and starter kit agree.")
        return "\n".join(lines)


def validate(assignment: Assignment, *, solution: Path | None = None, exercise_ids: list[str] | None = None,
             seed: Seed | None = None, limits=None, progress: Callable[[str], None] = lambda line: None) -> Validation:
    seed = seed or Seed(assignment.practice_seed, "practice")
    exercises = assignment.select(exercise_ids)
    report = Validation(assignment=str(assignment.path), seed=seed.value)
    for exercise in exercises:
        progress(f"checking the references, checks and mistakes of {exercise.id}")
        ctx = CheckContext(sandbox=None, exercise=exercise, seed=seed.value, definitions={},
                           options=assignment.options)  # the parent side only: nothing here calls a student
        token = TOLERANCE_SCALE.set(tolerance_scale(assignment.options, exercise.id))
        try:
            for unit in exercise.units:
                report.findings.extend(_unit_findings(ctx, unit))
        finally:
            TOLERANCE_SCALE.reset(token)
    ids = [e.id for e in exercises]
    solution = solution or default_solution(assignment)
    if solution is None:
        report.findings.extend(Finding(i, SOLUTION, NOTE, "not graded: no --solution DIR, and no solution/ folder "
                                       "beside the assignment file") for i in ids)
    else:
        progress(f"grading the model solution {solution}")
        report.findings.extend(_solution_findings(_grade(solution, assignment, seed, ids, limits), ids))
    progress("grading the starter kit")
    with tempfile.TemporaryDirectory(prefix="grader-starter-") as kit:
        from .starter import write_starter
        write_starter(assignment, Path(kit))
        report.findings.extend(_starter_findings(_grade(Path(kit), assignment, seed, ids, limits), ids))
    return report


def default_solution(assignment: Assignment) -> Path | None:
    """solution/ beside the assignment file; the bundled model solution for the bundled assignment."""
    beside = assignment.path.parent / "solution"
    if beside.is_dir():
        return beside
    if assignment.path.resolve().parent == builtin_dir().resolve():
        return builtin_dir() / "solution"
    return None


def _grade(path: Path, assignment: Assignment, seed: Seed, ids: list[str], limits) -> GradeResult:
    from .engine import grade, limits_from
    return grade(path, assignment, seed, exercise_ids=ids, limits=limits or limits_from(assignment))


# --- one unit: references, loose checks, mistakes ------------------------------------------------------


def _unit_findings(ctx: CheckContext, unit) -> list[Finding]:
    if isinstance(unit, Function) and any(k in unit.checks for k in (*OUTPUT_KINDS, "backward", "gradcheck", "kink")):
        checker = FunctionChecks(ctx, unit)
    elif isinstance(unit, Model):
        checker = ModelChecks(ctx, unit)
    else:
        name = " / ".join(unit.graded_names())
        notes = [Finding(ctx.exercise.id, REFERENCES, NOTE, f"{name}: a {type(unit).__name__} graded by "
                         f"{', '.join(unit.checks)}; covered by the model solution and the starter kit only")]
        return notes + _unreplayed(ctx, name, getattr(unit, "mistakes", ()))
    return checker.findings()


def _unreplayed(ctx, name: str, mistakes: Iterable[Mistake]) -> list[Finding]:
    return [Finding(ctx.exercise.id, MISTAKES, NOTE, f"{name}: {m.id} (check {m.check!r}) is not replayed here")
            for m in mistakes]


def _same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))


def _finite(values: tuple) -> bool:
    return all(np.isfinite(v).all() for v in values)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _trivial_outputs(expected: tuple) -> dict[str, tuple]:
    """What a submission that computes nothing returns, in float32: zeros, and each output's mean
    (outputs of one element are their own mean, so a constant says nothing about them)."""
    zeros = tuple(np.zeros(e.shape, np.float32) for e in expected)
    trivial = {"an all-zero output": zeros}
    if any(e.size > 1 for e in expected):
        trivial["a constant output (the mean of the expected one)"] = tuple(
            np.full(e.shape, float(e.mean()), np.float32) if e.size > 1 else z for e, z in zip(expected, zeros))
    return trivial


def _compare_rows(actual: tuple, expected: tuple, names: list[str], *, unit=None, exact=False,
                  mistakes: tuple[Mistake, ...] = (), mistake_outputs: dict[str, tuple] | None = None):
    """(passed, hint code of the first failing output), as compare_output grades a case."""
    for i, (name, got, want) in enumerate(zip(names, actual, expected)):
        outputs = {m: out[i] for m, out in (mistake_outputs or {}).items() if i < len(out)}
        ok, _message, _comparison, hint = compare_output(got, want, output=name, unit=unit, exact=exact,
                                                         mistakes=mistakes, mistake_outputs=outputs)
        if not ok:
            return False, hint.code if hint else None
    return True, None


class Checks:
    """What every unit's checker does with the (kind, label, expected, replay) cases it yields."""

    def __init__(self, ctx: CheckContext, unit):
        self.ctx, self.unit = ctx, unit
        self.exercise = ctx.exercise.id
        self.name = " / ".join(unit.graded_names())
        self.problems: list[str] = []
        self.summary: list[str] = []

    def finding(self, stage: str, status: str, message: str) -> Finding:
        return Finding(self.exercise, stage, status, f"{self.name}: {message}")

    def findings(self) -> list[Finding]:
        out = []
        self.check_references()
        out += [self.finding(REFERENCES, DEFECT, p) for p in self.problems] or [
            self.finding(REFERENCES, OK, "; ".join(self.summary))]
        loose = self.loose_problems()
        out += [self.finding(LOOSE, DEFECT, p) for p in loose] or [
            self.finding(LOOSE, OK, "zero and constant outputs fail every case")]
        out += self.mistake_findings()
        return out

    # Subclasses yield, per check kind, (label, expected outputs, output names, mistake outputs by id).
    def comparisons(self, kind: str, mistakes: tuple[Mistake, ...]):
        raise NotImplementedError

    def output_kinds(self) -> list[str]:
        raise NotImplementedError

    def mistake_kinds(self) -> dict[str, tuple[Mistake, ...]]:
        """Check kind -> its catalogued mistakes, in the order the check tries them."""
        raise NotImplementedError

    def loose_problems(self) -> list[str]:
        problems = []
        for kind in self.output_kinds():
            for label, expected, names, _outs in self.safely(kind, ()):
                for what, trivial in _trivial_outputs(expected).items():
                    if _compare_rows(trivial, expected, names, exact=getattr(self.unit, "exact", False))[0]:
                        problems.append(f"{kind}: {what} passes {label}; the reference gives (almost) that there, or "
                                        f"the tolerance is too loose (see [tolerances])")
        return problems

    def safely(self, kind: str, mistakes: tuple[Mistake, ...]):
        try:
            yield from self.comparisons(kind, mistakes)
        except Exception as error:  # an instructor's reference or mistake: say which and why
            self.problems.append(f"{kind}: {_first_line(error)}")

    def mistake_findings(self) -> list[Finding]:
        out = []
        for kind, mistakes in self.mistake_kinds().items():
            if kind not in self.unit.checks:
                out += [self.finding(MISTAKES, DEFECT, f"{m.id} imitates check {kind!r}, which this unit does not "
                                     f"grade: it is never compared") for m in mistakes]
            elif kind not in self.REPLAYED:
                out += [self.finding(MISTAKES, NOTE, f"{m.id} (check {kind!r}) is not replayed here") for m in mistakes]
            else:
                out += self.replay(kind, mistakes)
        return out

    def replay(self, kind: str, mistakes: tuple[Mistake, ...]) -> list[Finding]:
        """Grade each mistake's outputs as a student's: caught on some case, and named there."""
        caught: dict[str, bool] = {m.id: False for m in mistakes}
        named_as: dict[str, set] = {m.id: set() for m in mistakes}
        exact = getattr(self.unit, "exact", False)
        for _label, expected, names, outs in self.safely(kind, mistakes):
            for mistake in mistakes:
                actual = tuple(np.asarray(o).astype(np.float32) for o in outs[mistake.id])
                passed, hint = _compare_rows(actual, expected, names, unit=self.unit, exact=exact, mistakes=mistakes,
                                             mistake_outputs=outs)
                if not passed:
                    caught[mistake.id] = True
                    named_as[mistake.id].add(hint or "no hint")
        out = []
        for mistake in mistakes:
            if not caught[mistake.id]:
                out.append(self.finding(MISTAKES, DEFECT, f"{mistake.id} is not caught: its outputs equal the "
                                        f"reference's within tolerance on every case of {kind!r}"))
            elif f"mistake:{mistake.id}" not in named_as[mistake.id]:
                out.append(self.finding(MISTAKES, DEFECT, f"{mistake.id} is caught but never named: the feedback "
                                        f"gives {', '.join(sorted(named_as[mistake.id]))} instead (an earlier "
                                        f"mistake with the same outputs?)"))
            else:
                out.append(self.finding(MISTAKES, OK, f"{mistake.id} caught and named ({kind})"))
        return out

    def check_references(self) -> None:
        raise NotImplementedError

    def compare_twice(self, what: str, label: str, evaluate: Callable[[], tuple]) -> tuple | None:
        """Evaluate a reference twice; record a problem when the two differ or are not finite."""
        try:
            first, second = evaluate(), evaluate()
        except Exception as error:
            self.problems.append(f"{what} raised on {label}: {_first_line(error)}")
            return None
        if not _same(first, second):
            self.problems.append(f"{what} is not deterministic: two evaluations on {label} differ (random numbers "
                                 f"in a reference? draw them as an argument, as dropout's mask)")
        elif not _finite(first):
            self.problems.append(f"{what} gives NaN or Inf on {label}")
        return first

    def gradcheck(self, label: str, function: Callable, leaves: tuple) -> bool:
        try:
            torch.autograd.gradcheck(function, leaves, fast_mode=True)
            return True
        except Exception as error:
            self.problems.append(f"autograd gradients do not match finite differences of the reference on {label}: "
                                 f"{_first_line(error)}")
            return False


class FunctionChecks(Checks):
    unit: Function

    def output_kinds(self) -> list[str]:
        fn = self.unit
        kinds = [k for k in OUTPUT_KINDS if k in fn.checks]
        return kinds + (["backward"] if fn.backward and "backward" in fn.checks else [])

    def mistake_kinds(self) -> dict[str, tuple[Mistake, ...]]:
        kinds: dict[str, tuple[Mistake, ...]] = {}
        for mistake in self.unit.mistakes:
            kinds[mistake.check] = kinds.get(mistake.check, ()) + (mistake,)
        if self.unit.backward and self.unit.backward.mistakes:
            kinds["backward"] = self.unit.backward.mistakes  # the backward check tries them all
        return kinds

    def comparisons(self, kind: str, mistakes: tuple[Mistake, ...]):
        fn = self.unit
        for label, inputs, rng in _each_case(self.ctx, fn, kind):
            if kind == "backward":
                upstream = _upstream(fn, inputs, rng)
                names, values = _backward_values(fn, inputs, upstream)
                expected = torch_bridge.gradients(fn.reference, inputs, fn.backward.wrt, upstream)
                output_names = [f"d{w}" for w in fn.backward.wrt]
            else:
                values, output_names = list(inputs.values()), list(fn.outputs)
                expected = torch_bridge.forward(fn.reference, inputs)
            outs = {m.id: torch_bridge.call_numpy(m.reference, values) for m in mistakes}
            yield label, expected, output_names, outs

    def check_references(self) -> None:
        fn = self.unit
        counted = 0
        for kind in (k for k in OUTPUT_KINDS if k in fn.checks):
            for label, inputs, _rng in _each_case(self.ctx, fn, kind):
                self.compare_twice(f"{kind}: the reference", label, lambda: torch_bridge.forward(fn.reference, inputs))
                counted += 1
        for i, kink in enumerate(fn.kinks):
            inputs = {n: np.array(v, dtype=np.float64) if isinstance(v, (list, np.ndarray)) else v
                      for n, v in kink.items()}
            self.compare_twice("the reference", f"kink case {i + 1}", lambda: torch_bridge.forward(fn.reference, inputs))
        gradchecked = 0
        if fn.backward is not None and ("backward" in fn.checks or "gradcheck" in fn.checks):
            for label, inputs, rng in _each_case(self.ctx, fn, "backward"):
                upstream = _upstream(fn, inputs, rng)
                grads = self.compare_twice("backward: the reference's autograd gradients", label,
                                           lambda: torch_bridge.gradients(fn.reference, inputs, fn.backward.wrt,
                                                                          upstream))
                if grads is not None and self.gradcheck(label, *self._differentiable(inputs)):
                    gradchecked += 1
        self.summary.append(f"deterministic and finite on {counted} case(s)")
        if gradchecked:
            self.summary.append(f"autograd gradients match finite differences on {gradchecked} case(s)")

    def _differentiable(self, inputs: dict) -> tuple[Callable, tuple]:
        """The reference's first output (the one a backward differentiates) as a function of `wrt`."""
        fn, wrt = self.unit, self.unit.backward.wrt
        fixed = {n: torch_bridge.to_tensor(v) for n, v in inputs.items()}
        leaves = tuple(torch_bridge.to_tensor(inputs[n], requires_grad=True) for n in wrt)

        def first_output(*moved):
            values = {**fixed, **dict(zip(wrt, moved))}
            return torch_bridge.as_tuple(fn.reference(*values.values()))[0]
        return first_output, leaves


class ModelChecks(Checks):
    """A class with parameters: its reference (probabilities) and loss; mistakes of its backward,
    update and loss checks."""

    unit: Model
    KINDS = {"backward": "model_backward", "update": "model_update", "loss": "model_loss"}

    def output_kinds(self) -> list[str]:
        return [k for k in ("forward", "backward") if f"model_{k}" in self.unit.checks]

    def mistake_kinds(self) -> dict[str, tuple[Mistake, ...]]:
        kinds: dict[str, tuple[Mistake, ...]] = {}
        for mistake in self.unit.mistakes:
            kind = self.KINDS.get(mistake.check, mistake.check)
            kinds[kind] = kinds.get(kind, ()) + (mistake,)
        return kinds

    def comparisons(self, kind: str, mistakes: tuple[Mistake, ...]):
        model = self.unit
        kind = kind.removeprefix("model_")
        keys = [model.grad_key(k) for k in model.params]
        for case, label, params, X, y, rng in _model_cases(self.ctx, model, kind):
            if kind == "forward":
                yield label, (reference_probs(model, params, X),), ["probabilities"], {}
            elif kind == "backward":
                expected = reference_grads(model, params, X, y)[1]
                outs = {m: tuple(g[k] for k in model.params) for m, g in _mistake_grads(model, params, X, y).items()}
                yield label, tuple(expected[k] for k in model.params), keys, outs
            elif kind == "update":
                grads = {k: rng.normal(0.0, 1.0, v.shape) for k, v in params.items()}
                expected = sgd_reference(params, grads, model.learning_rate)
                as_t = lambda d: {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in d.items()}  # noqa
                outs = {m.id: tuple(as_float64(m.reference(as_t(params), as_t(grads), model.learning_rate)[k])
                                    for k in model.params) for m in mistakes}
                yield label, tuple(expected[k] for k in model.params), [f"self.{k}" for k in model.params], outs
            elif kind == "loss":
                from .inputs import draw
                probs = draw(Arg(shape=("N", "C"), kind="probs"), Case(dims={"N": X.shape[0], "C": y.shape[1]}), rng)
                expected = (as_float64(model.loss(torch.from_numpy(probs), torch.from_numpy(y))),)
                outs = {m.id: torch_bridge.call_numpy(m.reference, [probs, y]) for m in mistakes}
                yield label, expected, ["loss"], outs

    def check_references(self) -> None:
        model = self.unit
        count = 0
        for case, label, params, X, y, rng in _model_cases(self.ctx, model, "backward"):
            self.compare_twice("the reference's probabilities", label, lambda: (reference_probs(model, params, X),))
            grads = self.compare_twice("the reference's loss and gradients", label, lambda: (
                np.float64(reference_grads(model, params, X, y)[0]), *reference_grads(model, params, X, y)[1].values()))
            leaves = tuple(torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in params.values())
            loss = lambda *p: model.loss(model.reference(dict(zip(params, p)), torch.from_numpy(X)),  # noqa: E731
                                         torch.from_numpy(y))
            if grads is not None and self.gradcheck(label, loss, leaves):
                count += 1
        self.summary.append(f"deterministic and finite; autograd gradients of the loss match finite differences on "
                            f"{count} case(s)")


# --- the whole assignment: model solution and starter kit ------------------------------------------------


def _lost(check) -> str:
    failed = check.failed_cases()
    detail = failed[0].message if failed and failed[0].message else check.message
    return f"{check.name} {check.score:g}/{check.max_score:g}: {' '.join(str(detail).split())[:300]}"


def _solution_findings(result: GradeResult, ids: list[str]) -> list[Finding]:
    findings = [Finding(i, SOLUTION, DEFECT, f"grading error: {e}") for e in result.errors for i in ids[:1]]
    for exercise in result.exercises:
        lost = [c for c in exercise.checks if c.score < c.max_score and c.status != SKIPPED]
        findings += [Finding(exercise.id, SOLUTION, DEFECT, f"loses points at {_lost(c)}") for c in lost]
        skipped = [c.name for c in exercise.checks if c.status == SKIPPED]
        if skipped:
            findings.append(Finding(exercise.id, SOLUTION, NOTE, f"skipped here: {', '.join(skipped)}"))
        if not lost:
            findings.append(Finding(exercise.id, SOLUTION, OK, f"full marks ({exercise.score:g}/{exercise.max_score:g})"))
    return findings


def _starter_findings(result: GradeResult, ids: list[str]) -> list[Finding]:
    findings = [Finding(i, STARTER, DEFECT, f"grading error: {e}") for e in result.errors for i in ids[:1]]
    for exercise in result.exercises:
        bad = [c for c in exercise.checks if c.score > 0 or c.status == ERROR]
        findings += [Finding(exercise.id, STARTER, DEFECT, (
            f"earns points at {c.name} ({c.score:g}/{c.max_score:g}): the check passes code that does nothing"
            if c.score > 0 else f"an error instead of 'not attempted' at {c.name}: {c.message}")) for c in bad]
        if not bad:
            findings.append(Finding(exercise.id, STARTER, OK, f"0/{exercise.max_score:g}, every check not attempted"))
    return findings
