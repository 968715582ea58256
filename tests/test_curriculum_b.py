"""Curriculum B: conv2d and max-pooling against F.conv2d / F.max_pool2d, and optimizers equal to
torch.optim step by step. The model solution gets full marks; every catalogued mistake loses points at
its check and is named; an untouched starter kit grades to 0, not attempted, without errors.

Several mistakes share one submission when they sit in different functions (each check is graded on
its own), which keeps the number of sandboxes, and the time, small.
"""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest
import torch
from helpers import SOLUTION, check, failed, failed_on_their_own, make_submission

from grader.assignment import load_assignment
from grader.reference import optimizers as ref
from grader.results import ERROR, NOT_ATTEMPTED
from grader.spec import Optimizer
from grader.starter import starter_source

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

EXERCISES = ["conv", "optimizers"]


def test_model_solution_gets_full_marks(grade_it):
    result = grade_it(SOLUTION, exercises=EXERCISES)
    assert failed(result) == []
    assert result.score == result.max_score > 0
    kinds = {c.kind for c in result.checks()}
    assert {"forward", "backward", "gradcheck", "kink", "state_init", "steps"} <= kinds


ADAM_BODY = ("        g = grads[k] + weight_decay * params[k]\n"
             "        v_hat, s_hat = _adam_moments(k, g, v, s, t, beta1, beta2)\n"
             "        params[k] = params[k] - learning_rate * v_hat / (np.sqrt(s_hat) + epsilon)\n")
FLOAT32_ADAM_BODY = """        f = np.float32
        p = params[k].astype(f)
        g = grads[k].astype(f) + f(weight_decay) * p
        v[k] = f(beta1) * v[k].astype(f) + f(1 - beta1) * g
        s[k] = f(beta2) * s[k].astype(f) + f(1 - beta2) * g * g
        v_hat, s_hat = v[k] / f(1 - beta1 ** t), s[k] / f(1 - beta2 ** t)
        params[k] = p - f(learning_rate) * v_hat / (np.sqrt(s_hat) + f(epsilon))
"""

STYLE_VARIANTS = {
    "float32 conv and adam, state kept in float32": {
        "conv.py": [("return out + b.reshape(1, F, 1, 1)", "return (out + b.reshape(1, F, 1, 1)).astype(np.float32)")],
        "optimizers.py": [(ADAM_BODY, FLOAT32_ADAM_BODY)]},
    "new dicts returned, or params returned with the state updated in place": {"optimizers.py": [
        ("    for k in params:\n        params[k] -= learning_rate * (grads[k] + weight_decay * params[k])\n",
         "    return {k: p - learning_rate * (grads[k] + weight_decay * p) for k, p in params.items()}\n"),
        ("        params[k] -= learning_rate * (g + beta * v[k])\n",
         "        params[k] = params[k] - learning_rate * (g + beta * v[k])\n    return params\n")]},
}


@pytest.mark.parametrize("variant", list(STYLE_VARIANTS))
def test_correct_code_in_other_styles_gets_full_marks(grade_it, tmp_path, variant):
    result = grade_it(make_submission(tmp_path, STYLE_VARIANTS[variant]), exercises=EXERCISES)
    assert failed(result) == []


CHANNELS_LAST = {"conv.py": [(name, f"def _nchw_{name[4:]}") for name in (
    "def conv2d_forward(", "def conv2d_backward(", "def maxpool2d_forward(", "def maxpool2d_backward(")] + [
    ("    return dx\n", """    return dx


def conv2d_forward(x, w, b, stride, padding):  # x (N, H, W, C), w (KH, KW, C, F)
    out = _nchw_conv2d_forward(x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), b, stride, padding)
    return out.transpose(0, 2, 3, 1)


def conv2d_backward(dout, x, w, b, stride, padding):
    dx, dw, db = _nchw_conv2d_backward(dout.transpose(0, 3, 1, 2), x.transpose(0, 3, 1, 2), w.transpose(3, 2, 0, 1), b,
                                       stride, padding)
    return dx.transpose(0, 2, 3, 1), dw.transpose(2, 3, 1, 0), db


def maxpool2d_forward(x, kernel_size, stride):
    return _nchw_maxpool2d_forward(x.transpose(0, 3, 1, 2), kernel_size, stride).transpose(0, 2, 3, 1)


def maxpool2d_backward(dout, x, kernel_size, stride):
    return _nchw_maxpool2d_backward(dout.transpose(0, 3, 1, 2), x.transpose(0, 3, 1, 2), kernel_size,
                                    stride).transpose(0, 2, 3, 1)
""")]}


