"""Check kinds for a class with parameters (the course's NeuralNetwork): every method against a
PyTorch reference built from the same weights.

The grader constructs the student's object, then sets the weights it wants in the student's own
bias shape and dtype, and reads parameters back after an update instead of holding references
(an update may rebind attributes).
"""
from __future__ import annotations

import numpy as np
import torch

from .. import optim, terms, torch_bridge
from ..i18n import _
from ..inputs import describe_call, draw
from ..results import ERROR, FAILED, CaseResult
from ..spec import Arg, Case, Model, as_float64
from ..compare import coerce
from ..model_instance import Instance, make_params  # noqa: F401 - part of this module's API
from .base import (MAIN, NotAttempted, Replay, attempt, case_result, check_kind, compare_output, nothing_to_replay,
                   output_grader, run_check)
from .fd import as_gradient, directional_check, fd_settings, torch_gradcheck

# Cases marked `large` send inputs about 1000x larger: logits in the thousands, where a softmax that does
# not subtract the row maximum overflows.
X_ARG = Arg(shape=("N", "D"), large=1000.0)


# The guard a course adds inside the loss's log, log(p + 1e-8) (the course's own class does): a loss
# computed from probabilities is accepted within the change this guard makes, |L(p + guard) - L(p)|.
LOG_GUARD = 1e-8


def reference_probs(model: Model, params: dict, X: np.ndarray, with_terms: bool = False):
    """The probabilities (and, with_terms, the magnitude of their terms: grader/terms.py)."""
    with torch.no_grad(), terms.Recording() as rec:
        tensors = {k: torch.from_numpy(v) for k, v in params.items()}
        probs = model.reference(tensors, torch.from_numpy(X))
    return (as_float64(probs), as_float64(rec.of(probs))) if with_terms else as_float64(probs)


def reference_grads(model: Model, params: dict, X: np.ndarray, y_onehot: np.ndarray, with_terms: bool = False):
    """Loss and gradients of the mean loss with respect to every parameter (torch autograd); with_terms,
    also the terms' magnitudes of the loss and of every gradient."""
    with terms.Recording() as rec:
        tensors = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
        loss = model.loss(model.reference(tensors, torch.from_numpy(X)), torch.from_numpy(y_onehot))
        grads = torch.autograd.grad(loss, list(tensors.values()))
    values = float(loss.detach()), {k: g.numpy() for k, g in zip(tensors, grads)}
    if not with_terms:
        return values
    return values + (float(rec.of(loss)), {k: as_float64(rec.of(g)) for k, g in zip(tensors, grads)})


def loss_slack(model: Model, probs, y_onehot) -> float:
    """How much the course's log(p + 1e-8) guard moves the loss of these probabilities (see LOG_GUARD)."""
    with torch.no_grad():
        p, y = torch.as_tensor(np.asarray(probs, dtype=np.float64)), torch.as_tensor(y_onehot)
        return 2.0 * abs(float(model.loss(p + LOG_GUARD, y)) - float(model.loss(p, y)))


def sgd_reference(params: dict, grads: dict, lr: float, with_terms: bool = False):
    """One torch.optim.SGD step from these parameters and gradients (with_terms: and the magnitudes)."""
    with terms.Recording() as rec:
        tensors = {k: torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for k, v in params.items()}
        for k, t in tensors.items():
            t.grad = torch.tensor(np.asarray(grads[k], dtype=np.float64).reshape(t.shape))
        optim.SGD(list(tensors.values()), lr=lr, momentum=0.0, dampening=0.0, weight_decay=0.0).step()
    values = {k: t.detach().numpy() for k, t in tensors.items()}
    if not with_terms:
        return values
    return values, {k: as_float64(rec.of(t)) for k, t in tensors.items()}


def _cases(ctx, model: Model, kind: str):
    for i, case in enumerate(model.cases):
        if case.kinds and kind not in case.kinds:
            continue
        rng = ctx.rng(model.class_name, kind, str(i))
        params = make_params(model, case.dims, rng)
        X = draw(X_ARG, case, rng)
        y = np.eye(case.dims["C"])[rng.integers(0, case.dims["C"], case.dims["N"])]
        label = _("case {i}: X {shape}").format(i=i + 1, shape=X.shape) + (_(" (large values)") if case.large else "")
        yield case, label, params, X, y, rng


def _run(ctx, model: Model, kind: str, role: str, points: float, case_fn):
    method = model.methods.get(role, role)

    def body(result):
        for case, label, params, X, y, rng in _cases(ctx, model, kind):
            instance = Instance(ctx, model, case, params)
            if instance.failure is not None:
                result.cases.append(CaseResult(label=label, passed=False, message=instance.failure, status=ERROR))
                continue
            # The reference starts from the weights exactly as the student holds them (float32 rounding
            # included), so float32 weights with float64 data are judged fairly.
            held = {k: v.astype(instance.dtype).astype(np.float64) for k, v in params.items()}
            result.cases.append(case_fn(instance, label, held, X, y, rng))
    name = f"{ctx.student_name(model.class_name)}.{method}"
    return run_check(ctx, kind, model, name, points, body, ctx.location(model.class_name, method))


