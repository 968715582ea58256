"""Curriculum A: activations, losses, dropout and batch normalization, initialization.

The model solution gets full marks, correct code in other styles too; every catalogued mistake, made
in a copy of the solution, loses points at its check with the hint that names it; the untouched
starter kit grades to 0 without errors; and the statistics of the `distribution` check keep their
promises (a correct initializer fails with probability below 1e-6, every catalogued wrong one passes
with probability below 1e-6).
"""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
import torch
from helpers import SOLUTION, check, failed, failed_on_their_own, make_submission

from grader.assignment import load_assignment
from grader.checks import statistical
from grader.reference import init as init_ref
from grader.results import NOT_ATTEMPTED
from grader.starter import starter_source

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

EXERCISES = ["activations", "losses", "regularization", "init"]


def test_model_solution_gets_full_marks(grade_it):
    result = grade_it(SOLUTION, exercises=EXERCISES)
    assert failed(result) == []
    assert result.score == result.max_score > 0
    assert len(list(result.checks())) >= 50


# Correct code in other styles: float32 arithmetic, epsilon guards, NumPy scalars for losses, in-place
# running statistics, (1, D) parameter gradients, math.erf, legacy np.random, float32 weights.
STYLES = {
    "activations.py": [
        ("return np.where(x > 0, x, negative_slope * x)",
         "x = x.astype(np.float32)\n    return np.where(x > 0, x, negative_slope * x)"),
        ("from scipy.special import erf", "import math\nerf = np.vectorize(math.erf)"),
        ("shifted = x - x.max(axis=1, keepdims=True)\n    return",
         "x = x.astype(np.float32)\n    shifted = x - x.max(axis=1, keepdims=True)\n    return"),
        ("s = np.exp(log_softmax(x))", "dout = dout.astype(np.float32)\n    s = np.exp(log_softmax(x))")],
    "losses.py": [
        ("return float(-np.mean(y * np.log(probs) + (1 - y) * np.log(1 - probs)))",
         "return -np.mean(y * np.log(probs + 1e-8) + (1 - y) * np.log(1 - probs + 1e-8))"),
        ("return -(y / probs - (1 - y) / (1 - probs)) / probs.size",
         "probs = np.clip(probs, 1e-7, 1 - 1e-7)\n    return -(y / probs - (1 - y) / (1 - probs)) / probs.size"),
        ("return float(np.mean((pred - target) ** 2))", "return np.mean(np.square(pred - target).astype(np.float32))"),
        ("return (s - y) / logits.size", "return ((s - y) / logits.size).astype(np.float32)")],
    "regularization.py": [
        ("    return x * mask / (1 - p_drop)", "    x = x * mask\n    x /= 1 - p_drop\n    return x"),
        ("    new_mean = (1 - momentum) * running_mean + momentum * mu\n"
         "    new_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)\n"
         "    return out, new_mean, new_var",
         "    running_mean *= 1 - momentum\n    running_mean += momentum * mu\n"
         "    running_var *= 1 - momentum\n    running_var += momentum * x.var(axis=0, ddof=1)\n"
         "    return out, running_mean, running_var"),
        ("dbeta = dout.sum(axis=0)", "dbeta = dout.sum(axis=0, keepdims=True)"),
        ("dgamma = (dout * x_hat).sum(axis=0)", "dgamma = (dout * x_hat).sum(axis=0, keepdims=True)")],
    "init.py": [
        ("rng = np.random.default_rng(seed)\n    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))",
         "np.random.seed(seed)\n    return np.sqrt(2.0 / fan_in) * np.random.randn(fan_in, fan_out)"),
        ("return rng.uniform(-limit, limit, size=(fan_in, fan_out))\n\n\ndef he_normal",
         "return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)\n\n\ndef he_normal")],
}


def test_correct_code_in_other_styles_gets_full_marks(grade_it, tmp_path):
    result = grade_it(make_submission(tmp_path, STYLES), exercises=EXERCISES)
    assert failed(result) == []


