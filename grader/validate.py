"""`grade validate`: before an assignment is released, check that it grades right.

For every exercise, on the inputs the checks themselves generate (the practice seed):

- references: each PyTorch reference agrees with itself. Two evaluations on the same inputs are
  identical (deterministic), every output and gradient is finite, and the autograd gradients the
  backward checks use match finite differences of the reference (torch.autograd.gradcheck, float64).
- loose checks: an all-zero output, or a constant one (the mean of the expected output), fails every
  case of every forward, backward, kink and update check. Trivial outputs are sent as float32, the loosest
  tolerance a student can get, under the assignment's [tolerances] multipliers.
- mistakes: every catalogued mistake is replayed here, in the grading process: its outputs (the
  instructor's torch function, cast to float32) go through compare_output exactly as a student's
  would. It must fail against the reference on some case (caught), and compare_output must name it
  there (named: not hidden behind an earlier mistake of the catalogue with the same outputs). No
  student code is involved: a mistake's reference already imitates what its check compares.
- model solution: graded by the engine, it gets full marks.
- starter kit: written by grader.starter and graded, it gets 0, with no errors.

Units and mistakes of other check kinds (optimizers' trajectories, data utilities, distributions)
are not replayed here; the model solution and the starter kit still cover them, and the report notes
what was left out. The report is for instructors and stays in English: students never see it.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from . import torch_bridge
from .assignment import Assignment, builtin_dir
from .checks.base import TOLERANCE_SCALE, CheckContext, compare_output, tolerance_scale
# The checks' own case generators: the inputs validated are exactly the ones students are graded on.
from .checks.functions import _backward_values, _each_case, _upstream
from .checks.model import _cases as _model_cases
from .checks.model import _mistake_grads, reference_grads, reference_probs, sgd_reference
from .inputs import draw
from .results import ERROR, SKIPPED, GradeResult
from .seeds import Seed
from .spec import Arg, Case, Function, Mistake, Model, as_float64

OK, DEFECT, NOTE = "ok", "defect", "note"  # a note is something left out, not a defect
REFERENCES, LOOSE, MISTAKES, SOLUTION, STARTER = ("references", "loose checks", "mistakes", "model solution",
                                                  "starter kit")
STAGES = (REFERENCES, LOOSE, MISTAKES, SOLUTION, STARTER)
WHOLE = "(assignment)"  # findings about a whole grading run rather than one exercise


@dataclass
class Finding:
    exercise: str
    stage: str  # one of STAGES
    status: str  # ok | defect | note
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
        for exercise in dict.fromkeys(f.exercise for f in self.findings):
            lines += ["", exercise]
            own = sorted((f for f in self.findings if f.exercise == exercise), key=lambda f: STAGES.index(f.stage))
            lines += [f"  {({OK: 'ok', DEFECT: 'FAIL', NOTE: 'note'})[f.status]:<5} {f.stage:<15} {f.message}"
                      for f in own]
        lines.append("")
        if self.defects:
            lines.append(f"{len(self.defects)} defect(s) (FAIL above): fix them before releasing this assignment.")
        else:
            lines.append("No defects: references, checks, mistakes, model solution and starter kit agree.")
        return "\n".join(lines)


def validate(assignment: Assignment, *, solution: Path | None = None, exercise_ids: list[str] | None = None,
             seed: Seed | None = None, limits=None, progress: Callable[[str], None] = lambda line: None) -> Validation:
    """Validate the exercises `exercise_ids` (default: all) of an assignment; see the module's docstring."""
    seed = seed or Seed(assignment.practice_seed, "practice")
    exercises = assignment.select(exercise_ids)
    report = Validation(assignment=str(assignment.path), seed=seed.value)
    for exercise in exercises:
        progress(f"{exercise.id}: references, checks and mistakes")
        # The parent side only: nothing in this context can call student code (there is no sandbox).
        ctx = CheckContext(sandbox=None, exercise=exercise, seed=seed.value, definitions={},
                           options=assignment.options)
        token = TOLERANCE_SCALE.set(tolerance_scale(assignment.options, exercise.id))
        try:
            for unit in exercise.units:
                report.findings += unit_findings(ctx, unit)
        finally:
            TOLERANCE_SCALE.reset(token)
    ids = [e.id for e in exercises]
    solution = solution or default_solution(assignment)
    if solution is None:
        report.findings += [Finding(i, SOLUTION, NOTE, "not graded: give --solution DIR, or put the model solution "
                                                       "in solution/ beside the assignment file") for i in ids]
    else:
        progress(f"grading the model solution {solution}")
        report.findings += _graded(SOLUTION, solution_findings, Path(solution), assignment, seed, ids, limits)
    progress("grading the starter kit")
    from .starter import write_starter
    with tempfile.TemporaryDirectory(prefix="grader-starter-") as kit:
        write_starter(assignment, Path(kit))
        report.findings += _graded(STARTER, starter_findings, Path(kit), assignment, seed, ids, limits)
    return report


