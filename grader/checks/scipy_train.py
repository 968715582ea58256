"""Check kinds of the SciPy exercise (exercises/scipy_network.py): cost_function(flat_params,
input_size, hidden_size, num_labels, X, y, lambda_) -> (J, grad).

- `cost_value`, `cost_gradient`: J and grad against torch autograd (reference/scipy_network.py) on
  small random cases, naming catalogued mistakes (their references return (J, grad) too);
- `cost_gradcheck`: grad against central differences of the student's own J along random directions
  (the shared directional_check), so an inconsistent J/grad pair is told apart from a wrong formula;
- `cost_training`: the grader runs scipy.optimize.minimize(jac=True, method="L-BFGS-B") itself, every
  evaluation a call of the student's function in the child, from its own initial parameters, and
  computes the test accuracy itself from the parameters it ends with. Nothing the child reports but
  (J, grad) is used.

The assignment's [scipy_network] table may change the packing (`blocks`, `order`) and the training
(`hidden`, `lambda_`, `max_iterations`, `min_accuracy`); `layout = "features_first"` transposes X and
the weights (grader/layout.py).
"""
from __future__ import annotations

import numpy as np

from .. import lbfgs
from ..compare import coerce
from ..data import load_digits
from ..i18n import _
from ..inputs import describe
from ..layout import Layout
from ..reference import scipy_network as ref
from ..results import ERROR, CaseResult
from ..spec import Function
from .base import (MAIN, Replay, Unavailable, attempt, case_result, check_kind, compare_output,
                   nothing_to_replay, outcome_failure, output_grader)
from .fd import as_gradient, directional_check, fd_settings
from .utilities import run_single_threaded

DEFAULTS = {
    "blocks": list(ref.BLOCKS),
    "order": "C",
    "hidden": 25,
    "lambda_": 1.0,
    "max_iterations": 50,  # L-BFGS-B iterations: ~97% test accuracy on digits, well under a second of NumPy
    "min_accuracy": 0.95,
}
PARAM_SCALE = 0.5  # standard deviation of the random parameters of the small cases


def settings(ctx) -> dict:
    cfg = {**DEFAULTS, **(ctx.options.get("scipy_network") or {})}
    cfg["features_first"] = Layout.of(ctx.options).features_first
    if sorted(cfg["blocks"]) != sorted(ref.BLOCKS) or cfg["order"] not in ref.ORDERS:
        raise Unavailable(_("the assignment's [scipy_network] packing is invalid: blocks must order {blocks} and "
                            "order must be one of {orders}.").format(blocks=", ".join(ref.BLOCKS),
                                                                     orders=", ".join(ref.ORDERS)))
    numbers = ("hidden", "lambda_", "max_iterations", "min_accuracy")
    if any(isinstance(cfg[k], bool) or not isinstance(cfg[k], (int, float)) or cfg[k] < 0 for k in numbers):
        raise Unavailable(_("the assignment's [scipy_network] {names} must be numbers that are not negative.").format(
            names=", ".join(numbers)))
    return cfg


def packing(cfg: dict) -> dict:
    """The keyword arguments of the reference (and of mistakes) that describe the packing."""
    return {"blocks": tuple(cfg["blocks"]), "order": cfg["order"], "features_first": cfg["features_first"]}


class Problem:
    """One set of arguments: batch-first for the reference, in the student's layout for the call."""

    def __init__(self, sizes: tuple[int, int, int], X: np.ndarray, y: np.ndarray, lambda_: float, cfg: dict):
        self.sizes, self.X, self.y, self.lambda_, self.cfg = sizes, X, y, float(lambda_), cfg
        self.X_sent = np.ascontiguousarray(X.T) if cfg["features_first"] else X
        self.n_params = ref.size(ref.shapes(*sizes, cfg["features_first"]))

    def args(self, flat: np.ndarray) -> list:
        return [flat, *self.sizes, self.X_sent, self.y, self.lambda_]

    def describe(self, name: str) -> str:
        names = ["flat_params", "input_size", "hidden_size", "num_labels", "X", "y", "lambda_"]
        flat = np.zeros(self.n_params)
        return f"{name}({', '.join(describe(n, v) for n, v in zip(names, self.args(flat)))})"

    def reference(self, function, flat: np.ndarray):
        """(J, grad) of `function` (the reference or a mistake's) at `flat`."""
        return function(flat, *self.sizes, self.X, self.y, self.lambda_, **packing(self.cfg))