def test_features_first_assignments_grade_channels_last_conv(grade_it, tmp_path):
    spec = load_assignment()
    spec.options["layout"] = "features_first"
    result = grade_it(make_submission(tmp_path, CHANNELS_LAST), exercises=["conv"], spec=spec)
    assert failed(result) == []
    forward = check(result, "conv", "conv2d_forward.forward")
    assert "x: (1, 8, 7, 2) float64, w: (3, 2, 2, 3) float64" in forward.cases[1].call  # sent channels-last


# mistake id -> (file, (old, new) edits, the check that must name it, other checks the bug shows in by nature)
MISTAKES = {
    "conv2d_flipped_kernel": ("conv.py", [(
        "np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))",
        "np.tensordot(window, w[:, :, ::-1, ::-1], axes=([1, 2, 3], [1, 2, 3]))")],
        "conv2d_forward.forward", {"conv2d_backward.gradcheck"}),  # backward no longer matches the forward
    "conv2d_db_batch_only": ("conv.py", [("dout.sum(axis=(0, 2, 3))", "dout.sum(axis=0)")],
                             "conv2d_backward.backward", {"conv2d_backward.gradcheck"}),
    "conv2d_db_mean": ("conv.py", [("dout.sum(axis=(0, 2, 3))", "dout.mean(axis=(0, 2, 3))")],
                       "conv2d_backward.backward", {"conv2d_backward.gradcheck"}),
    "conv2d_dx_kernel_not_flipped": ("conv.py", [(
        "np.tensordot(d, w, axes=([1], [0]))", "np.tensordot(d, w[:, :, ::-1, ::-1], axes=([1], [0]))")],
        "conv2d_backward.backward", {"conv2d_backward.gradcheck"}),
    # Random inputs have no ties: only the kink check, built of ties, sees this one.
    "maxpool2d_every_tie": ("conv.py", [(
        "first = window.reshape(N, C, -1).argmax(axis=2)\n"
        "            p, q = np.unravel_index(first, (kernel_size, kernel_size))\n"
        "            np.add.at(dx, (n, c, i * stride + p, j * stride + q), dout[:, :, i, j])",
        "mask = window == window.max(axis=(2, 3), keepdims=True)\n"
        "            dx[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size] += "
        "mask * dout[:, :, i, j, None, None]")], "maxpool2d_backward.kink", set()),
    "maxpool2d_average": ("conv.py", [(
        "np.add.at(dx, (n, c, i * stride + p, j * stride + q), dout[:, :, i, j])",
        "dx[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size] += "
        "dout[:, :, i, j, None, None] / kernel_size ** 2")],
        "maxpool2d_backward.backward", {"maxpool2d_backward.gradcheck", "maxpool2d_backward.kink"}),
    "conv2d_dx_keeps_padding": ("conv.py", [(
        "dx = dxp[:, :, padding:padding + H, padding:padding + W]", "dx = dxp")],
        "conv2d_backward.backward", {"conv2d_backward.gradcheck"}),
    "maxpool2d_whole_window": ("conv.py", [(
        "np.add.at(dx, (n, c, i * stride + p, j * stride + q), dout[:, :, i, j])",
        "dx[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size] += "
        "dout[:, :, i, j, None, None]")],
        "maxpool2d_backward.backward", {"maxpool2d_backward.gradcheck", "maxpool2d_backward.kink"}),
    "maxpool2d_overwrite": ("conv.py", [(
        "np.add.at(dx, (n, c, i * stride + p, j * stride + q), dout[:, :, i, j])",
        "dx[n, c, i * stride + p, j * stride + q] = dout[:, :, i, j]")],
        "maxpool2d_backward.backward", {"maxpool2d_backward.gradcheck", "maxpool2d_backward.kink"}),
    "gd_weight_decay_ignored": ("optimizers.py", [(
        "params[k] -= learning_rate * (grads[k] + weight_decay * params[k])", "params[k] -= learning_rate * grads[k]")],
        "update_parameters_with_gd.steps", set()),
    "gd_decay_without_lr": ("optimizers.py", [(
        "params[k] -= learning_rate * (grads[k] + weight_decay * params[k])",
        "params[k] -= learning_rate * grads[k] + weight_decay * params[k]")], "update_parameters_with_gd.steps", set()),
    "momentum_first_step_dampened": ("optimizers.py", [(
        "new_v[k] = g if t == 1 else beta * v[k] + (1 - dampening) * g",
        "new_v[k] = beta * v[k] + (1 - dampening) * g")],
        "update_parameters_with_momentum.steps", set()),
    "momentum_dampening_ignored": ("optimizers.py", [(
        "new_v[k] = g if t == 1 else beta * v[k] + (1 - dampening) * g",
        "new_v[k] = g if t == 1 else beta * v[k] + g")],
        "update_parameters_with_momentum.steps", set()),
    "nesterov_plain_momentum": ("optimizers.py", [(
        "params[k] -= learning_rate * (g + beta * v[k])", "params[k] -= learning_rate * v[k]")],
        "update_parameters_with_nesterov.steps", set()),
    "nesterov_decay_missing_in_lookahead": ("optimizers.py", [(
        "params[k] -= learning_rate * (g + beta * v[k])", "params[k] -= learning_rate * (grads[k] + beta * v[k])")],
        "update_parameters_with_nesterov.steps", set()),
    "rmsprop_eps_inside_sqrt": ("optimizers.py", [("np.sqrt(s[k]) + epsilon", "np.sqrt(s[k] + epsilon)")],
                                "update_parameters_with_rmsprop.steps", set()),
    "rmsprop_centered_ignored": ("optimizers.py", [("        if centered:\n", "        if False:\n")],
                                 "update_parameters_with_rmsprop.steps", set()),
    "adam_no_bias_correction": ("optimizers.py", [(
        "v_hat, s_hat = _adam_moments(k, g, v, s, t, beta1, beta2)\n"
        "        params[k] = params[k] - learning_rate * v_hat / (np.sqrt(s_hat) + epsilon)",
        "_adam_moments(k, g, v, s, t, beta1, beta2)\n"
        "        params[k] = params[k] - learning_rate * v[k] / (np.sqrt(s[k]) + epsilon)")],
        "update_parameters_with_adam.steps", set()),
    "adam_eps_in_step_size": ("optimizers.py", [(
        "v_hat, s_hat = _adam_moments(k, g, v, s, t, beta1, beta2)\n"
        "        params[k] = params[k] - learning_rate * v_hat / (np.sqrt(s_hat) + epsilon)",
        "_adam_moments(k, g, v, s, t, beta1, beta2)\n"
        "        step = learning_rate * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)\n"
        "        params[k] = params[k] - step * v[k] / (np.sqrt(s[k]) + epsilon)")],
        "update_parameters_with_adam.steps", set()),
    "adam_decoupled_weight_decay": ("optimizers.py", [(
        "g = grads[k] + weight_decay * params[k]\n        v_hat, s_hat = _adam_moments(k, g,",
        "params[k] = params[k] * (1 - learning_rate * weight_decay)\n        g = grads[k]\n"
        "        v_hat, s_hat = _adam_moments(k, g,")], "update_parameters_with_adam.steps", set()),
    "adamw_coupled_weight_decay": ("optimizers.py", [(
        "params[k] *= 1 - learning_rate * weight_decay\n        v_hat, s_hat = _adam_moments(k, grads[k],",
        "v_hat, s_hat = _adam_moments(k, grads[k] + weight_decay * params[k],")],
        "update_parameters_with_adamw.steps", set()),
    "adamw_decay_without_lr": ("optimizers.py", [(
        "params[k] *= 1 - learning_rate * weight_decay", "params[k] *= 1 - weight_decay")],
        "update_parameters_with_adamw.steps", set()),
}

