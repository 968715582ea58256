"""Grade many variants of a PyTorch exercise against one pair of student processes.

Every variant is a class or function of its own name in one submission folder; the assignment's [names]
table points the exercise at one variant at a time. Starting the children (and torch in one of them)
once for all variants keeps these tests to seconds; the checks run exactly as in `grade`.
"""
from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path

from helpers import FAST_LIMITS

from grader.checks import CheckContext
from grader.engine import Children, grade_exercise
from grader.loader import plan_submission
from grader.policy import FrameworkPolicy
from grader.results import GradeResult
from grader.sandbox.session import Limits


class Harness:
    def __init__(self, root: Path, exercise, names: list[str], assignment, limits=None):
        self.stack = contextlib.ExitStack()
        self.exercise, self.assignment = exercise, assignment
        self.plan = plan_submission(root, names, options={"allow_torch": True})
        self.result = GradeResult(submission=str(root))
        policy = FrameworkPolicy.from_options({}, standin=exercise.frameworks)
        self.children = Children(self.stack, self.plan, assignment, policy,
                                 Limits(**{**FAST_LIMITS, "total_cpu_s": 600, **(limits or {})}),
                                 [], self.result, {n: n for n in names}, [exercise])

    def grade(self, names: dict[str, str], units=None, kinds=None, seed=1, options=None):
        """The exercise graded with `names` (canonical -> variant); only `units` (class names) and `kinds`."""
        exercise = self.exercise
        chosen = tuple(u for u in exercise.units if units is None or u.graded_names()[0] in units)
        if kinds is not None:
            chosen = tuple(dataclasses.replace(u, checks={k: v for k, v in u.checks.items() if k in kinds})
                           for u in chosen)
        exercise = dataclasses.replace(exercise, units=chosen)
        sandbox, errors = self.children.pair(exercise.frameworks)
        ctx = CheckContext(sandbox=sandbox, exercise=exercise, seed=seed, definitions=self.plan.definitions,
                           import_errors=errors, names=names, sandbox_for=self.children.pair,
                           options=dict(options or {}))
        return {c.kind: c for c in grade_exercise(ctx).checks}

    def close(self):
        self.stack.close()


def bridge_harness(tmp_path_factory, exercise_id: str, module: str, source: str, names: list[str]):
    """A module-scoped Harness over `source` written as `module`.py, graded as the bundled bridge
    assignment's `exercise_id`; a generator for a pytest fixture (closed after the module)."""
    from grader.assignment import builtin_dir, load_assignment
    root = tmp_path_factory.mktemp(module)
    (root / f"{module}.py").write_text(source)
    bridge = load_assignment(builtin_dir() / "bridge.toml")
    harness = Harness(root, bridge.exercise(exercise_id), names, bridge)
    yield harness
    harness.close()