# Every catalogued mistake: (file, [(old, new)] edits of the solution, the check that must carry
# `mistake:<id>`, other checks that may lose points because they see the same bug).
GRADCHECK = {"leaky_relu": "leaky_relu_backward.gradcheck", "gelu": "gelu_backward.gradcheck",
             "log_softmax": "log_softmax_backward.gradcheck", "onehot": "softmax_cross_entropy_onehot_backward.gradcheck",
             "bce": "binary_cross_entropy_backward.gradcheck",
             "bce_logits": "binary_cross_entropy_with_logits_backward.gradcheck",
             "mse": "mean_squared_error_backward.gradcheck", "dropout": "dropout_backward.gradcheck",
             "batchnorm": "batchnorm_backward.gradcheck"}
LOG_SOFTMAX_BACKWARD = {"log_softmax_backward.backward", GRADCHECK["log_softmax"]}  # it calls log_softmax
BN_FORWARD = "batchnorm_forward.forward"

MISTAKES = {
    # activations
    "leaky_relu_fixed_slope": ("activations.py", [("x, negative_slope * x)", "x, 0.01 * x)")],
                               "leaky_relu_forward.forward", {GRADCHECK["leaky_relu"]}),
    "leaky_relu_backward_like_relu": ("activations.py", [("dout * np.where(x > 0, 1.0, negative_slope)", "dout * (x > 0)")],
                                      "leaky_relu_backward.backward",
                                      {GRADCHECK["leaky_relu"], "leaky_relu_backward.kink"}),
    "leaky_relu_backward_fixed_slope": ("activations.py", [("np.where(x > 0, 1.0, negative_slope)",
                                                            "np.where(x > 0, 1.0, 0.01)")],
                                        "leaky_relu_backward.backward",
                                        {GRADCHECK["leaky_relu"], "leaky_relu_backward.kink"}),
    "gelu_tanh_approximation": ("activations.py", [("return 0.5 * x * (1 + erf(x / np.sqrt(2)))",
                                                    "return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 "
                                                    "* x ** 3)))")], "gelu_forward.forward", {GRADCHECK["gelu"]}),
    "gelu_sigmoid_approximation": ("activations.py", [("return 0.5 * x * (1 + erf(x / np.sqrt(2)))",
                                                       "return x / (1 + np.exp(-1.702 * x))")],
                                   "gelu_forward.forward", {GRADCHECK["gelu"]}),
    "gelu_backward_missing_density_term": ("activations.py", [("return dout * (cdf + x * pdf)", "return dout * cdf")],
                                           "gelu_backward.backward", {GRADCHECK["gelu"]}),
    "gelu_backward_tanh_approximation": (
        "activations.py", [("return dout * (cdf + x * pdf)",
                            "c = np.sqrt(2 / np.pi)\n    t = np.tanh(c * (x + 0.044715 * x ** 3))\n"
                            "    return dout * (0.5 * (1 + t) + 0.5 * x * (1 - t ** 2) * c * (1 + 3 * 0.044715 * x ** 2))")],
        "gelu_backward.backward", {GRADCHECK["gelu"]}),
    "log_softmax_of_softmax": ("activations.py", [("    shifted = x - x.max(axis=1, keepdims=True)\n    return shifted - "
                                                   "np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                                                   "    e = np.exp(x - x.max(axis=1, keepdims=True))\n"
                                                   "    return np.log(e / e.sum(axis=1, keepdims=True))")],
                               "log_softmax.forward", LOG_SOFTMAX_BACKWARD),
    "log_softmax_unshifted": ("activations.py", [("    shifted = x - x.max(axis=1, keepdims=True)\n    return shifted - "
                                                  "np.log(np.exp(shifted).sum(axis=1, keepdims=True))",
                                                  "    return x - np.log(np.exp(x).sum(axis=1, keepdims=True))")],
                              "log_softmax.forward", LOG_SOFTMAX_BACKWARD),
    "log_softmax_max_not_added_back": ("activations.py", [("return shifted - np.log(", "return x - np.log(")],
                                       "log_softmax.forward", LOG_SOFTMAX_BACKWARD),
    "log_softmax_backward_missing_row_sum": ("activations.py", [("return dout - s * dout.sum(axis=1, keepdims=True)",
                                                                 "return dout - s")],
                                             "log_softmax_backward.backward", {GRADCHECK["log_softmax"]}),
    "log_softmax_backward_of_softmax": ("activations.py", [("return dout - s * dout.sum(axis=1, keepdims=True)",
                                                            "return s * (dout - (dout * s).sum(axis=1, keepdims=True))")],
                                        "log_softmax_backward.backward", {GRADCHECK["log_softmax"]}),
    # losses
    "onehot_cross_entropy_sum": ("losses.py", [("(y_onehot * _log_softmax_rows(logits)).sum() / logits.shape[0])",
                                                "(y_onehot * _log_softmax_rows(logits)).sum())")],
                                 "softmax_cross_entropy_onehot.forward", {GRADCHECK["onehot"]}),
    "onehot_cross_entropy_unstable": ("losses.py", [("    return float(-(y_onehot * _log_softmax_rows(logits)).sum()",
                                                     "    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)\n"
                                                     "    return float(-(y_onehot * np.log(p)).sum()")],
                                      "softmax_cross_entropy_onehot.forward", {GRADCHECK["onehot"]}),
    "onehot_cross_entropy_grad_not_averaged": ("losses.py", [("- y_onehot) / logits.shape[0]", "- y_onehot)")],
                                               "softmax_cross_entropy_onehot_backward.backward", {GRADCHECK["onehot"]}),
    "onehot_cross_entropy_grad_without_softmax": ("losses.py", [("(np.exp(_log_softmax_rows(logits)) - y_onehot)",
                                                                 "(logits - y_onehot)")],
                                                  "softmax_cross_entropy_onehot_backward.backward",
                                                  {GRADCHECK["onehot"]}),
    "bce_missing_negative_term": ("losses.py", [("-np.mean(y * np.log(probs) + (1 - y) * np.log(1 - probs))",
                                                 "-np.mean(y * np.log(probs))")],
                                  "binary_cross_entropy.forward", {GRADCHECK["bce"]}),
    "bce_sum": ("losses.py", [("-np.mean(y * np.log(probs) + (1 - y) * np.log(1 - probs))",
                               "-np.sum(y * np.log(probs) + (1 - y) * np.log(1 - probs))")],
                "binary_cross_entropy.forward", {GRADCHECK["bce"]}),
    "bce_grad_with_respect_to_logits": ("losses.py", [("return -(y / probs - (1 - y) / (1 - probs)) / probs.size",
                                                       "return (probs - y) / probs.size")],
                                        "binary_cross_entropy_backward.backward", {GRADCHECK["bce"]}),
    "bce_grad_not_averaged": ("losses.py", [("return -(y / probs - (1 - y) / (1 - probs)) / probs.size",
                                             "return -(y / probs - (1 - y) / (1 - probs))")],
                              "binary_cross_entropy_backward.backward", {GRADCHECK["bce"]}),
    "bce_logits_unstable": ("losses.py", [("    return float(np.mean(np.maximum(logits, 0) - logits * y + "
                                           "np.log1p(np.exp(-np.abs(logits)))))",
                                           "    p = 1 / (1 + np.exp(-logits))\n"
                                           "    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))")],
                            "binary_cross_entropy_with_logits.forward", {GRADCHECK["bce_logits"]}),
    "bce_logits_sum": ("losses.py", [("float(np.mean(np.maximum(logits, 0)", "float(np.sum(np.maximum(logits, 0)")],
                       "binary_cross_entropy_with_logits.forward", {GRADCHECK["bce_logits"]}),
    "bce_logits_grad_not_averaged": ("losses.py", [("return (s - y) / logits.size", "return s - y")],
                                     "binary_cross_entropy_with_logits_backward.backward", {GRADCHECK["bce_logits"]}),
    "bce_logits_grad_extra_sigmoid_derivative": ("losses.py", [("return (s - y) / logits.size",
                                                                "return (s - y) * s * (1 - s) / logits.size")],
                                                 "binary_cross_entropy_with_logits_backward.backward",
                                                 {GRADCHECK["bce_logits"]}),
    "mse_half": ("losses.py", [("return float(np.mean((pred - target) ** 2))",
                                "return float(0.5 * np.mean((pred - target) ** 2))")],
                 "mean_squared_error.forward", {GRADCHECK["mse"]}),
    "mse_sum_over_outputs": ("losses.py", [("return float(np.mean((pred - target) ** 2))",
                                            "return float(((pred - target) ** 2).sum(axis=1).mean())")],
                             "mean_squared_error.forward", {GRADCHECK["mse"]}),
    "mse_grad_not_averaged": ("losses.py", [("return 2 * (pred - target) / pred.size", "return 2 * (pred - target)")],
                              "mean_squared_error_backward.backward", {GRADCHECK["mse"]}),
    "mse_grad_missing_factor_2": ("losses.py", [("return 2 * (pred - target) / pred.size",
                                                 "return (pred - target) / pred.size")],
                                  "mean_squared_error_backward.backward", {GRADCHECK["mse"]}),
    # regularization
    "dropout_not_rescaled": ("regularization.py", [("return x * mask / (1 - p_drop)", "return x * mask")],
                             "dropout_forward.forward", {GRADCHECK["dropout"]}),
    "dropout_keep_drop_confused": ("regularization.py", [("return x * mask / (1 - p_drop)", "return x * mask / p_drop")],
                                   "dropout_forward.forward", {GRADCHECK["dropout"]}),
    "dropout_in_eval_mode": ("regularization.py", [("    if not training:\n        return x\n", "")],
                             "dropout_forward.forward", {GRADCHECK["dropout"]}),
    "dropout_backward_not_rescaled": ("regularization.py", [("return dout * mask / (1 - p_drop)", "return dout * mask")],
                                      "dropout_backward.backward", {GRADCHECK["dropout"]}),
    "dropout_backward_masks_in_eval_mode": ("regularization.py", [("    if not training:\n        return dout\n", "")],
                                            "dropout_backward.backward", {GRADCHECK["dropout"]}),
    "batchnorm_running_var_biased": ("regularization.py", [("momentum * var * n / (n - 1)", "momentum * var")],
                                     BN_FORWARD, set()),
    "batchnorm_normalizes_with_unbiased_var": ("regularization.py", [
        ("out = gamma * (x - mu) / np.sqrt(var + eps) + beta",
         "out = gamma * (x - mu) / np.sqrt(var * n / (n - 1) + eps) + beta")], BN_FORWARD, {GRADCHECK["batchnorm"]}),
    "batchnorm_momentum_on_old_value": ("regularization.py", [
        ("new_mean = (1 - momentum) * running_mean + momentum * mu",
         "new_mean = momentum * running_mean + (1 - momentum) * mu"),
        ("new_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)",
         "new_var = momentum * running_var + (1 - momentum) * var * n / (n - 1)")], BN_FORWARD, set()),
    "batchnorm_eval_uses_batch_statistics": ("regularization.py", [
        ("out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta",
         "out = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) + beta")], BN_FORWARD, set()),
    "batchnorm_backward_ignores_batch_statistics": ("regularization.py", [
        ("dx = gamma * inv_std * (dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0))",
         "dx = gamma * inv_std * dout")], "batchnorm_backward.backward", {GRADCHECK["batchnorm"]}),
    "batchnorm_backward_dgamma_with_x": ("regularization.py", [("dgamma = (dout * x_hat).sum(axis=0)",
                                                                 "dgamma = (dout * x).sum(axis=0)")],
                                         "batchnorm_backward.backward", {GRADCHECK["batchnorm"]}),
    # init
    "xavier_normal_fan_in_only": ("init.py", [("rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out))",
                                               "rng.normal(0.0, np.sqrt(1.0 / fan_in)")],
                                  "xavier_normal.distribution", set()),
    "xavier_normal_drawn_uniform": ("init.py", [("rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out))",
                                                 "rng.uniform(-np.sqrt(6.0 / (fan_in + fan_out)), "
                                                 "np.sqrt(6.0 / (fan_in + fan_out))")],
                                    "xavier_normal.distribution", set()),
    "xavier_normal_variance_as_std": ("init.py", [("rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out))",
                                                   "rng.normal(0.0, 2.0 / (fan_in + fan_out)")],
                                      "xavier_normal.distribution", set()),
    "xavier_uniform_fan_in_only": ("init.py", [("limit = np.sqrt(6.0 / (fan_in + fan_out))",
                                                "limit = np.sqrt(3.0 / fan_in)")], "xavier_uniform.distribution", set()),
    "xavier_uniform_std_as_limit": ("init.py", [("limit = np.sqrt(6.0 / (fan_in + fan_out))",
                                                 "limit = np.sqrt(2.0 / (fan_in + fan_out))")],
                                    "xavier_uniform.distribution", set()),
    "xavier_uniform_drawn_normal": ("init.py", [("return rng.uniform(-limit, limit, size=(fan_in, fan_out))\n\n\n"
                                                 "def he_normal",
                                                 "return rng.normal(0.0, limit / np.sqrt(3), size=(fan_in, fan_out))"
                                                 "\n\n\ndef he_normal")], "xavier_uniform.distribution", set()),
    "he_normal_missing_sqrt2": ("init.py", [("rng.normal(0.0, np.sqrt(2.0 / fan_in)",
                                             "rng.normal(0.0, np.sqrt(1.0 / fan_in)")], "he_normal.distribution", set()),
    "he_normal_fan_out": ("init.py", [("rng.normal(0.0, np.sqrt(2.0 / fan_in)", "rng.normal(0.0, np.sqrt(2.0 / fan_out)")],
                          "he_normal.distribution", set()),
    "he_normal_drawn_uniform": ("init.py", [("rng.normal(0.0, np.sqrt(2.0 / fan_in)",
                                             "rng.uniform(-np.sqrt(6.0 / fan_in), np.sqrt(6.0 / fan_in)")],
                                "he_normal.distribution", set()),
    "he_uniform_missing_sqrt2": ("init.py", [("limit = np.sqrt(6.0 / fan_in)", "limit = np.sqrt(3.0 / fan_in)")],
                                 "he_uniform.distribution", set()),
    "he_uniform_std_as_limit": ("init.py", [("limit = np.sqrt(6.0 / fan_in)", "limit = np.sqrt(2.0 / fan_in)")],
                                "he_uniform.distribution", set()),
    "he_uniform_fan_out": ("init.py", [("limit = np.sqrt(6.0 / fan_in)", "limit = np.sqrt(6.0 / fan_out)")],
                           "he_uniform.distribution", set()),
    "xavier_normal_fan_out_only": ("init.py", [("rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out))",
                                                "rng.normal(0.0, np.sqrt(1.0 / fan_out)")],
                                   "xavier_normal.distribution", set()),
    "xavier_uniform_fan_out_only": ("init.py", [("limit = np.sqrt(6.0 / (fan_in + fan_out))",
                                                 "limit = np.sqrt(3.0 / fan_out)")], "xavier_uniform.distribution", set()),
    "he_normal_both_fans": ("init.py", [("rng.normal(0.0, np.sqrt(2.0 / fan_in)",
                                         "rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out))")],
                            "he_normal.distribution", set()),
    "he_uniform_both_fans": ("init.py", [("limit = np.sqrt(6.0 / fan_in)", "limit = np.sqrt(6.0 / (fan_in + fan_out))")],
                             "he_uniform.distribution", set()),
}