def _compare_grads(model, actual, expected: dict, batch_size: int, mistakes=(), mistake_outputs=None, scales=None):
    rows = []
    if not isinstance(actual, dict):
        return [("grads", False, _("backward must return a dict with keys {keys}, got {got}.").format(
            keys=", ".join(model.grad_key(k) for k in model.params), got=type(actual).__name__), None, None)]
    for name, want in expected.items():
        key = model.grad_key(name)
        if key not in actual:
            rows.append((key, False, _("the gradient dict has no key {key!r}.").format(key=key), None, None))
            continue
        outputs = {m: out[name] for m, out in (mistake_outputs or {}).items()}
        rows.append((key, *compare_output(actual[key], want, output=key, batch_size=batch_size,
                                          mistakes=mistakes, mistake_outputs=outputs,
                                          terms=(scales or {}).get(name))))
    return rows


def _mistakes(model: Model, check: str):
    return tuple(m for m in model.mistakes if m.check == check)


@check_kind("forward", units=(Model,), main=True)
def model_forward(ctx, model: Model, points: float):
    def case_fn(instance, label, params, X, y, rng):
        call = describe_call(f"{model.class_name}.{model.methods['forward']}", ["X"], [X])
        outcome, failure = instance.call("forward", X)
        if failure:
            return case_result(label, call, failure, [])
        probs, scale = reference_probs(model, params, X, with_terms=True)
        ok, message, comparison, hint = compare_output(outcome.value, probs, output="probabilities",
                                                       batch_size=X.shape[0], terms=scale)
        return case_result(label, call, None, [("probabilities", ok, message, comparison, hint)])
    return _run(ctx, model, "forward", "forward", points, case_fn)


@check_kind("loss", units=(Model,))
def model_loss(ctx, model: Model, points: float):
    def case_fn(instance, label, params, X, y, rng):
        probs = draw(Arg(shape=("N", "C"), kind="probs"), Case(dims={"N": X.shape[0], "C": y.shape[1]}), rng)
        call = describe_call(f"{model.class_name}.{model.methods['loss']}", ["y_pred", "y_true"], [probs, y])
        outcome, failure = instance.call("loss", probs, y)
        if failure:
            return case_result(label, call, failure, [])
        (expected,), (scale,) = torch_bridge.forward_terms(model.loss, {"probs": probs, "y": y})
        mistakes = _mistakes(model, "loss")
        outputs = {m.id: torch_bridge.call_numpy(m.reference, [probs, y])[0] for m in mistakes}
        row = compare_output(outcome.value, expected, output="loss", batch_size=X.shape[0], mistakes=mistakes,
                             mistake_outputs=outputs, terms=scale, slack=loss_slack(model, probs, y))
        return case_result(label, call, None, [("loss", *row)])
    return _run(ctx, model, "loss", "loss", points, case_fn)


def _mistake_grads(model, params, X, y):
    out = {}
    for m in _mistakes(model, "backward"):
        tensors = {k: torch.from_numpy(v) for k, v in params.items()}
        grads = m.reference(tensors, torch.from_numpy(X), torch.from_numpy(y))
        out[m.id] = {k: as_float64(g) for k, g in grads.items()}
    return out


@check_kind("backward", units=(Model,))
def model_backward(ctx, model: Model, points: float):
    def case_fn(instance, label, params, X, y, rng):
        call = describe_call(f"{model.class_name}.{model.methods['backward']}", ["y_true"], [y])
        _out, failure = instance.call("forward", X)
        if failure is None:
            outcome, failure = instance.call("backward", y)
        if failure:
            return case_result(label, call, failure, [])
        _loss, expected, _scale, scales = reference_grads(model, params, X, y, with_terms=True)
        rows = _compare_grads(model, outcome.value, expected, X.shape[0], _mistakes(model, "backward"),
                              _mistake_grads(model, params, X, y), scales)
        return case_result(label, call, None, rows)
    return _run(ctx, model, "backward", "backward", points, case_fn)


