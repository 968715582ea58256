"""The course's own NeuralNetwork class, exactly as handed out, gets full marks under every private seed,
not only the practice one (a property over seeds: each seed draws other weights, inputs and labels)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader.seeds import PRIVATE_SEED_ENV, resolve_seed

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

COURSE_CLASS = Path(__file__).parent / "alternatives" / "network" / "course_class.py"
# Private seeds as an instructor gives them (GRADER_PRIVATE_SEED), spread over the seed space.
SEEDS = ("1", "7", "20240901", "31337", "982451653", "4294967291", "123456789012", "5")


@pytest.fixture
def course_assignment(assignment):
    import copy
    spec = copy.deepcopy(assignment)
    spec.names["NeuralNetwork"] = "NeuralNetworkNumPy"
    return spec


def _submission(tmp_path, replace=None):
    text = COURSE_CLASS.read_text()
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    (tmp_path / "network.py").write_text(text)
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("seed_text", SEEDS)
def test_course_class_full_marks_under_private_seeds(grade_it, course_assignment, tmp_path, seed_text):
    seed = resolve_seed(0, environ={PRIVATE_SEED_ENV: seed_text})
    assert seed.kind == "private"
    result = grade_it(_submission(tmp_path), ["network"], spec=course_assignment, seed=seed)
    lost = [(c.name, c.message) for c in result.checks() if c.score < c.max_score]
    assert lost == [] and result.score == result.max_score > 0


@pytest.mark.parametrize("seed_text", SEEDS[:2])
def test_course_class_with_unstable_softmax_loses_points(grade_it, course_assignment, tmp_path, seed_text):
    seed = resolve_seed(0, environ={PRIVATE_SEED_ENV: seed_text})
    sub = _submission(tmp_path, ("np.exp(z - np.max(z, axis=1, keepdims=True))", "np.exp(z)"))
    result = grade_it(sub, ["network"], spec=course_assignment, seed=seed)
    forward = next(c for c in result.checks() if c.name == "NeuralNetworkNumPy.forward.forward")
    assert forward.score < forward.max_score and forward.hint and forward.hint.code == "nonfinite"