def _cases(ctx, fn: Function, kind: str):
    cfg = settings(ctx)
    for i, case in enumerate(fn.cases):
        rng = ctx.rng(fn.name, kind, str(i))
        d = case.dims
        X = rng.normal(size=(d["N"], d["D"]))
        y = rng.integers(0, d["C"], d["N"]).astype(np.int64)
        problem = Problem((d["D"], d["H"], d["C"]), X, y, case.values.get("lambda_", fn.args["lambda_"].value), cfg)
        flat = rng.normal(0.0, PARAM_SCALE, problem.n_params)
        label = _("case {i}: X {shape}, {h} hidden units, lambda_={lam:g}").format(
            i=i + 1, shape=problem.X_sent.shape, h=d["H"], lam=problem.lambda_)
        yield label, problem, flat, rng


def _evaluate(ctx, fn: Function, problem: Problem, flat: np.ndarray):
    """(J as a float, grad as returned (its dtype sets the finite-difference step), None) from the student's
    function, or (None, None, message)."""
    name = ctx.student_name(fn.name)
    outcome = ctx.call(fn.name, *problem.args(flat), return_args=False)
    failure = outcome_failure(outcome, f"{name}()")
    if failure is not None:
        return None, None, failure
    value = outcome.value
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        return None, None, _("{name}() must return a tuple (J, grad), got {got}.").format(
            name=name, got=type(value).__name__)
    J, _what = coerce(value[0])
    if J is None or J.size != 1 or J.dtype.kind not in "biuf":
        return None, None, _("J must be a number, got {got}.").format(got=type(value[0]).__name__)
    grad, _what = coerce(value[1])
    if grad is None or grad.size != problem.n_params or grad.dtype.kind not in "biuf":
        return None, None, _("grad must be an array of {n} numbers (as many as flat_params), got {got}.").format(
            n=problem.n_params, got=f"shape {grad.shape}" if grad is not None else type(value[1]).__name__)
    return float(J.reshape(())), value[1], None


def _compare_case(ctx, fn: Function, index: int, label: str, problem: Problem, flat) -> CaseResult:
    name = ctx.student_name(fn.name)
    call = problem.describe(name)
    outcome = ctx.call(fn.name, *problem.args(flat), return_args=False)
    failure = outcome_failure(outcome, f"{name}()")
    if failure is None and not (isinstance(outcome.value, (tuple, list)) and len(outcome.value) == 2):
        failure = _("{name}() must return a tuple (J, grad), got {got}.").format(
            name=name, got=type(outcome.value).__name__)
    if failure is not None:
        return case_result(label, call, failure, [])
    got = outcome.value[index]
    if index == 1:  # (P, 1) or (1, P) columns of an Octave-style solution hold the same gradient
        array, _what = coerce(got)
        got = array.reshape(-1) if array is not None and array.size == problem.n_params else got
    expected = problem.reference(fn.reference, flat)[index]
    mistakes = tuple(m for m in fn.mistakes if m.check == "cost")
    wrong = {m.id: problem.reference(m.reference, flat)[index] for m in mistakes}
    output = fn.outputs[index]
    row = compare_output(got, expected, output=output, unit=fn, mistakes=mistakes, mistake_outputs=wrong)
    return case_result(label, call, None, [(output, *row)])


@check_kind("cost_value", units=(Function,), main=True)
def cost_value(ctx, fn: Function, points: float):
    """J against the reference cost."""
    def body(result):
        for label, problem, flat, _rng in _cases(ctx, fn, "cost_value"):
            result.cases.append(_compare_case(ctx, fn, 0, label, problem, flat))
    return run_single_threaded(ctx, "cost_value", fn, points, body)