def default_solution(assignment: Assignment) -> Path | None:
    """solution/ beside the assignment file; the bundled model solution for the bundled assignment."""
    beside = assignment.path.parent / "solution"
    if beside.is_dir():
        return beside
    if assignment.path.resolve().parent == builtin_dir().resolve():
        return builtin_dir() / "solution"
    return None


def _graded(stage: str, findings: Callable[[GradeResult], list[Finding]], path: Path, assignment: Assignment,
            seed: Seed, ids: list[str], limits) -> list[Finding]:
    """Grade `path` with the engine, all exercises at once; when that crashes (an exercise's reference
    or mistake raising in a check), one exercise at a time, so the crash is pinned on its exercise."""
    from .engine import grade, limits_from
    limits = limits or limits_from(assignment)

    def crashed(exercise_id: str, error: Exception) -> Finding:
        return Finding(exercise_id, stage, DEFECT, f"grading crashed: {_first_line(error)} (see the references "
                                                   f"and mistakes above)")
    try:
        return findings(grade(path, assignment, seed, exercise_ids=ids, limits=limits))
    except Exception as error:
        if len(ids) == 1:
            return [crashed(ids[0], error)]
    out = []
    for exercise_id in ids:
        try:
            out += findings(grade(path, assignment, seed, exercise_ids=[exercise_id], limits=limits))
        except Exception as error:
            out.append(crashed(exercise_id, error))
    return out


# --- one unit: references, loose checks, mistakes -----------------------------------------------------


def unit_findings(ctx: CheckContext, unit) -> list[Finding]:
    if isinstance(unit, Function) and any(k in unit.checks for k in (*FunctionChecks.REPLAYED, "gradcheck", "kink")):
        return FunctionChecks(ctx, unit).findings()
    if isinstance(unit, Model):
        return ModelChecks(ctx, unit).findings()
    name = " / ".join(unit.graded_names())
    return [Finding(ctx.exercise.id, REFERENCES, NOTE, f"{name}: graded by {', '.join(unit.checks)}, which this "
                                                       f"command does not replay; the model solution and the starter "
                                                       f"kit cover it")] + [
        Finding(ctx.exercise.id, MISTAKES, NOTE, f"{name}: {m.id} (check {m.check!r}) is not replayed here")
        for m in getattr(unit, "mistakes", ())]


def _same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _attempt(function: Callable[[], Any]) -> Any:
    """A mistake's outputs, or the exception its reference raised (reported with that mistake)."""
    try:
        return function()
    except Exception as error:  # an instructor's function: report it, do not stop validating
        return error


def _trivial_outputs(expected: tuple) -> dict[str, tuple]:
    """What a submission that computes nothing returns, in float32: zeros, and each output's mean
    (an output of one element is its own mean, so it gets zeros there)."""
    zeros = tuple(np.zeros(e.shape, np.float32) for e in expected)
    trivial = {"an all-zero output": zeros}
    if any(e.size > 1 for e in expected):
        trivial["a constant output (the mean of the expected one)"] = tuple(
            np.full(e.shape, float(e.mean()), np.float32) if e.size > 1 else z for e, z in zip(expected, zeros))
    return trivial


def _grade_case(actual: tuple, expected: tuple, names: list[str], *, unit=None, exact=False,
                mistakes: tuple[Mistake, ...] = (), mistake_outputs: dict[str, tuple] | None = None):
    """(passed, hint code) of one case, as the checks grade it: outputs in order, the first failing
    one decides (and its hint is the case's)."""
    if len(actual) != len(expected):
        return False, None  # the check says "expected a tuple of n arrays", with no hint
    for i, (name, got, want) in enumerate(zip(names, actual, expected)):
        outputs = {m: out[i] for m, out in (mistake_outputs or {}).items() if isinstance(out, tuple) and i < len(out)}
        ok, _message, _comparison, hint = compare_output(got, want, output=name, unit=unit, exact=exact,
                                                         mistakes=mistakes, mistake_outputs=outputs)
        if not ok:
            return False, hint.code if hint else None
    return True, None


