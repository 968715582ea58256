"""Curriculum C: the utilities exercise, the SciPy exercise, and the features-first layout.

The model solution gets full marks, correct code in other styles too; every catalogued mistake, made
in a copy of the solution, loses points at its check with the hint that names it; the SciPy training
is run by the grader and fails for a wrong gradient; a features-first solution passes a features-first
assignment and a batch-first one fails it with a hint about the layout.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers import FAST_LIMITS, SOLUTION, check, failed, failed_on_their_own, make_submission

from grader.assignment import load_assignment
from grader.checks.utilities import _sorted_labels
from grader.engine import grade
from grader.results import PASSED
from grader.sandbox.session import Limits
from grader.seeds import Seed

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

EXERCISES = ["utils", "scipy_network"]


def write_assignment(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "assignment.toml"
    path.write_text(text)
    return path


def test_model_solution_gets_full_marks(grade_it):
    result = grade_it(SOLUTION, exercises=EXERCISES)
    assert failed(result) == []
    assert result.score == result.max_score > 0
    training = check(result, "scipy_network", "cost_function.cost_training").extra["training"]
    assert training["accuracy"] >= 0.95 and training["evaluations"] > 10


# Correct code in other styles: legacy random state, a cut at int(N * (1 - test_size)), pickle files,
# float labels, log(p + 1e-8), float32 arithmetic, an Octave-style (P, 1) gradient and a 1x1 J.
STYLES = {
    "utils.py": [
        ("order = np.random.default_rng(seed).permutation(len(y))",
         "state = np.random.RandomState(seed)\n    order = state.permutation(len(y))"),
        ("    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else [np.arange(len(y))]",
         "    if not stratify:\n        np.random.seed(seed)\n        idx = np.random.permutation(len(y))\n"
         "        cut = int(len(y) * (1 - test_size))\n        return X[idx[:cut]], X[idx[cut:]], y[idx[:cut]], "
         "y[idx[cut:]]\n    groups = [np.flatnonzero(y == c) for c in np.unique(y)]"),
        ("    np.savez(path, **params)", "    import pickle\n    with open(path, 'wb') as f:\n"
         "        pickle.dump(params, f)"),
        ("    with np.load(path) as data:\n        return {name: data[name] for name in data.files}",
         "    import pickle\n    with open(path, 'rb') as f:\n        return pickle.load(f)"),
        ("return np.argmax(_scores(params, X), axis=1)", "return np.argmax(_scores(params, X), axis=1).astype(float)"),
        ("    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
         "    return float(-log_probs[np.arange(len(y)), y].mean())",
         "    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)\n"
         "    return -np.mean(np.log(probs[np.arange(len(y)), y] + 1e-8))")],
    "scipy_network.py": [
        ("J = -np.log(P[rows, y]).mean()", "J = -np.log(P[rows, y] + 1e-8).mean()"),
        ("return float(J), np.concatenate([dW1.ravel(), db1, dW2.ravel(), db2])",
         "return np.array([[J]]), np.concatenate([dW1.ravel(), db1, dW2.ravel(), db2]).reshape(-1, 1)")],
}


def test_correct_code_in_other_styles_gets_full_marks(grade_it, tmp_path):
    result = grade_it(make_submission(tmp_path, STYLES), exercises=EXERCISES)
    assert failed(result) == []


# Catalogued mistakes of the utilities. Mistakes of different checks share a submission (each check
# sees only its own function), so three gradings cover them all: group -> edits of utils.py.
UTILS_GROUPS = {
    "A": [("return X[order], y[order]", "return X[order], y[np.random.default_rng(seed + 1).permutation(len(y))]"),
          ("        test.append(group[:n_test])", "        test.append(rng.permutation(group)[:n_test])"),
          ("def save_model(params, path):\n    np.savez(path, **params)",
           "_SAVED = {}\n\n\ndef save_model(params, path):\n    np.savez(path, **params)\n"
           "    _SAVED[path] = {k: v.copy() for k, v in params.items()}"),
          ("    with np.load(path) as data:\n        return {name: data[name] for name in data.files}",
           "    return _SAVED[path]"),
          ("return np.argmax(_scores(params, X), axis=1)", "return np.argmax(_scores(params, X), axis=0)"),
          ("return float(-log_probs[np.arange(len(y)), y].mean())",
           "return float(-log_probs[np.arange(len(y)), y].sum())")],
    "B": [("return X[order], y[order]", "return X.copy(), y.copy()"),
          ("        group = rng.permutation(group)\n", ""),
          ("np.savez(path, **params)", "np.savez(path, *params.values())"),
          ("return np.argmax(_scores(params, X), axis=1)",
           "return np.argmax((X @ params['W1'] + params['b1']) @ params['W2'] + params['b2'], axis=1)"),
          ("    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
           "    return float(-log_probs[np.arange(len(y)), y].mean())",
           "    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)\n"
           "    Y = np.eye(p.shape[1])[y]\n    return float(-(Y * np.log(p) + (1 - Y) * np.log(1 - p)).sum(axis=1).mean())")],
    "C": [("order = np.random.default_rng(seed).permutation(len(y))", "order = np.random.permutation(len(y))"),
          ("return X[train], X[test], y[train], y[test]", "return X[train], X[test], y[np.sort(train)], y[np.sort(test)]"),
          ("if stratify else [np.arange(len(y))]", "if False else [np.arange(len(y))]"),
          ("np.savez(path, **params)", "np.savez(path, **{k: v.astype(np.float32) for k, v in params.items()})")],
    "D": [("np.savez(path, **params)", "np.savez(path, W1=params['W1'], b1=params['b1'], W2=params['W2'], "
                                       "b2=params['b2'])")],
}
UTILS_MISTAKES = {  # mistake id -> (group, check)
    "shuffle_unpaired": ("A", "shuffle_data.shuffle"),
    "shuffle_identity": ("B", "shuffle_data.shuffle"),
    "shuffle_ignores_seed": ("C", "shuffle_data.shuffle"),
    "split_overlap": ("A", "split_data.split"),
    "split_not_shuffled": ("B", "split_data.split"),
    "split_unpaired": ("C", "split_data.split"),
    "split_ignores_stratify": ("C", "split_data.split_stratified"),
    "save_no_file": ("A", "save_model.save_load"),
    "save_positional_keys": ("B", "save_model.save_load"),
    "save_lossy": ("C", "save_model.save_load"),
    "save_fixed_names": ("D", "save_model.save_load"),
    "predict_wrong_axis": ("A", "predict.params_forward"),
    "predict_no_relu": ("B", "predict.params_forward"),
    "cost_summed": ("A", "compute_cost.params_forward"),
    "cost_binary_formula": ("B", "compute_cost.params_forward"),
}


@pytest.fixture(scope="module")
def utils_groups(assignment, tmp_path_factory):
    """Each group of utils mistakes graded once."""
    results = {}
    for group, edits in UTILS_GROUPS.items():
        root = make_submission(tmp_path_factory.mktemp(f"utils_{group}"), {"utils.py": edits})
        results[group] = grade(root, assignment, Seed(assignment.practice_seed, "practice"), exercise_ids=["utils"],
                               limits=Limits(**FAST_LIMITS))
    return results


def test_every_utils_mistake_is_catalogued_and_tested(assignment):
    catalogued = {m.id for unit in assignment.exercise("utils").units for m in unit.mistakes}
    assert catalogued == set(UTILS_MISTAKES)


@pytest.mark.parametrize("mistake", list(UTILS_MISTAKES))
def test_each_utils_mistake_is_named_at_its_check(utils_groups, mistake):
    group, name = UTILS_MISTAKES[mistake]
    lost = check(utils_groups[group], "utils", name)
    assert lost.score < lost.max_score
    assert lost.hint is not None and lost.hint.code == f"mistake:{mistake}", (lost.message, lost.hint)


def test_utils_mistakes_lose_points_only_where_they_show(utils_groups):
    checks = {name for _group, name in UTILS_MISTAKES.values()}
    for group, result in utils_groups.items():
        assert set(failed_on_their_own(result)) <= checks, group


def test_a_shuffle_in_place_fails_the_inputs_check(grade_it, tmp_path):
    result = grade_it(make_submission(tmp_path, {"utils.py": [
        ("order = np.random.default_rng(seed).permutation(len(y))\n    return X[order], y[order]",
         "order = np.random.default_rng(seed).permutation(len(y))\n    X[:] = X[order]\n    y[:] = y[order]\n"
         "    return X, y")]}), exercises=["utils"])
    assert failed(result) == ["shuffle_data.inputs"]


def test_split_labels_make_every_class_share_whole():
    y = _sorted_labels({"N": 400, "C": 4}, 0.25)
    counts = np.bincount(y)
    assert counts.sum() == 400 and list(counts) == sorted(counts, reverse=True) and np.all(counts % 4 == 0)


# SciPy mistakes: with a short training (3 iterations) so that each grading stays fast.
SHORT_TRAINING = 'exercises = ["scipy_network"]\n[scipy_network]\nmax_iterations = 3\n'
SCIPY_MISTAKES = {  # mistake id -> (edits of scipy_network.py, check that must name it)
    "scipy_bias_regularized": ([
        ("((W1 ** 2).sum() + (W2 ** 2).sum())", "((W1 ** 2).sum() + (W2 ** 2).sum() + (b1 ** 2).sum() + (b2 ** 2).sum())"),
        ("db2 = dZ2.sum(axis=0)", "db2 = dZ2.sum(axis=0) + lambda_ / m * b2"),
        ("db1 = dZ1.sum(axis=0)", "db1 = dZ1.sum(axis=0) + lambda_ / m * b1")], "cost_function.cost_value"),
    "scipy_reg_not_halved": ([("lambda_ / (2 * m)", "lambda_ / m")], "cost_function.cost_value"),
    "scipy_grad_no_regularization": ([("dW2 = A1.T @ dZ2 + lambda_ / m * W2", "dW2 = A1.T @ dZ2"),
                                      ("dW1 = X.T @ dZ1 + lambda_ / m * W1", "dW1 = X.T @ dZ1")],
                                     "cost_function.cost_gradient"),
    "scipy_sum_not_mean": ([("J = -np.log(P[rows, y]).mean()", "J = -np.log(P[rows, y]).sum()"),
                            ("    dZ2 /= m\n", "")], "cost_function.cost_value"),
    "scipy_grad_wrong_order": ([("np.concatenate([dW1.ravel(), db1, dW2.ravel(), db2])",
                                 "np.concatenate([dW1.ravel(order='F'), db1, dW2.ravel(order='F'), db2])")],
                               "cost_function.cost_gradient"),
    "scipy_grad_no_sigmoid_derivative": ([("dZ1 = (dZ2 @ W2.T) * A1 * (1 - A1)", "dZ1 = dZ2 @ W2.T")],
                                         "cost_function.cost_gradient"),
}


def test_every_scipy_mistake_is_catalogued_and_tested(assignment):
    assert {m.id for m in assignment.exercise("scipy_network").units[0].mistakes} == set(SCIPY_MISTAKES)


@pytest.mark.parametrize("mistake", list(SCIPY_MISTAKES))
def test_each_scipy_mistake_is_named_at_its_check(grade_it, tmp_path, mistake):
    edits, name = SCIPY_MISTAKES[mistake]
    spec = load_assignment(write_assignment(tmp_path / "spec", SHORT_TRAINING))
    result = grade_it(make_submission(tmp_path / "sub", {"scipy_network.py": edits}), spec=spec)
    lost = check(result, "scipy_network", name)
    assert lost.score < lost.max_score
    assert lost.hint is not None and lost.hint.code == f"mistake:{mistake}", (lost.message, lost.hint)
    if mistake == "scipy_reg_not_halved":  # J changed, grad not: grad is no longer J's gradient (but at lambda_=0)
        assert check(result, "scipy_network", "cost_function.cost_gradient").status == PASSED
        gradcheck = check(result, "scipy_network", "cost_function.cost_gradcheck")
        assert [c.passed for c in gradcheck.cases] == [False, False, False, True]


def test_a_wrong_gradient_fails_the_training_the_grader_runs(grade_it, tmp_path):
    result = grade_it(make_submission(tmp_path, {"scipy_network.py": [
        ("return float(J), np.concatenate(", "return float(J), -np.concatenate(")]}), exercises=["scipy_network"])
    training = check(result, "scipy_network", "cost_function.cost_training")
    assert training.score == 0 and "test accuracy" in training.message
    assert training.extra["training"]["accuracy"] < 0.95
    assert set(failed(result)) == {"cost_function.cost_gradient", "cost_function.cost_gradcheck",
                                   "cost_function.cost_training"}


# The features-first layout (deeplearning.ai): X (D, N), W (H, D), b (H, 1); softmax over columns.
FEATURES_FIRST_LAYERS = [
    ("return x @ W + b", "return W @ x + b"),
    ("return dout @ W.T, x.T @ dout, dout.sum(axis=0)",
     "return W.T @ dout, dout @ x.T, dout.sum(axis=1)"),  # db as (H,): the same numbers as (H, 1)
    ("shifted = x - x.max(axis=1, keepdims=True)\n    e = np.exp(shifted)\n    return e / e.sum(axis=1, keepdims=True)",
     "shifted = x - x.max(axis=0, keepdims=True)\n    e = np.exp(shifted)\n    return e / e.sum(axis=0, keepdims=True)"),
    ("return s * (dout - (dout * s).sum(axis=1, keepdims=True))",
     "return s * (dout - (dout * s).sum(axis=0, keepdims=True))"),
    ("shifted = logits - logits.max(axis=1, keepdims=True)\n"
     "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
     "    return float(-log_probs[np.arange(len(y)), y].mean())",
     "shifted = logits - logits.max(axis=0, keepdims=True)\n"
     "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))\n"
     "    return float(-log_probs[y, np.arange(len(y))].mean())"),
    ("probs[np.arange(len(y)), y] -= 1", "probs[y, np.arange(len(y))] -= 1"),
]
FEATURES_FIRST_SCIPY = [  # features-first and the assignment's F-order packing
    ("W1, W2 = W1.reshape(D, H), W2.reshape(H, C)", "W1, W2 = W1.reshape(H, D, order='F'), W2.reshape(C, H, order='F')"),
    ("m = X.shape[0]", "m = X.shape[1]"),
    ("A1 = _sigmoid(X @ W1 + b1)\n    Z2 = A1 @ W2 + b2\n    Z2 = Z2 - Z2.max(axis=1, keepdims=True)",
     "A1 = _sigmoid(W1 @ X + b1[:, None])\n    Z2 = W2 @ A1 + b2[:, None]\n    Z2 = Z2 - Z2.max(axis=0, keepdims=True)"),
    ("P /= P.sum(axis=1, keepdims=True)", "P /= P.sum(axis=0, keepdims=True)"),
    ("J = -np.log(P[rows, y]).mean()", "J = -np.log(P[y, rows]).mean()"),
    ("dZ2[rows, y] -= 1", "dZ2[y, rows] -= 1"),
    ("dW2 = A1.T @ dZ2 + lambda_ / m * W2\n    db2 = dZ2.sum(axis=0)\n    dZ1 = (dZ2 @ W2.T) * A1 * (1 - A1)\n"
     "    dW1 = X.T @ dZ1 + lambda_ / m * W1\n    db1 = dZ1.sum(axis=0)",
     "dW2 = dZ2 @ A1.T + lambda_ / m * W2\n    db2 = dZ2.sum(axis=1)\n    dZ1 = (W2.T @ dZ2) * A1 * (1 - A1)\n"
     "    dW1 = dZ1 @ X.T + lambda_ / m * W1\n    db1 = dZ1.sum(axis=1)"),
    ("np.concatenate([dW1.ravel(), db1, dW2.ravel(), db2])",
     "np.concatenate([dW1.ravel(order='F'), db1, dW2.ravel(order='F'), db2])"),
]
# The layout-aware units of `layers` (relu, softmax, linear, cross-entropy) as an instructor's exercise
# file, to keep the gradings short.
LAYOUT_UNITS = """
from dataclasses import replace

