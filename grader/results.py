"""The one result model of a grading run, rendered by every reporter.

A run grades exercises; an exercise holds checks (one per graded function and check kind); a check
holds cases (one per generated input). Points are per check and split evenly over its cases, so a
check that passes 3 of 4 cases earns 3/4 of its points.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .i18n import _

# Check statuses. `not_attempted` is a missing or unimplemented function: 0 points, no error.
PASSED = "passed"
FAILED = "failed"
ERROR = "error"
SKIPPED = "skipped"
NOT_ATTEMPTED = "not_attempted"
STATUSES = (PASSED, FAILED, ERROR, SKIPPED, NOT_ATTEMPTED)

# Gradescope's visibility values.
VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")


@dataclass
class Location:
    """Where a graded name is defined in the student's files (for annotations and feedback)."""

    file: str  # path relative to the submission root
    line: int
    cell: int | None = None  # notebook cell position, counting from 1
    cell_id: str | None = None
    cell_line: int | None = None

    def describe(self) -> str:
        if self.cell is not None:
            if self.cell_id:
                return _("{file}, cell {cell} (id {id}), line {line}").format(
                    file=self.file, cell=self.cell, id=self.cell_id, line=self.cell_line)
            return _("{file}, cell {cell}, line {line}").format(file=self.file, cell=self.cell, line=self.cell_line)
        return f"{self.file}:{self.line}"


@dataclass
class Comparison:
    """How an output compared with the reference (filled by grader.compare)."""

    passed: bool
    reason: str  # ok | type | shape | dtype | nonfinite | values
    message: str  # one line, names index, error and tolerance
    expected_shape: tuple[int, ...] | None = None
    actual_shape: tuple[int, ...] | None = None
    actual_dtype: str | None = None
    rtol: float | None = None
    atol: float | None = None
    max_abs_error: float | None = None
    max_rel_error: float | None = None
    worst_index: tuple[int, ...] | None = None
    expected_at_worst: float | None = None
    actual_at_worst: float | None = None
    n_mismatched: int | None = None
    n_total: int | None = None
    # A few (index, expected, actual, abs error) rows at the worst elements, for the report's table.
    worst_rows: list[tuple[tuple[int, ...], float, float, float]] = field(default_factory=list)
    # Absolute error map of a 2-D output, for the report's heat map; never sent to results.json.
    error_map: Any = None


@dataclass
class Hint:
    code: str  # stable identifier: batch_scale, sign_flip, transposed, nonfinite, wrong_axis, mistake:<id>
    text: str


@dataclass
class CaseResult:
    label: str  # e.g. "case 2: x (1, 7)"
    passed: bool
    message: str = ""
    call: str | None = None  # e.g. "relu_forward(x: (1, 7) float64)"
    output: str | None = None  # which output, e.g. "dW1"
    comparison: Comparison | None = None
    hint: Hint | None = None
    # passed; failed: a wrong value or behaviour; error: the student's code raised, timed out or returned
    # something unusable. Left empty, it follows `passed` (a case that did not pass failed).
    status: str = ""

    def __post_init__(self):
        if not self.status:
            self.status = PASSED if self.passed else FAILED
        self.passed = self.status == PASSED


@dataclass
class CheckResult:
    exercise: str
    function: str  # graded function or method, e.g. "relu_forward" or "NeuralNetwork.forward"
    kind: str  # interface | forward | backward | gradcheck | kink | update | shape | inputs | ...
    max_score: float
    score: float = 0.0
    status: str = PASSED
    message: str = ""  # summary line shown in every reporter
    cases: list[CaseResult] = field(default_factory=list)
    hint: Hint | None = None  # the most telling hint over the cases
    visibility: str = "visible"
    location: Location | None = None
    stdout: str = ""  # what the student's code printed during this check (truncated)
    duration_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)  # kind-specific data (plots, timings)

    @property
    def name(self) -> str:
        return f"{self.function}.{self.kind}"

    def failed_cases(self) -> list[CaseResult]:
        """The cases that did not pass: wrong values and errors."""
        return [c for c in self.cases if not c.passed]


def status_of(cases: list[CaseResult]) -> str:
    """A check's status from its cases: error when the student's code raised (or gave something unusable)
    on some case, failed when a value was wrong, passed when every case passed."""
    statuses = {c.status for c in cases}
    return ERROR if ERROR in statuses else FAILED if FAILED in statuses else PASSED


@dataclass
class ExerciseResult:
    id: str
    title: str
    checks: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(c.score for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.checks)


@dataclass
class GradeResult:
    submission: str
    exercises: list[ExerciseResult] = field(default_factory=list)
    seed_kind: str = "practice"  # practice | private
    grader_version: str = ""
    assignment: str = ""
    language: str = "en"
    protections: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # loading notes: which file defined what, shadowing
    errors: list[str] = field(default_factory=list)  # submission-level problems (syntax errors...)
    duration_s: float = 0.0
    penalty: float = 0.0  # points taken off after grading (late work)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def raw_score(self) -> float:
        return sum(e.score for e in self.exercises)

    @property
    def score(self) -> float:
        return max(0.0, self.raw_score - self.penalty)

    @property
    def max_score(self) -> float:
        return sum(e.max_score for e in self.exercises)

    def checks(self):
        for exercise in self.exercises:
            yield from exercise.checks

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for exercise in data["exercises"]:
            for check in exercise["checks"]:
                for case in check["cases"]:
                    if case["comparison"]:
                        case["comparison"]["error_map"] = None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GradeResult:
        def comparison(d):
            if not d:
                return None
            d = dict(d)
            for key in ("expected_shape", "actual_shape", "worst_index"):
                if d.get(key) is not None:
                    d[key] = tuple(d[key])
            d["worst_rows"] = [(tuple(r[0]), *r[1:]) for r in d.get("worst_rows", [])]
            return Comparison(**d)

        def case(d):
            d = dict(d)
            d["comparison"] = comparison(d.get("comparison"))
            d["hint"] = Hint(**d["hint"]) if d.get("hint") else None
            return CaseResult(**d)

        def check(d):
            d = dict(d)
            d["cases"] = [case(c) for c in d.get("cases", [])]
            d["hint"] = Hint(**d["hint"]) if d.get("hint") else None
            d["location"] = Location(**d["location"]) if d.get("location") else None
            return CheckResult(**d)

        data = dict(data)
        data["exercises"] = [
            ExerciseResult(**{**e, "checks": [check(c) for c in e["checks"]]}) for e in data["exercises"]
        ]
        return cls(**data)