class UnitChecks:
    """Validation of one unit. A subclass says which check kinds it replays and yields, per kind,
    the cases the check grades: (label, expected outputs, output names, {mistake id: outputs})."""

    REPLAYED: tuple[str, ...] = ()

    def __init__(self, ctx: CheckContext, unit):
        self.ctx, self.unit = ctx, unit
        self.name = unit.graded_names()[0]
        self.exact = getattr(unit, "exact", False)
        self.problems: dict[str, list[str]] = {}  # of the stage being run: problem -> the cases showing it
        self.summary: list[str] = []

    def cases(self, kind: str, mistakes: tuple[Mistake, ...]):
        raise NotImplementedError

    def check_references(self) -> None:
        raise NotImplementedError

    def output_kinds(self) -> list[str]:
        """The graded kinds whose cases must not pass with a trivial output."""
        raise NotImplementedError

    def compared_by(self, kind: str) -> list[str]:
        """The check kinds that compare the mistakes of `kind` (and name them)."""
        return [kind]

    def mistake_kinds(self) -> dict[str, tuple[Mistake, ...]]:
        """Check kind -> its catalogued mistakes, in the order the check tries them."""
        raise NotImplementedError

    def findings(self) -> list[Finding]:
        out = self._stage(REFERENCES, self.check_references, lambda: "; ".join(self.summary))
        out += self._stage(LOOSE, self.check_loose, lambda: "zero and constant outputs fail every case")
        return out + self.mistake_findings()

    def _stage(self, stage: str, run: Callable[[], None], ok: Callable[[], str]) -> list[Finding]:
        self.problems = {}
        run()
        return [self.finding(stage, DEFECT, p) for p in self.problem_lines()] or [self.finding(stage, OK, ok())]

    def problem(self, text: str, label: str = "") -> None:
        """Record a problem; the same problem on several cases is one line naming them all."""
        self.problems.setdefault(text, []).extend([label] if label else [])

    def problem_lines(self) -> list[str]:
        return [f"{text} {'; '.join(labels)}" if labels else text for text, labels in self.problems.items()]

    def finding(self, stage: str, status: str, message: str) -> Finding:
        return Finding(self.ctx.exercise.id, stage, status, f"{self.name}: {message}")

    def safely(self, kind: str, mistakes: tuple[Mistake, ...] = ()):
        """The cases of `kind`; a reference that raises becomes a problem of the stage being run."""
        try:
            yield from self.cases(kind, mistakes)
        except Exception as error:
            self.problem(f"{kind}: the reference raised {_first_line(error)}")

    # references --------------------------------------------------------------------------------------

    def twice(self, what: str, label: str, evaluate: Callable[[], tuple]) -> tuple | None:
        """Evaluate a reference twice: a problem when it raises, the two differ, or it is not finite."""
        try:
            first, second = evaluate(), evaluate()
        except Exception as error:
            self.problem(f"{what} raised {_first_line(error)} on", label)
            return None
        if not _same(first, second):
            self.problem(f"{what} is not deterministic (random numbers? make them an argument the grader draws, as "
                         f"dropout's mask): two evaluations differ on", label)
            return None
        if not all(np.isfinite(v).all() for v in first):
            self.problem(f"{what} gives NaN or Inf on", label)
            return None
        return first

    def gradcheck(self, label: str, function: Callable, leaves: tuple) -> bool:
        try:
            torch.autograd.gradcheck(function, leaves, fast_mode=True)
            return True
        except Exception as error:
            self.problem(f"autograd gradients do not match finite differences of the reference "
                         f"({_first_line(error).rstrip(',.')}) on", label)
            return False

    # loose checks ------------------------------------------------------------------------------------

    def check_loose(self) -> None:
        for kind in self.output_kinds():
            for label, expected, names, _outs in self.safely(kind):
                for what, trivial in _trivial_outputs(expected).items():
                    if _grade_case(trivial, expected, names, exact=self.exact)[0]:
                        self.problem(f"{kind}: {what} passes (the reference is nearly that there, or the tolerance "
                                     f"is too loose: see [tolerances] in the assignment) on", label)

    # mistakes ----------------------------------------------------------------------------------------

    def mistake_findings(self) -> list[Finding]:
        out = []
        for kind, mistakes in self.mistake_kinds().items():
            if kind not in self.unit.checks:
                out += [self.finding(MISTAKES, DEFECT, f"{m.id} imitates check {kind!r}, which this unit does not "
                                                       f"grade: it is never compared") for m in mistakes]
            elif kind not in self.REPLAYED:
                out += [self.finding(MISTAKES, NOTE, f"{m.id} (check {kind!r}) is not replayed here")
                        for m in mistakes]
            else:
                self.problems = {}
                results = self.replay(kind, mistakes)
                out += [self.finding(MISTAKES, DEFECT, p) for p in self.problem_lines()] + results
        return out

    def replay(self, kind: str, mistakes: tuple[Mistake, ...]) -> list[Finding]:
        """Grade each mistake's outputs as a student's: it must be caught on some case, and named there."""
        caught = {m.id: False for m in mistakes}
        named_as: dict[str, set[str]] = {m.id: set() for m in mistakes}
        raised: dict[str, BaseException] = {}
        kinds = self.compared_by(kind)
        cases = (case for k in kinds for case in self.safely(k, mistakes))
        for _label, expected, names, outs in cases:
            for mistake in mistakes:
                outputs = outs[mistake.id]
                if isinstance(outputs, BaseException):
                    raised.setdefault(mistake.id, outputs)
                    continue
                actual = tuple(np.asarray(o).astype(np.float32) for o in outputs)
                passed, hint = _grade_case(actual, expected, names, unit=self.unit, exact=self.exact,
                                           mistakes=mistakes, mistake_outputs=outs)
                if not passed:
                    caught[mistake.id] = True
                    named_as[mistake.id].add(hint or "no hint")
        out = []
        for m in mistakes:
            if m.id in raised:
                out.append(self.finding(MISTAKES, DEFECT, f"{m.id}: its reference raised {_first_line(raised[m.id])}"))
            elif not caught[m.id]:
                where = " and ".join(map(repr, kinds))
                out.append(self.finding(MISTAKES, DEFECT, f"{m.id} is not caught: its outputs equal the reference's "
                                                          f"within tolerance on every case of {where}"))
            elif f"mistake:{m.id}" not in named_as[m.id]:
                out.append(self.finding(MISTAKES, DEFECT, f"{m.id} is caught but never named: the feedback gives "
                                                          f"{', '.join(sorted(named_as[m.id]))} instead (an earlier "
                                                          f"mistake with the same outputs?)"))
            else:
                out.append(self.finding(MISTAKES, OK, f"{m.id} caught and named ({kind})"))
        return out