# Mistakes graded together: each batch edits different functions, so their checks stay independent.
BATCHES = [
    ["conv2d_flipped_kernel", "maxpool2d_every_tie"],
    ["conv2d_db_batch_only", "maxpool2d_average"],
    ["conv2d_db_mean", "maxpool2d_overwrite"],
    ["conv2d_dx_kernel_not_flipped"],
    ["conv2d_dx_keeps_padding", "maxpool2d_whole_window"],
    ["gd_weight_decay_ignored", "momentum_first_step_dampened", "nesterov_plain_momentum", "rmsprop_eps_inside_sqrt",
     "adam_no_bias_correction", "adamw_coupled_weight_decay"],
    ["gd_decay_without_lr", "momentum_dampening_ignored", "nesterov_decay_missing_in_lookahead",
     "rmsprop_centered_ignored", "adam_eps_in_step_size", "adamw_decay_without_lr"],
    ["adam_decoupled_weight_decay"],
]


def test_batches_cover_every_catalogued_mistake(assignment):
    catalogued = set()
    for exercise in assignment.select(EXERCISES):
        for unit in exercise.units:
            catalogued |= {m.id for m in getattr(unit, "mistakes", ())}
            backward = getattr(unit, "backward", None)
            catalogued |= {m.id for m in backward.mistakes} if backward else set()
    assert catalogued == set(MISTAKES) == {m for batch in BATCHES for m in batch}