def _catalogue():
    """(exercise id, unit index, mistake id) for every catalogued mistake of curriculum A."""
    assignment = load_assignment()
    for exercise_id in EXERCISES:
        for index, unit in enumerate(assignment.exercise(exercise_id).units):
            for mistake in (*unit.mistakes, *(unit.backward.mistakes if unit.backward else ())):
                yield exercise_id, index, mistake.id


def _rounds():
    """Mistakes grouped so that each submission carries at most one per unit (units are graded
    independently), which keeps the number of grading runs at the longest unit's catalogue."""
    rounds, seen = defaultdict(list), defaultdict(int)
    for exercise_id, index, mistake_id in _catalogue():
        rounds[seen[exercise_id, index]].append((exercise_id, mistake_id))
        seen[exercise_id, index] += 1
    return [rounds[i] for i in sorted(rounds)]


def test_every_catalogued_mistake_has_a_submission_and_each_exercise_two():
    catalogued = [m for _e, _u, m in _catalogue()]
    assert sorted(catalogued) == sorted(MISTAKES)
    per_exercise = defaultdict(int)
    for exercise_id, _unit, _m in _catalogue():
        per_exercise[exercise_id] += 1
    assert all(per_exercise[e] >= 2 for e in EXERCISES)
    for file, edits, _check, _also in MISTAKES.values():
        text = (SOLUTION / file).read_text()
        assert all(text.count(old) == 1 for old, _new in edits)  # each edit changes exactly its target


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # gradcheck sums the Inf of unstable variants
@pytest.mark.parametrize("round_", range(len(_rounds())))
def test_each_catalogued_mistake_is_caught_and_named(grade_it, tmp_path, round_):
    mistakes = _rounds()[round_]
    edits = defaultdict(list)
    for _exercise, mistake_id in mistakes:
        file, changes, _check, _also = MISTAKES[mistake_id]
        edits[file].extend(changes)
    result = grade_it(make_submission(tmp_path, edits), exercises=sorted({e for e, _m in mistakes}))
    allowed = set()
    for exercise, mistake_id in mistakes:
        _file, _changes, name, also = MISTAKES[mistake_id]
        lost = check(result, exercise, name)
        assert lost.score < lost.max_score, mistake_id
        assert lost.hint is not None and lost.hint.code == f"mistake:{mistake_id}", (mistake_id, lost.hint)
        allowed |= {name} | also
    assert set(failed_on_their_own(result)) <= allowed