class FunctionChecks(UnitChecks):
    unit: Function
    REPLAYED = ("forward", "update", "backward")

    def mistake_kinds(self) -> dict[str, tuple[Mistake, ...]]:
        kinds: dict[str, tuple[Mistake, ...]] = {}
        for mistake in self.misplaced(keep=True):
            kinds[mistake.check] = kinds.get(mistake.check, ()) + (mistake,)
        if self.unit.backward and self.unit.backward.mistakes:
            kinds["backward"] = self.unit.backward.mistakes  # the backward check tries all of them
        return kinds

    def misplaced(self, keep: bool = False) -> list[Mistake]:
        """The forward's mistakes that say check="backward": the backward check never reads them (keep=True:
        the others)."""
        return [m for m in self.unit.mistakes if (m.check == "backward") != keep]

    def mistake_findings(self) -> list[Finding]:
        return [self.finding(MISTAKES, DEFECT, f"{m.id} says check=\"backward\" but is in the forward's mistakes, "
                                               f"which the backward check never reads: move it to "
                                               f"Backward(mistakes=...)") for m in self.misplaced()] + \
            super().mistake_findings()

    def output_kinds(self) -> list[str]:
        graded = [k for k in ("forward", "update", "backward", "kink") if k in self.unit.checks]
        return [k for k in graded if k != "backward" or self.unit.backward]

    def compared_by(self, kind: str) -> list[str]:
        """The kink check compares the backward's mistakes (the forward's, without a backward) too."""
        target = "backward" if self.unit.backward else "forward"
        return [kind] + (["kink"] if kind == target and "kink" in self.unit.checks else [])

    def _inputs(self, kind: str):
        if kind != "kink":
            yield from _each_case(self.ctx, self.unit, kind)
            return
        for i, kink in enumerate(self.unit.kinks):  # as the kink check builds them
            inputs = {n: np.array(v, dtype=np.float64) if isinstance(v, (list, np.ndarray)) else v
                      for n, v in kink.items()}
            yield f"kink case {i + 1}", inputs, self.ctx.rng(self.unit.name, "kink", str(i))

    def cases(self, kind: str, mistakes: tuple[Mistake, ...]):
        fn = self.unit
        differentiate = kind == "backward" or (kind == "kink" and fn.backward is not None)
        for label, inputs, rng in self._inputs(kind):
            if differentiate:
                upstream = _upstream(fn, inputs, rng)
                values = _backward_values(fn, inputs, upstream)[1]
                expected = torch_bridge.gradients(fn.reference, inputs, fn.backward.wrt, upstream)
                names = [f"d{w}" for w in fn.backward.wrt]
            else:
                values, names = list(inputs.values()), list(fn.outputs)
                expected = torch_bridge.forward(fn.reference, inputs)
            outs = {m.id: _attempt(lambda m=m: torch_bridge.call_numpy(m.reference, values)) for m in mistakes}
            yield label, expected, names, outs

    def check_references(self) -> None:
        fn = self.unit
        evaluated = gradchecked = 0
        for kind in (k for k in ("forward", "update") if k in fn.checks):
            for label, inputs, _rng in _each_case(self.ctx, fn, kind):
                self.twice(f"{kind}: the reference", label, lambda: torch_bridge.forward(fn.reference, inputs))
                evaluated += 1
        for label, inputs, _rng in self._inputs("kink"):  # conventions at kinks: not differentiable there
            self.twice("the reference", label, lambda: torch_bridge.forward(fn.reference, inputs))
        if fn.backward is not None and ("backward" in fn.checks or "gradcheck" in fn.checks):
            for label, inputs, rng in _each_case(self.ctx, fn, "backward"):
                upstream = _upstream(fn, inputs, rng)
                grads = self.twice("backward: the reference's autograd gradients", label,
                                   lambda: torch_bridge.gradients(fn.reference, inputs, fn.backward.wrt, upstream))
                if grads is not None and self.gradcheck(label, *self._differentiable(inputs)):
                    gradchecked += 1
        self.summary.append(f"deterministic and finite on {evaluated} case(s)")
        if gradchecked:
            self.summary.append(f"autograd gradients match finite differences on {gradchecked} case(s)")

    def _differentiable(self, inputs: dict) -> tuple[Callable, tuple]:
        """The reference's first output (the one a backward differentiates) as a function of `wrt`."""
        fn, wrt = self.unit, self.unit.backward.wrt
        fixed = {n: torch_bridge.to_tensor(v) for n, v in inputs.items()}
        leaves = tuple(torch_bridge.to_tensor(inputs[n], requires_grad=True) for n in wrt)

        def first_output(*moved):
            return torch_bridge.as_tuple(fn.reference(*{**fixed, **dict(zip(wrt, moved))}.values()))[0]
        return first_output, leaves