def _edits(mistakes) -> dict[str, list]:
    edits: dict[str, list] = {}
    for mistake in mistakes:
        file, changes, _check, _also = MISTAKES[mistake]
        edits.setdefault(file, []).extend(changes)
    return edits


@pytest.mark.parametrize("batch", BATCHES, ids=["+".join(b) for b in BATCHES])
def test_each_catalogued_mistake_is_caught_and_named(grade_it, tmp_path, batch):
    exercises = sorted({"conv" if MISTAKES[m][0] == "conv.py" else "optimizers" for m in batch})
    result = grade_it(make_submission(tmp_path, _edits(batch)), exercises=exercises)
    allowed = set()
    for mistake in batch:
        _file, _changes, name, also = MISTAKES[mistake]
        lost = check(result, exercises[0], name)
        assert lost.score < lost.max_score, name
        assert lost.hint is not None and lost.hint.code == f"mistake:{mistake}", (name, lost.hint, lost.message)
        allowed |= {name} | also
    assert set(failed_on_their_own(result)) <= allowed <= set(failed(result))


# ----------------------------------------------------------------------------- optimizers: the check itself

CS231N = {"optimizers.py": [
    ("        new_v[k] = g if t == 1 else beta * v[k] + (1 - dampening) * g\n"
     "        new_params[k] = params[k] - learning_rate * new_v[k]",
     "        new_v[k] = beta * v[k] - learning_rate * (1 - dampening) * g if t > 1 else -learning_rate * g\n"
     "        new_params[k] = params[k] + new_v[k]"),
    ("        v[k] = g.copy() if t == 1 else beta * v[k] + g\n        params[k] -= learning_rate * (g + beta * v[k])",
     "        v_prev = v[k].copy()\n        v[k] = beta * v[k] - learning_rate * g\n"
     "        params[k] += -beta * v_prev + (1 + beta) * v[k]")]}
MOMENTUM_CHECKS = ["update_parameters_with_momentum.steps", "update_parameters_with_nesterov.steps"]


def _with_convention(name: str):
    spec = load_assignment()
    spec.options["momentum_convention"] = name
    return spec


def test_cs231n_momentum_is_named_when_torch_is_graded(grade_it, tmp_path):
    result = grade_it(make_submission(tmp_path, CS231N), exercises=["optimizers"])
    assert failed(result) == MOMENTUM_CHECKS
    for name in MOMENTUM_CHECKS:
        lost = check(result, "optimizers", name)
        assert lost.hint.code == "mistake:momentum_convention_cs231n" and "CS231n" in lost.hint.text
        assert "step 1 of 12" in lost.message and "v['W1']" in lost.message  # v holds the learning rate


def test_the_assignment_chooses_the_momentum_convention(grade_it, tmp_path):
    cs231n = _with_convention("cs231n")
    assert failed(grade_it(make_submission(tmp_path / "cs", CS231N), exercises=["optimizers"], spec=cs231n)) == []
    result = grade_it(SOLUTION, exercises=["optimizers"], spec=cs231n)
    assert failed(result) == MOMENTUM_CHECKS
    for name in MOMENTUM_CHECKS:
        assert check(result, "optimizers", name).hint.code == "mistake:momentum_convention_torch"
    unknown = grade_it(SOLUTION, exercises=["optimizers"], spec=_with_convention("sutskever"))
    momentum = check(unknown, "optimizers", MOMENTUM_CHECKS[0])
    assert momentum.status == ERROR and "momentum_convention = 'sutskever'" in momentum.message