from grader.assignment import builtin_dir, load_exercise_file

layers = load_exercise_file(builtin_dir() / "layers.py")
EXERCISE = replace(layers, id="layers_ff", units=tuple(u for u in layers.units if u.name in (
    "relu_forward", "softmax", "linear_forward", "softmax_cross_entropy")))
"""
FEATURES_FIRST = """
exercises = ["layers_ff", "scipy_network"]
layout = "features_first"
[exercise.layers_ff]
file = "layers_ff.py"
[scipy_network]
order = "F"
"""


@pytest.fixture(scope="module")
def features_first(tmp_path_factory):
    folder = tmp_path_factory.mktemp("features_first")
    (folder / "layers_ff.py").write_text(LAYOUT_UNITS)
    return load_assignment(write_assignment(folder, FEATURES_FIRST))


def test_a_features_first_solution_passes_a_features_first_assignment(grade_it, tmp_path, features_first):
    sub = make_submission(tmp_path, {"layers.py": FEATURES_FIRST_LAYERS, "scipy_network.py": FEATURES_FIRST_SCIPY})
    result = grade_it(sub, spec=features_first)
    assert failed(result) == [] and len(list(result.checks())) >= 25
    forward = check(result, "layers_ff", "linear_forward.forward")
    assert "x (4, 1), W (3, 4), b (3, 1)" in forward.cases[0].label  # feedback in the student's layout


def test_a_batch_first_solution_fails_a_features_first_assignment_with_a_layout_hint(grade_it, features_first):
    result = grade_it(SOLUTION, spec=features_first, exercises=["layers_ff"])
    for name in ("linear_forward.forward", "linear_backward.backward", "softmax.forward"):
        lost = check(result, "layers_ff", name)
        assert lost.score == 0
        assert lost.hint is not None and lost.hint.code == "layout", lost.hint
        assert "features-first layout" in lost.hint.text and "batch-first" in lost.hint.text
    assert "x (D, N), W (H, D), b (H, 1)" in check(result, "layers_ff", "linear_forward.forward").hint.text
    # ReLU is elementwise: the same in both layouts.
    assert not any(name.startswith("relu") for name in failed(result))