def _tensors(arrays: dict) -> dict:
    return {k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in arrays.items()}


class ModelChecks(UnitChecks):
    """A class with parameters: its reference (probabilities and loss); the mistakes of its backward,
    update and loss checks."""

    unit: Model
    REPLAYED = ("model_backward", "model_update", "model_loss")

    def output_kinds(self) -> list[str]:
        return [k for k in ("model_forward", "model_backward") if k in self.unit.checks]

    def mistake_kinds(self) -> dict[str, tuple[Mistake, ...]]:
        kinds: dict[str, tuple[Mistake, ...]] = {}
        for mistake in self.unit.mistakes:  # a model's mistakes say "backward" for the check model_backward
            kind = mistake.check if mistake.check.startswith("model_") else f"model_{mistake.check}"
            kinds[kind] = kinds.get(kind, ()) + (mistake,)
        return kinds

    def cases(self, kind: str, mistakes: tuple[Mistake, ...]):
        model, names = self.unit, list(self.unit.params)
        for _case, label, params, X, y, rng in _model_cases(self.ctx, model, kind.removeprefix("model_")):
            if kind == "model_forward":
                yield label, (reference_probs(model, params, X),), ["probabilities"], {}
            elif kind == "model_backward":
                expected = reference_grads(model, params, X, y)[1]
                grads = _attempt(lambda: _mistake_grads(model, params, X, y))
                outs = {m.id: grads if isinstance(grads, BaseException) else tuple(grads[m.id][k] for k in names)
                        for m in mistakes}
                yield label, tuple(expected[k] for k in names), [model.grad_key(k) for k in names], outs
            elif kind == "model_update":
                grads = {k: rng.normal(0.0, 1.0, v.shape) for k, v in params.items()}
                expected = sgd_reference(params, grads, model.learning_rate)
                outs = {m.id: _attempt(lambda m=m: tuple(as_float64(v) for v in m.reference(
                    _tensors(params), _tensors(grads), model.learning_rate).values())) for m in mistakes}
                yield label, tuple(expected[k] for k in names), [f"self.{k}" for k in names], outs
            elif kind == "model_loss":
                probs = draw(Arg(shape=("N", "C"), kind="probs"), Case(dims={"N": X.shape[0], "C": y.shape[1]}), rng)
                expected = (as_float64(model.loss(torch.from_numpy(probs), torch.from_numpy(y))),)
                outs = {m.id: _attempt(lambda m=m: torch_bridge.call_numpy(m.reference, [probs, y])) for m in mistakes}
                yield label, expected, ["loss"], outs

    def check_references(self) -> None:
        model = self.unit
        gradchecked = 0
        for _case, label, params, X, y, _rng in _model_cases(self.ctx, model, "backward"):
            self.twice("the reference's probabilities", label, lambda: (reference_probs(model, params, X),))
            grads = self.twice("the reference's loss and gradients", label, lambda: (
                lambda loss, grads: (np.float64(loss), *grads.values()))(*reference_grads(model, params, X, y)))
            leaves = tuple(torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in params.values())

            def loss(*moved):
                return model.loss(model.reference(dict(zip(params, moved)), torch.from_numpy(X)), torch.from_numpy(y))
            if grads is not None and self.gradcheck(label, loss, leaves):
                gradchecked += 1
        self.summary.append(f"deterministic and finite; autograd gradients of the loss match finite differences on "
                            f"{gradchecked} case(s)")