@check_kind("gradcheck", units=(Model,), depends_on=MAIN)
def model_gradcheck(ctx, model: Model, points: float):
    """Finite differences of the student's own forward + loss along random parameter directions,
    against the student's own backward."""
    def case_fn(instance, label, params, X, y, rng):
        call = describe_call(f"{model.class_name}.{model.methods['backward']}", ["y_true"], [y])
        _out, failure = instance.call("forward", X)
        if failure is None:
            outcome, failure = instance.call("backward", y)
        if failure:
            return case_result(label, call, failure, [])
        grads = outcome.value if isinstance(outcome.value, dict) else {}
        arrays = {k: as_gradient(grads.get(model.grad_key(k)), v.shape) for k, v in params.items()}
        wrong = [model.grad_key(k) for k, g in arrays.items() if g is None]
        if wrong:
            return case_result(label, call, _("backward must return a dict of arrays in the parameters' shapes; "
                                              "missing or misshapen: {keys}.").format(keys=", ".join(wrong)), [])

        def loss_at(moved):
            if instance.set(moved) is not None:
                return None
            out, failure = instance.call("forward", X)
            loss, failure = (None, failure) if failure else instance.call("loss", out.value, y)
            array, _what = coerce(None if failure else loss.value)
            return None if array is None or array.size != 1 or array.dtype.kind not in "biuf" else float(array.sum())
        step, rtol = fd_settings(np.empty(0, instance.dtype), *(grads[model.grad_key(k)] for k in params))
        message = directional_check(loss_at, params, arrays, rng, step, rtol)
        return CaseResult(label=label, passed=message is None, call=call, message=message or "")
    return _run(ctx, model, "gradcheck", "backward", points, case_fn)


def _compare_params(model, instance, expected: dict, mistakes=(), mistake_outputs=None, scales=None):
    got, failure = instance.params()
    if failure:
        return None, failure
    rows = []
    for name, want in expected.items():
        outputs = {m: out[name] for m, out in (mistake_outputs or {}).items()}
        rows.append((f"self.{name}", *compare_output(got.get(name), want, output=f"self.{name}",
                                                     mistakes=mistakes, mistake_outputs=outputs,
                                                     terms=(scales or {}).get(name))))
    return rows, None


@check_kind("update", units=(Model,))
def model_update(ctx, model: Model, points: float):
    def case_fn(instance, label, params, X, y, rng):
        grads = {model.grad_key(k): rng.normal(0.0, 1.0, instance.shapes[k]).astype(instance.dtype)
                 for k in model.params}
        lr = model.learning_rate
        call = describe_call(f"{model.class_name}.{model.methods['update']}", ["grads", "learning_rate"],
                             [grads, lr])
        sent = {k: v.copy() for k, v in grads.items()}
        outcome, failure = instance.call("update", grads, lr)
        if failure:
            return case_result(label, call, failure, [])
        after = outcome.args_after[0] if outcome.args_after else None
        if isinstance(after, dict) and any(not np.array_equal(after.get(k), v) for k, v in sent.items()):
            return case_result(label, call, _("{method} modified the gradients it was given.").format(
                method=model.methods["update"]), [], FAILED)
        expected, scales = sgd_reference(params, {k: sent[model.grad_key(k)] for k in model.params}, lr,
                                         with_terms=True)
        mistakes = _mistakes(model, "update")
        outputs = {m.id: {k: as_float64(v) for k, v in m.reference(
            {k: torch.from_numpy(v) for k, v in params.items()},
            {k: torch.from_numpy(np.asarray(sent[model.grad_key(k)], dtype=np.float64)) for k in model.params},
            lr).items()} for m in mistakes}
        rows, failure = _compare_params(model, instance, expected, mistakes, outputs, scales)
        return case_result(label, call, failure, rows or [])
    return _run(ctx, model, "update", "update", points, case_fn)


@check_kind("train_step", units=(Model,))
def model_train_step(ctx, model: Model, points: float):
    def case_fn(instance, label, params, X, y, rng):
        lr = model.learning_rate
        call = describe_call(f"{model.class_name}.{model.methods['train_step']}", ["X", "y", "learning_rate"],
                             [X, y, lr])
        outcome, failure = instance.call("train_step", X, y, lr)
        if failure:
            return case_result(label, call, failure, [])
        loss, grads, loss_scale, grad_scales = reference_grads(model, params, X, y, with_terms=True)
        slack = loss_slack(model, reference_probs(model, params, X), y)
        rows = [("loss", *compare_output(outcome.value, loss, output="loss", batch_size=X.shape[0],
                                         terms=loss_scale, slack=slack))]
        expected, scales = sgd_reference(params, grads, lr, with_terms=True)
        # The step's terms: the parameter's and lr times the gradient's (whose own rounding is in grad_scales).
        scales = {k: scales[k] + lr * np.abs(grad_scales[k]).reshape(scales[k].shape) for k in scales}
        param_rows, failure = _compare_params(model, instance, expected, scales=scales)
        return case_result(label, call, failure, rows + (param_rows or []))
    return _run(ctx, model, "train_step", "train_step", points, case_fn)