def test_untouched_starter_grades_to_zero_without_errors(grade_it, tmp_path):
    assignment = load_assignment()
    for exercise_id in EXERCISES:
        exercise = assignment.exercise(exercise_id)
        (tmp_path / exercise.starter).write_text(starter_source(exercise))
    result = grade_it(tmp_path, exercises=EXERCISES)
    checks = list(result.checks())
    assert result.score == 0 and not result.errors
    assert {c.status for c in checks} == {NOT_ATTEMPTED}
    assert all("not implemented" in c.message for c in checks)


def test_features_first_assignment_grades_transposed_arrays(grade_it, tmp_path):
    """The layout annotations: a features-first log-softmax (columns) and (fan_out, fan_in) weights."""
    toml = tmp_path / "ff.toml"
    toml.write_text('title = "features first"\nexercises = ["activations", "init"]\nlayout = "features_first"\n'
                    'practice_seed = 7\n')
    sub = make_submission(tmp_path / "sub", {
        "activations.py": [("x.max(axis=1, keepdims=True)", "x.max(axis=0, keepdims=True)"),
                           ("np.exp(shifted).sum(axis=1, keepdims=True)", "np.exp(shifted).sum(axis=0, keepdims=True)"),
                           ("dout.sum(axis=1, keepdims=True)", "dout.sum(axis=0, keepdims=True)")],
        "init.py": [("size=(fan_in, fan_out)", "size=(fan_out, fan_in)")]})
    result = grade_it(sub, spec=load_assignment(toml))
    assert failed(result) == []
    batch_first = grade_it(sub, exercises=["init"])  # the same weights are the wrong shape batch-first
    assert "shape (60, 240)" in check(batch_first, "init", "xavier_normal.distribution").message