@check_kind("cost_gradient", units=(Function,))
def cost_gradient(ctx, fn: Function, points: float):
    """grad against the autograd gradient of the reference cost, packed like flat_params."""
    def body(result):
        for label, problem, flat, _rng in _cases(ctx, fn, "cost_gradient"):
            result.cases.append(_compare_case(ctx, fn, 1, label, problem, flat))
    return run_single_threaded(ctx, "cost_gradient", fn, points, body)


@check_kind("cost_gradcheck", units=(Function,), depends_on=MAIN)
def cost_gradcheck(ctx, fn: Function, points: float):
    """grad against central differences of the student's own J along random directions."""
    def body(result):
        for label, problem, flat, rng in _cases(ctx, fn, "cost_gradcheck"):
            call = problem.describe(ctx.student_name(fn.name))
            J, grad, failure = _evaluate(ctx, fn, problem, flat)
            if failure is not None:
                result.cases.append(case_result(label, call, failure, []))
                continue

            def value_at(moved):
                return _evaluate(ctx, fn, problem, moved["flat"])[0]
            step, rtol = fd_settings(grad, np.asarray(J))
            gradient = as_gradient(np.asarray(grad).reshape(-1), flat.shape)
            message = directional_check(value_at, {"flat": flat}, {"flat": gradient}, rng, step, rtol)
            result.cases.append(CaseResult(label=label, passed=message is None, call=call, message=message or ""))
    return run_single_threaded(ctx, "cost_gradcheck", fn, points, body)


class _Stop(Exception):
    """An evaluation failed: the training stops with this message."""


def _options(cfg: dict) -> dict:
    return {"maxiter": int(cfg["max_iterations"]), "maxfun": 3 * int(cfg["max_iterations"])}


def initial_parameters(problem: Problem, rng) -> np.ndarray:
    """Glorot-uniform weights and zero biases, packed as the assignment packs them."""
    shapes = ref.shapes(*problem.sizes, problem.cfg["features_first"])
    params = {}
    for name, shape in shapes.items():
        if len(shape) == 2:
            limit = np.sqrt(6.0 / sum(shape))
            params[name] = rng.uniform(-limit, limit, shape)
        else:
            params[name] = np.zeros(shape)
    return ref.pack(params, problem.cfg["blocks"], problem.cfg["order"])


@check_kind("cost_training", units=(Function,))
def cost_training(ctx, fn: Function, points: float):
    """scipy.optimize.minimize(jac=True, method="L-BFGS-B") on digits with the student's cost function;
    the test accuracy of the result, computed here, must reach `min_accuracy`. L-BFGS-B runs in the
    grader's own process started while PyTorch loaded, when there is one (grader/lbfgs.py)."""
    process = ctx.take_ahead(fn, "cost_training")

    def body(result):
        cfg = settings(ctx)
        data = load_digits()
        problem = Problem((data.features, int(cfg["hidden"]), data.classes), data.X_train, data.y_train,
                          cfg["lambda_"], cfg)
        x0 = initial_parameters(problem, ctx.rng(fn.name, "cost_training"))
        label = _("digits: {n} training images, L-BFGS-B for at most {k} iterations").format(
            n=len(data.y_train), k=int(cfg["max_iterations"]))
        call = problem.describe(ctx.student_name(fn.name))

        def evaluate(theta, k):
            J, grad, failure = _evaluate(ctx, fn, problem, theta)
            if failure is None and not (np.isfinite(J) and np.all(np.isfinite(coerce(grad)[0]))):
                failure = _("J or grad is not finite.")
            if failure is not None:
                raise _Stop(_("evaluation {k} of the training failed: {why}").format(k=k, why=failure))
            return J, grad
        try:
            found = lbfgs.minimize(evaluate, x0, _options(cfg), process)
        except _Stop as stop:
            result.cases.append(CaseResult(label=label, passed=False, call=call, message=str(stop), status=ERROR))
            return
        accuracy = ref.accuracy(found.x, *problem.sizes, data.X_test, data.y_test, **packing(cfg))
        evaluations = found.values
        result.extra["training"] = {"accuracy": accuracy, "iterations": found.nit,
                                    "evaluations": len(evaluations), "initial_J": evaluations[0],
                                    "final_J": found.fun}
        passed = accuracy >= float(cfg["min_accuracy"])
        message = _("after {k} L-BFGS-B iterations ({n} calls of your function; J from {J0:.4g} to {J1:.4g}) "
                    "the test accuracy is {acc:.1%}; at least {need:.0%} is required.").format(
            k=found.nit, n=len(evaluations), J0=evaluations[0], J1=found.fun, acc=accuracy,
            need=float(cfg["min_accuracy"]))
        if not passed and not found.success:
            message += " " + _("The optimizer stopped early ({why}): this usually means grad is not the "
                               "gradient of J.").format(why=found.message)
        result.cases.append(CaseResult(label=label, passed=passed, call=call, message=message))
        if passed:
            result.message = message
    return run_single_threaded(ctx, "cost_training", fn, points, body)


