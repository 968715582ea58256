"""End-to-end verdicts: the model solution gets full marks, correct code in other styles too, and
each bug loses points at the check that shows it, with the hint that names it."""
from __future__ import annotations

import pytest
from helpers import SOLUTION, check, failed, make_submission

from grader.inputs import draw_all, rng_for
from grader.results import NOT_ATTEMPTED, PASSED
from grader.seeds import Seed
from grader.spec import Arg, Case

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow


def test_model_solution_gets_full_marks(grade_it):
    result = grade_it(SOLUTION)
    assert failed(result) == []
    assert result.score == result.max_score > 0
    assert result.seed_kind == "practice"
    assert len(list(result.checks())) >= 30


STYLE_VARIANTS = {
    "float32 network": {"network.py": [
        ("rng.normal(0, np.sqrt(2 / input_size), (input_size, hidden_size))",
         "rng.normal(0, np.sqrt(2 / input_size), (input_size, hidden_size)).astype(np.float32)"),
        ("self.b1 = np.zeros((1, hidden_size))", "self.b1 = np.zeros((1, hidden_size), dtype=np.float32)"),
        ("rng.normal(0, np.sqrt(2 / hidden_size), (hidden_size, output_size))",
         "rng.normal(0, np.sqrt(2 / hidden_size), (hidden_size, output_size)).astype(np.float32)"),
        ("self.b2 = np.zeros((1, output_size))", "self.b2 = np.zeros((1, output_size), dtype=np.float32)"),
        ("self.X = X", "X = X.astype(np.float32)\n        self.X = X"),
        ("y_true.shape[0]\n", "y_true.shape[0]\n        y_true = y_true.astype(np.float32)\n")]},
    # float32 weights, float64 data: outputs come back float64 but are computed from float32 weights.
    "float32 weights only": {"network.py": [
        ("rng.normal(0, np.sqrt(2 / input_size), (input_size, hidden_size))",
         "rng.normal(0, np.sqrt(2 / input_size), (input_size, hidden_size)).astype(np.float32)"),
        ("self.b1 = np.zeros((1, hidden_size))", "self.b1 = np.zeros((1, hidden_size), dtype=np.float32)"),
        ("rng.normal(0, np.sqrt(2 / hidden_size), (hidden_size, output_size))",
         "rng.normal(0, np.sqrt(2 / hidden_size), (hidden_size, output_size)).astype(np.float32)"),
        ("self.b2 = np.zeros((1, output_size))", "self.b2 = np.zeros((1, output_size), dtype=np.float32)")]},
    "1-D biases, log(p + 1e-8), in-place updates": {"network.py": [
        ("np.zeros((1, hidden_size))", "np.zeros(hidden_size)"),
        ("np.zeros((1, output_size))", "np.zeros(output_size)"),
        ("db2 = dZ2.sum(axis=0, keepdims=True)", "db2 = dZ2.sum(axis=0)"),
        ("db1 = dZ1.sum(axis=0, keepdims=True)", "db1 = dZ1.sum(axis=0)"),
        ("np.log(y_pred + 1e-12)", "np.log(y_pred + 1e-8)"),
        ("self.W1 = self.W1 - learning_rate * grads[\"dW1\"]", "self.W1 -= learning_rate * grads[\"dW1\"]"),
        ("self.b2 = self.b2 - learning_rate * grads[\"db2\"]", "self.b2 -= learning_rate * grads[\"db2\"]")]},
    "float32 layers, returned SGD step": {"layers.py": [
        ("return np.maximum(0, x)", "return np.maximum(0, x.astype(np.float32))"),
        ("return dout @ W.T, x.T @ dout, dout.sum(axis=0)",
         "dout, x, W = (a.astype(np.float32) for a in (dout, x, W))\n    return dout @ W.T, x.T @ dout, dout.sum(axis=0)"),
        ("    param -= lr * grad", "    return param - lr * grad")]},
}