def test_initializer_that_ignores_its_seed_or_shape_fails(grade_it, tmp_path):
    sub = make_submission(tmp_path, {"init.py": [
        ("def xavier_normal(fan_in, fan_out, seed):\n    rng = np.random.default_rng(seed)",
         "def xavier_normal(fan_in, fan_out, seed):\n    rng = np.random.default_rng(0)"),
        ("limit = np.sqrt(6.0 / fan_in)\n    return rng.uniform(-limit, limit, size=(fan_in, fan_out))",
         "limit = np.sqrt(6.0 / fan_in)\n    return rng.uniform(-limit, limit, size=(fan_out, fan_in))")]})
    result = grade_it(sub, exercises=["init"])
    assert failed(result) == ["he_uniform.distribution", "xavier_normal.distribution"]
    assert "same array" in check(result, "init", "xavier_normal.distribution").message
    assert "got shape (240, 60)" in check(result, "init", "he_uniform.distribution").message


# ---- the statistics of the `distribution` check, in-process ----------------------------------------

def _init_cases():
    for unit in load_assignment().exercise("init").units:
        for case in unit.cases:
            sizes = (case.dims["fan_in"], case.dims["fan_out"])
            yield unit, sizes, statistical.DRAWS * sizes[0] * sizes[1]


def test_correct_initializers_fail_with_probability_below_one_in_a_million():
    # Union bound over every test the exercise runs; 1.2 covers the normal approximation's tail error
    # (Edgeworth, for the smallest sample).
    smallest = min(n for _unit, _sizes, n in _init_cases())
    edgeworth = 1 + np.sqrt(8 / smallest) * (statistical.Z ** 2 - 1) / 6
    assert edgeworth <= 1.2
    tests = 3 * len(list(_init_cases()))
    assert tests * statistical.ALPHA * edgeworth < 1e-6