# ------------------------------------------------------------------ replays (grade validate, no student code)


def _replay_output(ctx, fn: Function, kind: str, index: int):
    mistakes = tuple(m for m in fn.mistakes if m.check == "cost")
    for label, problem, flat, _rng in _cases(ctx, fn, kind):
        expected = (np.asarray(problem.reference(fn.reference, flat)[index], dtype=np.float64),)
        outs = {m.id: attempt(lambda m=m: (np.asarray(problem.reference(m.reference, flat)[index]),))
                for m in mistakes}
        names = [fn.outputs[index]]
        yield Replay(label, expected, names, output_grader(expected, names, unit=fn, mistakes=mistakes,
                                                          mistake_outputs=outs), outs)


cost_value.replays(lambda ctx, fn: _replay_output(ctx, fn, "cost_value", 0))
cost_gradient.replays(lambda ctx, fn: _replay_output(ctx, fn, "cost_gradient", 1))
cost_gradcheck.replays(nothing_to_replay)  # the student's grad against their own J


@cost_gradcheck.verifies
def _reference_gradient(ctx, fn: Function):
    """The reference's grad is the derivative of its J (central differences along random directions)."""
    for label, problem, flat, rng in _cases(ctx, fn, "cost_gradcheck"):
        J, grad = problem.reference(fn.reference, flat)

        def value_at(moved):
            return float(problem.reference(fn.reference, moved["flat"])[0])
        step, rtol = fd_settings(np.asarray(grad), np.asarray(J))
        message = directional_check(value_at, {"flat": flat}, {"flat": np.asarray(grad, dtype=np.float64)},
                                    rng, step, rtol)
        yield label, (f"the reference's grad is not the derivative of its J ({message})" if message else None)


@cost_training.replays
def _replay_training(ctx, fn: Function):
    """The training the check runs, with the reference's cost function: its test accuracy must reach
    `min_accuracy` (else no student can pass)."""
    cfg = settings(ctx)
    data = load_digits()
    problem = Problem((data.features, int(cfg["hidden"]), data.classes), data.X_train, data.y_train,
                      cfg["lambda_"], cfg)
    x0 = initial_parameters(problem, ctx.rng(fn.name, "cost_training"))
    found = lbfgs.minimize(lambda theta, _k: problem.reference(fn.reference, theta), x0, _options(cfg))
    accuracy = ref.accuracy(found.x, *problem.sizes, data.X_test, data.y_test, **packing(cfg))
    need = float(cfg["min_accuracy"])
    yield Replay(_("digits: {n} training images, L-BFGS-B for at most {k} iterations").format(
        n=len(data.y_train), k=int(cfg["max_iterations"])), (np.float64(accuracy),), ["test accuracy"],
        lambda outputs: (float(np.asarray(outputs[0])) >= need, None), trivial=False)