@pytest.mark.parametrize("variant", list(STYLE_VARIANTS))
def test_correct_code_in_other_styles_gets_full_marks(grade_it, tmp_path, variant):
    result = grade_it(make_submission(tmp_path, STYLE_VARIANTS[variant]))
    assert failed(result) == []


# (edits, check that must lose points, hint code it must carry). Only that check may fail, except
# where a bug is visible to several checks by nature (listed in the fourth field).
BUGS = {
    "unstable softmax": ({"layers.py": [("shifted = x - x.max(axis=1, keepdims=True)", "shifted = x")]},
                         "layers", "softmax.forward", "nonfinite",
                         {"softmax_backward.backward", "softmax_backward.gradcheck",  # they reuse softmax
                          "softmax_cross_entropy_backward.backward", "softmax_cross_entropy_backward.gradcheck"}),
    "cross-entropy gradient not averaged": (
        {"layers.py": [("return probs / len(y)", "return probs")]},
        "layers", "softmax_cross_entropy_backward.backward", "mistake:cross_entropy_grad_not_averaged",
        {"softmax_cross_entropy_backward.gradcheck"}),
    "cross-entropy summed": (
        {"layers.py": [("return float(-log_probs[np.arange(len(y)), y].mean())",
                        "return float(-log_probs[np.arange(len(y)), y].sum())")]},
        "layers", "softmax_cross_entropy.forward", "mistake:cross_entropy_sum",
        {"softmax_cross_entropy_backward.gradcheck"}),
    "sigmoid backward with z": (
        {"layers.py": [("s = sigmoid_forward(x)\n    return dout * s * (1 - s)", "return dout * x * (1 - x)")]},
        "layers", "sigmoid_backward.backward", "mistake:sigmoid_backward_uses_z", {"sigmoid_backward.gradcheck"}),
    "transposed dW": (
        {"layers.py": [("return dout @ W.T, x.T @ dout, dout.sum(axis=0)",
                        "return dout @ W.T, dout.T @ x, dout.sum(axis=0)")]},
        "layers", "linear_backward.backward", "transposed", {"linear_backward.gradcheck"}),
    "softmax over the wrong axis": (
        {"layers.py": [("shifted = x - x.max(axis=1, keepdims=True)\n    e = np.exp(shifted)\n    return e / e.sum(axis=1, keepdims=True)",
                        "shifted = x - x.max(axis=0, keepdims=True)\n    e = np.exp(shifted)\n    return e / e.sum(axis=0, keepdims=True)")]},
        "layers", "softmax.forward", "wrong_axis",
        {"softmax_backward.backward", "softmax_backward.gradcheck", "softmax_cross_entropy_backward.backward",
         "softmax_cross_entropy_backward.gradcheck"}),
    "gradient ascent": ({"layers.py": [("param -= lr * grad", "param += lr * grad")]},
                        "layers", "sgd_update.update", "mistake:sgd_ascent", set()),
    "network gradients with the wrong sign": (
        {"network.py": [("dZ2 = (self.probs - y_true) / m", "dZ2 = (y_true - self.probs) / m")]},
        "network", "NeuralNetwork.backward.backward", "sign_flip",
        {"NeuralNetwork.backward.gradcheck", "NeuralNetwork.train_step.train_step",
         "NeuralNetwork.train_step.training"}),
    "network gradients summed": (
        {"network.py": [("dZ2 = (self.probs - y_true) / m", "dZ2 = self.probs - y_true")]},
        "network", "NeuralNetwork.backward.backward", "mistake:network_grads_summed",
        {"NeuralNetwork.backward.gradcheck", "NeuralNetwork.train_step.train_step",
         "NeuralNetwork.train_step.training"}),
}