@pytest.mark.parametrize("unit_name", ["xavier_normal", "xavier_uniform", "he_normal", "he_uniform"])
def test_catalogued_initializers_are_told_apart_with_probability_above_one_minus_one_in_a_million(unit_name):
    """Draws of each catalogued wrong variant pass the tests against the target, or against another
    variant (which would name the wrong mistake), with probability below 1e-6."""
    for unit, sizes, n in _init_cases():
        if unit.name == unit_name:
            assert len(unit.mistakes) >= 2
            candidates = {"target": unit.reference(*sizes), **{m.id: m.reference(*sizes) for m in unit.mistakes}}
            for drawn in unit.mistakes:
                for name, other in candidates.items():
                    if name != drawn.id:
                        miss = statistical.miss_probability(other, drawn.reference(*sizes), n)
                        assert miss < 1e-6, (drawn.id, name, sizes, miss)


def test_a_uniform_with_the_right_variance_fails_only_the_shape_test():
    target = init_ref.normal(0.1)
    draws = np.random.default_rng(1).uniform(-0.1 * np.sqrt(3), 0.1 * np.sqrt(3), 20_000)
    wrong = statistical.failures(draws, target)
    assert len(wrong) == 1 and "Kolmogorov-Smirnov" in wrong[0]
    assert statistical.failures(draws, init_ref.uniform(0.1 * np.sqrt(3))) == []


def test_torch_init_draws_match_the_references_and_torch_without_the_relu_gain_does_not():
    torch.manual_seed(0)
    fan_in, fan_out = 120, 90
    weight = torch.empty(fan_out, fan_in, dtype=torch.float64)  # torch's (out, in): fan_in is dim 1
    draws = {
        "xavier_normal": torch.nn.init.xavier_normal_(weight.clone()),
        "xavier_uniform": torch.nn.init.xavier_uniform_(weight.clone()),
        "he_normal": torch.nn.init.kaiming_normal_(weight.clone(), mode="fan_in", nonlinearity="relu"),
        "he_uniform": torch.nn.init.kaiming_uniform_(weight.clone(), mode="fan_in", nonlinearity="relu"),
    }
    for name, w in draws.items():
        assert statistical.failures(w.numpy().ravel(), getattr(init_ref, name)(fan_in, fan_out)) == [], name
    linear = torch.nn.init.kaiming_normal_(weight.clone(), mode="fan_in", nonlinearity="linear").numpy().ravel()
    assert any("variance" in f for f in statistical.failures(linear, init_ref.he_normal(fan_in, fan_out)))
