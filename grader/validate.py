"""`grade validate`: before an assignment is released, check that it grades right.

For every exercise, on the inputs the checks themselves generate (the practice seed), through the hooks
of each check kind (grader/checks/base.py), so every kind is replayed the same way:

- references: each kind's `replay` hook gives its cases as its `run` builds them, with the reference's
  expected values. Two replays give identical values (deterministic), every value is finite, and the
  kind's `verify` hook checks what it relies on (autograd gradients of the reference match finite
  differences: torch.autograd.gradcheck, float64).
- loose checks: an all-zero output, or a constant one (the mean of the expected output), fails some case
  of every check whose values are numbers (it may pass a case where the reference is that value within
  rounding, as a saturated softmax's gradient). Trivial outputs are sent as float32, the loosest tolerance a student
  can get, under the assignment's [tolerances] multipliers.
- mistakes: every catalogued mistake is replayed here, in the grading process: its outputs on each case
  (the instructor's function; floating arrays cast to float32) are graded exactly as the check grades a
  student's. It must fail on some case (caught), and the check must name it there (named: not hidden
  behind an earlier mistake of the catalogue with the same outputs). No student code is involved: a
  mistake's reference already imitates what its check compares.
- model solution: graded by the engine, it gets full marks.
- starter kit: written by grader.starter and graded, it gets 0, with no errors.

A kind without a `replay` hook is reported as not replayed (a note). The report is for instructors and
stays in English: students never see it.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .assignment import Assignment, builtin_dir
from .checks import lookup
from .checks.base import TOLERANCE_SCALE, CheckContext, Replay, tolerance_scale
from .results import ERROR, SKIPPED, GradeResult
from .seeds import Seed
from .spec import Mistake

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
    return UnitValidation(ctx, unit).findings()


def _equal(x, y) -> bool:
    if isinstance(x, dict) or isinstance(y, dict):
        return isinstance(x, dict) and isinstance(y, dict) and x.keys() == y.keys() and all(
            _equal(x[k], y[k]) for k in x)
    x, y = np.asarray(x), np.asarray(y)
    if x.dtype.kind in "biufc" and y.dtype.kind in "biufc":
        return x.shape == y.shape and bool(np.array_equal(x, y, equal_nan=True))
    return x.shape == y.shape and bool(np.all(x == y))


def _same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))


def _finite(values: tuple) -> bool:
    arrays = [np.asarray(v) for v in values if not isinstance(v, dict)]
    return all(np.isfinite(a).all() for a in arrays if a.dtype.kind in "fc")


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _trivial_outputs(expected: tuple) -> dict[str, tuple]:
    """What a submission that computes nothing returns, in float32: zeros, and each output's mean
    (an output of one element is its own mean, so it gets zeros there)."""
    expected = tuple(np.asarray(e, dtype=np.float64) for e in expected)
    zeros = tuple(np.zeros(e.shape, np.float32) for e in expected)
    trivial = {"an all-zero output": zeros}
    if any(e.size > 1 for e in expected):
        trivial["a constant output (the mean of the expected one)"] = tuple(
            np.full(e.shape, float(e.mean()), np.float32) if e.size > 1 else z for e, z in zip(expected, zeros))
    return trivial


def _as_sent(outputs: tuple) -> tuple:
    """A mistake's outputs as the loosest student would send them: floating arrays in float32."""
    out = []
    for o in outputs:
        array = o if isinstance(o, dict) else np.asarray(o)
        out.append(array.astype(np.float32) if not isinstance(array, dict) and array.dtype.kind == "f" else array)
    return tuple(out)


def unit_mistakes(unit) -> list[Mistake]:
    backward = getattr(unit, "backward", None)
    return [*getattr(unit, "mistakes", ()), *(getattr(backward, "mistakes", ()) if backward else ())]