@pytest.mark.parametrize("bug", list(BUGS))
def test_each_bug_loses_points_at_its_check_with_its_hint(grade_it, tmp_path, bug):
    edits, exercise, name, hint, also = BUGS[bug]
    result = grade_it(make_submission(tmp_path, edits), exercises=[exercise])
    lost = check(result, exercise, name)
    assert lost.score < lost.max_score
    assert lost.hint is not None and lost.hint.code == hint, lost.hint
    # Checks that depend on a failed main check (gradcheck, kink, inputs after a wrong forward) lose their
    # points too, and say which check they wait for.
    waiting = {c.name: c.extra["depends_on"] for c in result.checks() if c.extra.get("depends_on")}
    assert set(waiting.values()) <= set(failed(result))
    assert set(failed(result)) - set(waiting) <= {name} | also


def test_relu_subgradient_choice_costs_only_the_kink_check(grade_it, tmp_path):
    result = grade_it(make_submission(tmp_path, {"layers.py": [("dout * (x > 0)", "dout * (x >= 0)")]}),
                      exercises=["layers"])
    assert failed(result) == ["relu_backward.kink"]


def test_input_modified_in_place_fails_the_inputs_check(grade_it, tmp_path):
    result = grade_it(make_submission(tmp_path, {"layers.py": [
        ("return np.maximum(0, x)", "x[x < 0] = 0\n    return x")]}), exercises=["layers"])
    assert failed(result) == ["relu_forward.inputs"]
    assert "modified its input x" in check(result, "layers", "relu_forward.inputs").message


def test_missing_functions_are_not_attempted(grade_it, tmp_path):
    sub = make_submission(tmp_path, {"layers.py": [("def tanh_forward(x):", "def tanh_forward_renamed(x):")]})
    result = grade_it(sub, exercises=["layers"])
    forward = check(result, "layers", "tanh_forward.forward")
    assert forward.status == NOT_ATTEMPTED and forward.score == 0
    assert "not defined" in forward.message
    assert check(result, "layers", "tanh_backward.backward").status == PASSED


def test_same_seed_same_verdicts_and_another_seed_other_cases(grade_it, tmp_path):

    sub = make_submission(tmp_path, {"layers.py": [("return np.tanh(x)", "return np.tanh(x) + 1e-3 * x")]})

    def verdicts(seed):
        result = grade_it(sub, exercises=["layers"], seed=Seed(seed, "private"))
        return [(c.name, c.score, [(k.label, k.passed, k.message) for k in c.cases]) for c in result.checks()]
    assert verdicts(7) == verdicts(7)
    args, case = {"x": Arg(shape=("N", "D"))}, Case({"N": 2, "D": 3})
    first, second = (draw_all(args, case, rng_for(s, "layers", "relu_forward"))["x"] for s in (7, 8))
    assert not (first == second).any()


def test_nested_folder_with_sibling_imports_is_graded(grade_it, tmp_path):
    """A zip that wraps everything in one folder: files import each other by bare name."""
    nested = tmp_path / "hw3"
    make_submission(nested, {"layers.py": [("def relu_backward(dout, x):\n    return dout * (x > 0)",
                                            "from helpers_mod import relu_backward  # noqa")]},
                    extra={"helpers_mod.py": "def relu_backward(dout, x):\n    return dout * (x > 0)\n"})
    result = grade_it(tmp_path, exercises=["layers"])
    assert failed(result) == []


def test_a_broken_exercise_reference_costs_its_check_not_the_run(grade_it, tmp_path):
    from dataclasses import replace

    from grader.assignment import load_assignment

    spec = load_assignment()
    layers = spec.exercise("layers")
    broken = replace(layers.units[0], reference=lambda x: 1 / 0)  # relu's reference raises
    spec._cache["layers"] = replace(layers, units=(broken, *layers.units[1:]))
    result = grade_it(SOLUTION, exercises=["layers"], spec=spec)
    forward = check(result, "layers", "relu_forward.forward")
    assert forward.status == "error" and "ZeroDivisionError" in forward.message
    assert check(result, "layers", "tanh_forward.forward").status == PASSED