# --- the whole assignment: model solution and starter kit ---------------------------------------------


def _lost(check) -> str:
    failed = check.failed_cases()
    detail = failed[0].message if failed and failed[0].message else check.message
    return f"{check.name} ({check.score:g}/{check.max_score:g}): {' '.join(str(detail).split())[:300]}"


def solution_findings(result: GradeResult) -> list[Finding]:
    findings = [Finding(WHOLE, SOLUTION, DEFECT, f"grading error: {error}") for error in result.errors]
    for exercise in result.exercises:
        lost = [c for c in exercise.checks if c.score < c.max_score and c.status != SKIPPED]
        findings += [Finding(exercise.id, SOLUTION, DEFECT, f"loses points at {_lost(c)}") for c in lost]
        skipped = [c.name for c in exercise.checks if c.status == SKIPPED]
        if skipped:
            findings.append(Finding(exercise.id, SOLUTION, NOTE, f"skipped on this machine: {', '.join(skipped)}"))
        if not lost:
            findings.append(Finding(exercise.id, SOLUTION, OK,
                                    f"full marks ({exercise.score:g}/{exercise.max_score:g})"))
    return findings


def starter_findings(result: GradeResult) -> list[Finding]:
    findings = [Finding(WHOLE, STARTER, DEFECT, f"grading error: {error}") for error in result.errors]
    for exercise in result.exercises:
        bad = [c for c in exercise.checks if c.score > 0 or c.status == ERROR]
        findings += [Finding(exercise.id, STARTER, DEFECT, (
            f"earns points at {c.name} ({c.score:g}/{c.max_score:g}) before the student writes anything: the "
            f"starter code passes the check"
            if c.score > 0 else f"an error instead of 'not attempted' at {c.name}: {c.message}")) for c in bad]
        if not bad:
            findings.append(Finding(exercise.id, STARTER, OK, f"0/{exercise.max_score:g}: nothing passes before the "
                                                              f"student writes code"))
    return findings