def test_modified_gradients_rebound_params_hard_coded_layers_and_signatures_fail(grade_it, tmp_path):
    edits = {"optimizers.py": [
        ("def initialize_rmsprop(params):", "def initialize_rmsprop(params, centered):"),
        ("        params[k] -= learning_rate * (g + beta * v[k])\n",
         "        params = {**params, k: params[k] - learning_rate * (g + beta * v[k])}\n"),
        ("params[k] -= learning_rate * (grads[k] + weight_decay * params[k])",
         "grads[k] += weight_decay * params[k]\n        params[k] -= learning_rate * grads[k]"),
        ("return {k: np.zeros_like(p) for k, p in params.items()}",
         "return {k: np.zeros_like(params[k]) for k in ('W1', 'b1', 'W2', 'b2')}")]}
    result = grade_it(make_submission(tmp_path, edits), exercises=["optimizers"])
    assert failed(result) == ["initialize_rmsprop.interface", "initialize_rmsprop.state_init",
                              "initialize_velocity.state_init", "update_parameters_with_gd.steps",
                              "update_parameters_with_nesterov.steps"]
    assert "does not accept the documented 1 arguments" in check(result, "optimizers",
                                                                 "initialize_rmsprop.interface").message
    nesterov = check(result, "optimizers", "update_parameters_with_nesterov.steps")
    assert "returned None and left params as they were" in nesterov.message and nesterov.score == 0
    gd = check(result, "optimizers", "update_parameters_with_gd.steps")
    assert "modified grads" in gd.message and gd.score == gd.max_score / 2  # the run without weight decay passes
    init = check(result, "optimizers", "initialize_velocity.state_init")
    assert "v['W3'] is missing" in init.message and init.score == init.max_score / 2


def test_a_wrong_learning_rate_schedule_shows_at_the_change(grade_it, tmp_path):
    # Caching the first learning rate is right until the assignment changes it at step 7.
    header = "def update_parameters_with_gd(params, grads, learning_rate, weight_decay):\n"
    edits = {"optimizers.py": [(header, "_FIRST = []\n\n\n" + header + "    _FIRST[:] = _FIRST or [learning_rate]\n"
                                                             "    learning_rate = _FIRST[0]\n")]}
    result = grade_it(make_submission(tmp_path, edits), exercises=["optimizers"])
    gd = check(result, "optimizers", "update_parameters_with_gd.steps")
    assert failed(result) == ["update_parameters_with_gd.steps"] and gd.score == 0
    assert "step 7 of 12 (the learning rate changed to 0.03 at this step)" in gd.message


# ----------------------------------------------------------------------------- references


def _steps(n=12, seed=0):
    rng = np.random.default_rng(seed)
    params = {"W": rng.normal(size=(3, 2)), "b": rng.normal(size=(2,))}
    grads = [{k: rng.normal(size=v.shape) * 10.0 ** rng.uniform(-2, 0, v.shape) for k, v in params.items()}
             for _ in range(n)]
    return params, grads


def _close(a, b):
    return all(np.allclose(pa[k], pb[k], rtol=1e-10, atol=1e-12) for (pa, sa), (pb, sb) in zip(a, b) for k in pa) and \
        all(np.allclose(sa[n][k], sb[n][k], rtol=1e-10, atol=1e-12)
            for (pa, sa), (pb, sb) in zip(a, b) for n in sa.keys() & sb.keys() for k in sa[n])


FORMULAS = {  # the formula (with its mistake switches off) that must equal each torch.optim optimizer
    "sgd": (ref.sgd, ref.gd_step, {}, {"weight_decay": 0.1}),
    "momentum": (ref.sgd_momentum, ref.momentum_step, {"v": "momentum_buffer"},
                 {"beta": 0.8, "dampening": 0.3, "weight_decay": 0.1}),
    "nesterov": (ref.sgd_nesterov, ref.nesterov_step, {"v": "momentum_buffer"}, {"beta": 0.8, "weight_decay": 0.1}),
    "rmsprop": (ref.rmsprop, ref.rmsprop_step, {"s": "square_avg", "m": "grad_avg"},
                {"alpha": 0.8, "epsilon": 1e-3, "weight_decay": 0.1, "centered": False}),
    "rmsprop centered": (ref.rmsprop, ref.rmsprop_step, {"s": "square_avg", "m": "grad_avg"},
                         {"alpha": 0.8, "epsilon": 1e-3, "weight_decay": 0.1, "centered": True}),
    "adam": (ref.adam, ref.adam_step, {"v": "exp_avg", "s": "exp_avg_sq"},
             {"beta1": 0.8, "beta2": 0.99, "epsilon": 1e-3, "weight_decay": 0.1}),
    "adamw": (ref.adamw, partial(ref.adam_step, decoupled=True), {"v": "exp_avg", "s": "exp_avg_sq"},
              {"beta1": 0.8, "beta2": 0.99, "epsilon": 1e-3, "weight_decay": 0.1}),
}


