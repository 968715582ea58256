"""Correct code in other formulations gets full marks on every case, large and saturated ones included:
the tolerances are honest in the direction of correct code (the bug library, tests/test_bug_library.py,
and the catalogued mistakes of tests/test_curriculum_*.py keep them honest in the other).

tests/alternatives/ holds whole submissions, each graded once:
- textbook/: every graded function in another algebra or order than the model solution (Jacobian
  softmax backward, x - logsumexp, einsum and sliding-window conv, the step-by-step batch-norm chain
  rule, logaddexp/xlogy losses, rearranged optimizer formulas returning new dicts, pickle save/load,
  (n,) biases with in-place updates and log(p + 1e-8) in the network);
- float32/: the model solution's algebra computed in float32 (inputs cast on the way in);
- network/course_class.py: the course's own class (tests/test_course_seeds.py).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from grader.seeds import Seed

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

ALTERNATIVES = Path(__file__).parent / "alternatives"
FLOAT32_EXERCISES = ["layers", "activations", "losses", "conv", "regularization", "network"]


def _lost(result):
    return [(c.exercise, c.name, c.message) for c in result.checks() if c.score < c.max_score]


@pytest.mark.slow
def test_textbook_formulations_get_full_marks_under_a_private_seed(grade_it):
    result = grade_it(ALTERNATIVES / "textbook", seed=Seed(982451653, "private"))
    assert _lost(result) == [] and result.score == result.max_score > 0
    assert {e.id for e in result.exercises} >= set(FLOAT32_EXERCISES) | {"init", "utils", "optimizers"}


@pytest.mark.slow
def test_float32_arithmetic_gets_full_marks(grade_it):
    result = grade_it(ALTERNATIVES / "float32", FLOAT32_EXERCISES)
    assert _lost(result) == [] and result.score == result.max_score > 0


def test_every_graded_function_has_an_alternative(assignment):
    """Each graded name is defined in textbook/ (another formulation than the model solution's)."""
    import ast
    defined = set()
    for file in (ALTERNATIVES / "textbook").glob("*.py"):
        defined |= {n.name for n in ast.parse(file.read_text()).body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    required = {name for exercise in assignment.select(None) for name in exercise.required_names()}
    assert required <= defined, sorted(required - defined)