class UnitValidation:
    """Validation of one unit, through the hooks of its check kinds (grader/checks/base.py): `replay`
    gives each case as the check builds it (expected outputs, each mistake's outputs, how the check
    grades outputs), `verify` checks what the check relies on in the reference (its gradients)."""

    def __init__(self, ctx: CheckContext, unit):
        self.ctx, self.unit = ctx, unit
        self.name = unit.graded_names()[0]
        self.problems: dict[str, list[str]] = {}  # of the stage being run: problem -> the cases showing it
        self.summary: list[str] = []
        self.replays: dict[str, list[Replay]] = {}  # kind name -> its cases
        self.unreplayed: list[str] = []  # kinds without a replay hook

    def kinds(self) -> dict[str, Any]:
        names = dict(self.unit.checks)
        for kinds in getattr(self.unit, "optional_checks", {}).values():
            names.update(kinds)
        return {name: lookup(name, self.unit) for name in names}

    def findings(self) -> list[Finding]:
        out = self._stage(REFERENCES, self.check_references, lambda: "; ".join(self.summary))
        out += self._stage(LOOSE, self.check_loose, lambda: "zero and constant outputs fail every check")
        out += [self.finding(REFERENCES, NOTE, f"check {name!r} has no replay hook: this command does not replay "
                                               f"it; the model solution and the starter kit cover it")
                for name in self.unreplayed]
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

    # references --------------------------------------------------------------------------------------

    def _replay(self, name: str, kind) -> list[Replay] | None:
        try:
            return list(kind.replay(self.ctx, self.unit))
        except Exception as error:
            self.problem(f"{name}: the reference raised {_first_line(error)}")
            return None

    def check_references(self) -> None:
        evaluated = verified = 0
        for name, kind in self.kinds().items():
            if kind is None:
                self.problem(f"no check kind {name!r} grades a {type(self.unit).__name__}")
                continue
            if kind.replay is None:
                self.unreplayed.append(name)
                continue
            first, second = self._replay(name, kind), self._replay(name, kind)
            if first is None or second is None:
                continue
            self.replays[name] = first
            for a, b in zip(first, second):
                if not _same(a.expected, b.expected):
                    self.problem(f"{name}: the reference is not deterministic (random numbers? make them an argument "
                                 f"the grader draws, as dropout's mask): two evaluations differ on", a.label)
                elif not _finite(a.expected):
                    self.problem(f"{name}: the reference gives NaN or Inf on", a.label)
                elif not a.grade(a.expected)[0]:
                    self.problem(f"{name}: the check fails the reference's own values (no submission can pass) on",
                                 a.label)
                else:
                    evaluated += 1
            try:
                for label, problem in (kind.verify(self.ctx, self.unit) if kind.verify else ()):
                    if problem:
                        self.problem(f"{name}: {problem} on", label)
                    else:
                        verified += 1
            except Exception as error:
                self.problem(f"{name}: checking the reference raised {_first_line(error)}")
        self.summary.append(f"deterministic and finite on {evaluated} case(s) of {len(self.replays)} check(s)")
        if verified:
            self.summary.append(f"autograd gradients match finite differences on {verified} case(s)")

    # loose checks ------------------------------------------------------------------------------------

    def check_loose(self) -> None:
        """A trivial output must fail some case of every check: a case where it passes is legitimate only
        when the reference is that value within rounding (a saturated softmax's gradient is 0)."""
        for name, replays in self.replays.items():
            judged = [r for r in replays if r.trivial]
            for what in ("an all-zero output", "a constant output (the mean of the expected one)"):
                passing = [r.label for r in judged if what in _trivial_outputs(r.expected)
                           and r.grade(_trivial_outputs(r.expected)[what])[0]]
                if judged and len(passing) == len([r for r in judged if what in _trivial_outputs(r.expected)]):
                    for label in passing:
                        self.problem(f"{name}: {what} passes every case (the reference is nearly that there, or the "
                                     f"tolerance is too loose: see [tolerances] in the assignment) on", label)

    # mistakes ----------------------------------------------------------------------------------------

    def mistake_findings(self) -> list[Finding]:
        out: list[Finding] = []
        fn_mistakes = list(getattr(self.unit, "mistakes", ()))
        for mistake in unit_mistakes(self.unit):
            compared = [(name, r) for name, replays in self.replays.items() for r in replays if mistake.id in r.mistakes]
            if not compared:
                out.append(self.finding(MISTAKES, *self._never_compared(mistake, mistake in fn_mistakes)))
                continue
            raised = next((r.mistakes[mistake.id] for _n, r in compared
                           if isinstance(r.mistakes[mistake.id], BaseException)), None)
            if raised is not None:
                out.append(self.finding(MISTAKES, DEFECT, f"{mistake.id}: its reference raised {_first_line(raised)}"))
                continue
            caught, named_by, hints = False, [], set()
            for name, replay in compared:
                try:
                    passed, hint = replay.grade(_as_sent(replay.mistakes[mistake.id]))
                except Exception as error:
                    out.append(self.finding(MISTAKES, DEFECT, f"{mistake.id}: grading its outputs raised "
                                                              f"{_first_line(error)}"))
                    break
                if not passed:
                    caught = True
                    hints.add(hint or "no hint")
                    if hint == f"mistake:{mistake.id}" and name not in named_by:
                        named_by.append(name)
            else:
                kinds = sorted({name for name, _r in compared})
                if not caught:
                    out.append(self.finding(MISTAKES, DEFECT, f"{mistake.id} is not caught: its outputs equal the "
                                                              f"reference's within tolerance on every case of "
                                                              f"{' and '.join(map(repr, kinds))}"))
                elif not named_by:
                    out.append(self.finding(MISTAKES, DEFECT, f"{mistake.id} is caught but never named: the feedback "
                                                              f"gives {', '.join(sorted(hints))} instead (an earlier "
                                                              f"mistake with the same outputs?)"))
                else:
                    out.append(self.finding(MISTAKES, OK, f"{mistake.id} caught and named ({', '.join(named_by)})"))
        return out

    def _never_compared(self, mistake: Mistake, in_forward: bool) -> tuple[str, str]:
        graded = set(self.kinds())
        if mistake.check == "backward" and in_forward and hasattr(self.unit, "backward"):  # a Function's
            return DEFECT, (f"{mistake.id} says check=\"backward\" but is in the forward's mistakes, which the "
                            f"backward check never reads: move it to Backward(mistakes=...)")
        if mistake.check not in graded:
            return DEFECT, f"{mistake.id} imitates check {mistake.check!r}, which this unit does not grade: it is never compared"
        if mistake.check in self.unreplayed:
            return NOTE, f"{mistake.id} (check {mistake.check!r}) is not replayed here"
        return DEFECT, f"{mistake.id} (check {mistake.check!r}) is never compared: no case of that check uses it"


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