@check_kind("predict", units=(Model,))
def model_predict(ctx, model: Model, points: float):
    def case_fn(instance, label, params, X, y, rng):
        call = describe_call(f"{model.class_name}.{model.methods['predict']}", ["X"], [X])
        outcome, failure = instance.call("predict", X)
        if failure:
            return case_result(label, call, failure, [])
        expected = np.argmax(reference_probs(model, params, X), axis=1)
        got = outcome.value
        if isinstance(got, np.ndarray) and got.dtype.kind == "f" and np.all(got == np.round(got)):
            got = got.astype(np.int64)  # labels stored as floats are still the right labels
        row = compare_output(got, expected, output="labels", exact=True)
        return case_result(label, call, None, [("labels", *row)])
    return _run(ctx, model, "predict", "predict", points, case_fn)


__all__ = ["NotAttempted", "make_params", "reference_grads", "sgd_reference", "Instance"]


# ------------------------------------------------------------------ replays (grade validate, no student code)


def _tensors(arrays: dict) -> dict:
    return {k: torch.from_numpy(np.array(v, dtype=np.float64)) for k, v in arrays.items()}


def _replay(ctx, model: Model, kind: str):
    """The cases of a model kind as it builds them, from float64 weights: expected outputs, output names and
    each mistake's outputs."""
    names = list(model.params)
    mistakes = _mistakes(model, kind)
    for _case, label, params, X, y, rng in _cases(ctx, model, kind):
        terms = None
        if kind == "forward":
            probs, scale = reference_probs(model, params, X, with_terms=True)
            expected, outputs, outs, terms = (probs,), ["probabilities"], {}, (scale,)
        elif kind == "backward":
            _loss, grads, _scale, scales = reference_grads(model, params, X, y, with_terms=True)
            expected, terms = tuple(grads[k] for k in names), tuple(scales[k] for k in names)
            wrong = attempt(lambda: _mistake_grads(model, params, X, y))
            outs = {m.id: wrong if isinstance(wrong, BaseException) else tuple(wrong[m.id][k] for k in names)
                    for m in mistakes}
            outputs = [model.grad_key(k) for k in names]
        elif kind == "update":
            grads = {k: rng.normal(0.0, 1.0, v.shape) for k, v in params.items()}
            after, scales = sgd_reference(params, grads, model.learning_rate, with_terms=True)
            expected, terms = tuple(after[k] for k in names), tuple(scales[k] for k in names)
            outputs = [f"self.{k}" for k in names]
            outs = {m.id: attempt(lambda m=m: tuple(as_float64(v) for v in m.reference(
                _tensors(params), _tensors(grads), model.learning_rate).values())) for m in mistakes}
        elif kind == "loss":
            probs = draw(Arg(shape=("N", "C"), kind="probs"), Case(dims={"N": X.shape[0], "C": y.shape[1]}), rng)
            expected, outputs = (as_float64(model.loss(torch.from_numpy(probs), torch.from_numpy(y))),), ["loss"]
            outs = {m.id: attempt(lambda m=m: torch_bridge.call_numpy(m.reference, [probs, y])) for m in mistakes}
        elif kind == "train_step":
            loss, grads, loss_scale, grad_scales = reference_grads(model, params, X, y, with_terms=True)
            after, scales = sgd_reference(params, grads, model.learning_rate, with_terms=True)
            expected = (np.float64(loss), *(after[k] for k in names))
            terms = (np.float64(loss_scale), *(scales[k] for k in names))
            outputs, outs = ["loss", *(f"self.{k}" for k in names)], {}
        else:  # predict: labels, compared exactly
            expected, outputs, outs = (np.argmax(reference_probs(model, params, X), axis=1),), ["labels"], {}
        exact = kind == "predict"
        # Labels of a few classes: an all-zero answer may be right on a one-example case; the check needs all.
        yield Replay(label, expected, outputs, output_grader(expected, outputs, exact=exact, batch_size=X.shape[0],
                                                             mistakes=mistakes, mistake_outputs=outs, terms=terms),
                     outs, trivial=not exact)


for _kind in (model_forward, model_backward, model_update, model_loss, model_train_step, model_predict):
    _kind.replays(lambda ctx, model, name=_kind.name: _replay(ctx, model, name))
model_gradcheck.replays(nothing_to_replay)  # compares the student's backward with their own forward and loss


@model_backward.verifies
def _reference_loss_gradients(ctx, model: Model):
    """Autograd's gradients of the reference loss match its finite differences, on the backward check's cases."""
    for _case, label, params, X, y, _rng in _cases(ctx, model, "backward"):
        leaves = tuple(torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in params.values())

        def loss(*moved):
            return model.loss(model.reference(dict(zip(params, moved)), torch.from_numpy(X)), torch.from_numpy(y))
        yield label, torch_gradcheck(loss, leaves)