@pytest.mark.parametrize("name", list(FORMULAS))
def test_mistake_formulas_start_from_torch_optim(name):
    """The catalogued mistakes are switches on formulas; with the switches off they are torch.optim."""
    build, step, state, hyper = FORMULAS[name]
    params, grads = _steps()
    lrs = [0.05] * 6 + [0.01] * 6
    hyper = {"learning_rate": 0.05, **hyper}
    graded = ref.torch_trajectory(build, hyper, state, params, grads, lrs)
    assert _close(graded, ref.formula_trajectory(step, hyper, list(state), params, grads, lrs))
    assert graded[0][1].keys() == ({"s"} if name == "rmsprop" else set(state))  # grad_avg only when centered


def test_catalogued_optimizer_mistakes_are_distinguishable(assignment):
    """Each mistake differs from torch.optim, and from every other mistake of its update, in some run:
    otherwise it could not be caught, or not be named."""
    params, grads = _steps()
    for unit in assignment.exercise("optimizers").units:
        if not isinstance(unit, Optimizer):
            continue
        runs = []
        for hyper in unit.runs:
            lrs = [hyper["learning_rate"]] * 6 + [hyper["learning_rate"] * 0.3] * 6
            graded = ref.torch_trajectory(unit.reference, hyper, unit.state, params, grads, lrs)
            runs.append([ref.formula_trajectory(m.reference, hyper, list(unit.state), params, grads, lrs)
                         for m in unit.mistakes] + [graded])
        for i in range(len(unit.mistakes)):
            for j in range(i + 1, len(unit.mistakes) + 1):
                assert any(not _close(run[i], run[j]) for run in runs), (unit.name, i, j)


def test_cs231n_momentum_equals_torch_until_the_learning_rate_changes():
    params, grads = _steps()
    hyper = {"learning_rate": 0.05, "beta": 0.8, "dampening": 0.3, "weight_decay": 0.1}
    for build, step in ((ref.sgd_momentum, ref.cs231n_momentum_step), (ref.sgd_nesterov, ref.cs231n_nesterov_step)):
        constant = [0.05] * 12
        torch_run = ref.torch_trajectory(build, hyper, {"v": "momentum_buffer"}, params, grads, constant)
        cs231n = ref.formula_trajectory(step, hyper, ["v"], params, grads, constant)
        assert _close([(p, {}) for p, _s in torch_run], [(p, {}) for p, _s in cs231n])
        assert np.allclose(cs231n[3][1]["v"]["W"], -0.05 * torch_run[3][1]["v"]["W"])
        changed = [0.05] * 6 + [0.01] * 6
        torch_run = ref.torch_trajectory(build, hyper, {"v": "momentum_buffer"}, params, grads, changed)
        cs231n = ref.formula_trajectory(step, hyper, ["v"], params, grads, changed)
        assert not np.allclose(torch_run[-1][0]["W"], cs231n[-1][0]["W"])


def test_maxpool_gradient_goes_to_the_first_tied_maximum():
    x = torch.tensor([[[[1.0, 1.0], [1.0, 0.0]]]], dtype=torch.float64, requires_grad=True)
    torch.nn.functional.max_pool2d(x, 2, stride=2).sum().backward()
    assert x.grad.flatten().tolist() == [1.0, 0.0, 0.0, 0.0]


# ----------------------------------------------------------------------------- starter kit


def test_untouched_starter_grades_to_zero_without_errors(grade_it, tmp_path, assignment):
    for exercise in assignment.select(EXERCISES):
        (tmp_path / exercise.starter).write_text(starter_source(exercise))
    result = grade_it(tmp_path, exercises=EXERCISES)
    checks = list(result.checks())
    assert result.score == 0 and not result.errors and len(checks) >= 18
    assert {c.status for c in checks} == {NOT_ATTEMPTED}
    assert all("not implemented" in c.message for c in checks)
