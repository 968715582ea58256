"""Check kinds for a network written as a set of functions (the course's from-scratch list):

- `layer_init`: init(layer_dims, seed, ...) returns {"W1", "b1", ..., "WL", "bL"}: each layer's
  weights of shape (n_{l-1}, n_l) drawn from the declared distribution, biases zero. The statistics
  are the `distribution` kind's (grader/checks/statistical.py), run per layer on the draws of two
  calls with different seeds. `reference(fan_in, fan_out, *options)` returns the frozen scipy
  distribution of a layer's weights; a catalogued mistake's reference the distribution of that wrong
  variant (or None where it does not apply), named when every layer's draws fit it.
- `backprop`: the forward returns (output, cache) and the backward takes (output, targets, cache).
  The cache is the student's business: the grader keeps the forward's return in the child and hands
  the student's own output and cache to the student's backward, so the cache never crosses the wire.
  The gradients ({"d" + key} of the parameter dict `Backward.wrt[0]`) are compared with autograd of
  `Backward.loss(reference(inputs), targets)`; a catalogued mistake's reference takes the inputs (float64
  tensors, dicts of them) and the targets and returns the gradients it imitates.
- `training_run`: a whole training function, called with the arguments the case draws (the ones in
  `Function.keywords` by keyword: hyperparameters, the starting parameters) returns (parameters, costs);
  `reference(**inputs)` returns the expected (costs, parameters), as torch.optim computes them from the
  same start, and every catalogued mistake's reference the same for its variant. The costs are compared
  step by step, then the final parameters.
"""
from __future__ import annotations

import numpy as np
import torch

from ..compare import coerce, shapes_equivalent
from ..i18n import _
from ..inputs import describe, describe_call, draw, draw_all
from ..results import FAILED, CaseResult, Hint
from ..sandbox.wire import Handle
from ..spec import Function, Layers
from .base import Replay, attempt, case_result, check_kind, compare_output, outcome_failure, output_grader
from .utilities import run_single_threaded
from .optimizer import _compare_dict
from .statistical import DRAWS, SEED_ARG, failures

MAX_ITEMS = 16  # items of a returned sequence the grader looks into


def _layers_arg(fn: Function, what: str) -> str | None:
    return next((n for n, a in fn.args.items() if isinstance(a.value, Layers) and a.value.what == what), None)


def _tensors(value):
    """Float64 tensors of NumPy inputs (dicts of them too); other values as they are."""
    if isinstance(value, dict):
        return {k: _tensors(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return torch.tensor(value, dtype=torch.float64)
    return value


# ----------------------------------------------------------------------------- layer_init


def _layer_params(value, sizes: list[int]) -> tuple[dict | None, str]:
    """The student's parameters as float64 arrays of the expected shapes, or (None, why not)."""
    if not isinstance(value, dict):
        return None, _("expected a dict of parameters W1, b1, ..., got {got}.").format(got=type(value).__name__)
    params = {}
    for layer, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        for key, shape in ((f"W{layer}", (fan_in, fan_out)), (f"b{layer}", (fan_out,))):
            if key not in value:
                return None, _("{key} is missing: layer_dims {sizes} has {n} layers, so the dict holds W1, b1 to "
                               "W{n}, b{n}.").format(key=key, sizes=sizes, n=len(sizes) - 1)
            array, what = coerce(value[key])
            if array is None or array.dtype.kind not in "biuf":
                return None, _("{key} is not an array of numbers ({got}).").format(key=key, got=what or array.dtype)
            if not shapes_equivalent(array.shape, shape):
                transposed = key.startswith("W") and tuple(array.shape) == shape[::-1]
                return None, _("{key} has shape {got}, expected {want}{why}.").format(
                    key=key, got=tuple(array.shape), want=shape if key.startswith("W") else f"(1, {fan_out})",
                    why=_(": the network is batch-first, A @ W, so W is (n_{{l-1}}, n_l)") if transposed else "")
            array = array.astype(np.float64).reshape(shape)
            if not np.isfinite(array).all():
                return None, _("{key} contains NaN or Inf.").format(key=key)
            params[key] = array
    nonzero = next((k for k in params if k.startswith("b") and np.any(params[k] != 0)), None)
    if nonzero:
        return None, _("{key} is not zero: biases start at zero (np.zeros((1, n_l))); only the weights are "
                       "random.").format(key=nonzero)
    return params, ""


def _fits(samples: list[np.ndarray], dists: list) -> bool:
    return all(d is not None and not failures(x, d) for x, d in zip(samples, dists))


def _layer_verdict(fn: Function, sizes: list[int], options: list, samples: list[np.ndarray]):
    """(what is wrong, layer by layer; the hint naming a catalogued variant every layer fits, or None)."""
    layers = list(zip(sizes, sizes[1:]))
    wrong = []
    for layer, (sample, (fan_in, fan_out)) in enumerate(zip(samples, layers), start=1):
        found = failures(sample, fn.reference(fan_in, fan_out, *options))
        if found:
            wrong.append(_("W{l} (fan_in={fan_in}, fan_out={fan_out}): {what}").format(
                l=layer, fan_in=fan_in, fan_out=fan_out, what="; ".join(found)))
    if wrong:
        for mistake in fn.mistakes:
            if mistake.check == "layer_init" and _fits(samples, [mistake.reference(a, b, *options) for a, b in layers]):
                return wrong, Hint(code=f"mistake:{mistake.id}", text=_(mistake.explanation))
    return wrong, None


def _init_case(fn: Function, case, rng) -> tuple[dict, list[int], list]:
    """The arguments of a case, the layer sizes, and the options the distribution depends on (method)."""
    inputs = draw_all(fn.args, case, rng)
    dims_arg = _layers_arg(fn, "dims")
    return inputs, list(inputs[dims_arg]), [v for k, v in inputs.items() if k not in (dims_arg, SEED_ARG)]


@check_kind("layer_init", units=(Function,), main=True)
def layer_init(ctx, fn: Function, points: float):
    """Each layer's weights consistent with the declared distribution, biases zero, shapes right."""
    name = ctx.student_name(fn.name)

    def body(result):
        for i, case in enumerate(fn.cases):
            rng = ctx.rng(fn.name, "layer_init", str(i))
            inputs, sizes, options = _init_case(fn, case, rng)
            label = _("case {i}: layer_dims={sizes}{options}").format(
                i=i + 1, sizes=sizes, options="".join(f", {v!r}" for v in options))
            draws, message, call = [], "", ""
            for seed in (int(s) for s in rng.choice(2**31, size=DRAWS, replace=False)):
                inputs[SEED_ARG] = seed
                call = describe_call(name, list(inputs), list(inputs.values()))
                outcome = ctx.call(fn.name, *inputs.values(), return_args=False)
                message = outcome_failure(outcome, f"{name}()")
                if message is None:
                    params, message = _layer_params(outcome.value, sizes)
                    draws.append(params)
                if message:
                    break
            if not message and all(np.array_equal(draws[0][k], draws[1][k]) for k in draws[0]):
                message = _("two calls with different seeds returned the same weights: draw from "
                            "np.random.default_rng(seed) (or seed np.random with it), not a fixed seed.")
            if message:
                result.cases.append(CaseResult(label=label, passed=False, call=call, message=message))
                continue
            samples = [np.concatenate([d[f"W{l}"].ravel() for d in draws]) for l in range(1, len(sizes))]
            wrong, hint = _layer_verdict(fn, sizes, options, samples)
            verdict = CaseResult(label=label, passed=not wrong, call=call, message=". ".join(wrong) + (
                "." if wrong else ""), hint=hint)
            if wrong:
                result.status = FAILED  # a verdict on the draws, not an error in the code
            result.cases.append(verdict)
    return run_single_threaded(ctx, "layer_init", fn, points, body)


# ----------------------------------------------------------------------------- backprop


def reference_gradients(fn: Function, inputs: dict, targets: np.ndarray) -> dict[str, np.ndarray]:
    """{"d" + key: gradient} of Backward.loss(reference(inputs), targets) for the parameter dict wrt[0]."""
    wrt = fn.backward.wrt[0]
    tensors = {k: _tensors(v) for k, v in inputs.items()}
    leaves = {k: v.requires_grad_(True) for k, v in tensors[wrt].items()}
    loss = fn.backward.loss(fn.reference(*tensors.values()), _tensors(targets))
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return {f"d{k}": g.numpy() for k, g in zip(leaves, grads)}


def _mistake_gradients(fn: Function, mistake, inputs: dict, targets: np.ndarray) -> dict[str, np.ndarray]:
    """A backprop mistake's gradients (float64 arrays by key)."""
    with torch.no_grad():
        grads = mistake.reference(*(_tensors(v) for v in inputs.values()), _tensors(targets))
    return {k: np.asarray(v, dtype=np.float64) for k, v in grads.items()}


def mistake_gradients(fn: Function, inputs: dict, targets: np.ndarray) -> dict[str, dict]:
    """Every backprop mistake's gradients, by mistake id."""
    return {m.id: _mistake_gradients(fn, m, inputs, targets) for m in fn.backward.mistakes if m.check == "backprop"}


def _kept_items(ctx, handle: int, count: int, what: str) -> list[Handle] | str:
    """Handles of the `count` items of a sequence kept in the child, or why it is not such a sequence."""
    length = ctx.call("__len__", obj=handle, return_args=False)
    if not length.ok or length.value != count:
        return what
    items = []
    for index in range(count):
        item = ctx.call("__getitem__", index, obj=handle, keep=True, return_args=False)
        if not item.ok:
            return what
        items.append(Handle(item.handle))
    return items


def _backprop_case(ctx, fn: Function, inputs: dict, targets, label: str) -> CaseResult:
    back = fn.backward
    forward_name, name = ctx.student_name(fn.name), ctx.student_name(back.name)
    call = describe_call(forward_name, list(inputs), list(inputs.values()))
    kept = []
    try:
        forward = ctx.call(fn.name, *inputs.values(), keep=True, return_args=False)
        failure = outcome_failure(forward, f"{forward_name}()")
        if failure is not None:
            return case_result(label, call, _("{forward}() failed, so {backward}() could not be graded: "
                                              "{error}").format(forward=forward_name, backward=name, error=failure), [])
        kept.append(forward.handle)
        items = _kept_items(ctx, forward.handle, len(fn.outputs), _(
            "{forward}() should return a tuple ({outputs}).").format(forward=forward_name,
                                                                      outputs=", ".join(fn.outputs)))
        if isinstance(items, str):
            return case_result(label, call, items, [])
        kept += [h.id for h in items]
        sent = dict(zip(back.args, (items[0], targets, items[1])))
        call = "{name}({output}, {targets}, {cache})".format(  # the student's own output and cache, by name
            name=name, output=back.args[0], targets=describe(back.args[1], targets), cache=back.args[2])
        outcome = ctx.call(back.name, *sent.values(), return_args=False)
        failure = outcome_failure(outcome, f"{name}()")
        if failure is None and not isinstance(outcome.value, dict):
            failure = _("{name}() should return a dict of gradients ({keys}); it returned {got}.").format(
                name=name, keys=", ".join(f"d{k}" for k in inputs[back.wrt[0]]), got=type(outcome.value).__name__)
        if failure is not None:
            return case_result(label, call, failure, [])
        want = reference_gradients(fn, inputs, targets)
        rows = _compare_dict("grads", outcome.value, want)
        if not all(row[1] for row in rows):  # name the mistake: the catalogue's gradients, only now
            mistakes = tuple(m for m in back.mistakes if m.check == "backprop")
            rows = _compare_dict("grads", outcome.value, want, mistakes=mistakes,
                                 mistake_outputs=mistake_gradients(fn, inputs, targets))
        return case_result(label, call, None, rows)
    finally:
        if kept:
            ctx.sandbox.drop(*kept)


def _backprop_inputs(ctx, fn: Function):
    """(case index, the forward's arguments, the targets) of every case the backprop check grades."""
    for i, case in enumerate(fn.cases):
        if not case.kinds or "backprop" in case.kinds:
            rng = ctx.rng(fn.name, "backprop", str(i))
            inputs = draw_all(fn.args, case, rng)
            yield i, inputs, draw(fn.backward.targets, case, rng)


@check_kind("backprop", units=(Function,))
def backprop(ctx, fn: Function, points: float):
    """The student's backward, given the student's own forward output and cache, against autograd."""

    def body(result):
        ctx.require(fn.name)
        ctx.require(fn.backward.name)
        for i, inputs, targets in _backprop_inputs(ctx, fn):
            sizes = [w.shape[0] for k, w in inputs[fn.backward.wrt[0]].items() if k.startswith("W")]
            label = _("case {i}: {layers} layers, N={n}").format(i=i + 1, layers=len(sizes), n=len(targets))
            result.cases.append(_backprop_case(ctx, fn, inputs, targets, label))
    return run_single_threaded(ctx, "backprop", fn, points, body, target=fn.backward.name)


# ----------------------------------------------------------------------------- training_run


def _training_outputs(value, name: str) -> tuple[dict, np.ndarray] | str:
    if not isinstance(value, (tuple, list)) or len(value) != 2 or not isinstance(value[0], dict):
        return _("{name}() should return (parameters, costs): the trained parameter dict and the list of costs; "
                 "it returned {got}.").format(name=name, got=type(value).__name__)
    costs, what = coerce(value[1])
    if costs is None or costs.dtype.kind not in "biuf":
        return _("the costs {name}() returned are not numbers ({got}).").format(name=name, got=what or costs.dtype)
    if costs.ndim > 1 and sum(d > 1 for d in costs.shape) <= 1:  # a (T, 1) column is a list of costs too
        costs = costs.reshape(-1)
    # Costs computed in float32 and stored in a float64 list carry float32's error: judge them by the
    # precision the parameters were trained in.
    kinds = [coerce(v)[0] for v in value[0].values()]
    if costs.dtype.kind == "f" and any(a is not None and a.dtype.kind == "f" and a.dtype.itemsize < costs.dtype.itemsize
                                       for a in kinds):
        costs = costs.astype(min((a.dtype for a in kinds if a is not None and a.dtype.kind == "f"),
                                 key=lambda d: d.itemsize))
    return value[0], costs


def _run_rows(fn: Function, inputs: dict, params: dict, costs: np.ndarray, named: bool = False) -> list[tuple]:
    """The costs, then (when they agree) the final parameters, against the reference run; when one
    disagrees, again with every catalogued mistake's run, to name it."""
    want_costs, want_params = fn.reference(**inputs)
    mistakes = tuple(m for m in fn.mistakes if m.check == "training_run") if named else ()
    runs = {m.id: m.reference(**inputs) for m in mistakes}
    row = compare_output(costs, want_costs, output="costs", mistakes=mistakes,
                         mistake_outputs={k: v[0] for k, v in runs.items()})
    rows = [("costs", *row)]
    if row[0]:
        rows += _compare_dict("parameters", params, want_params, mistakes=mistakes,
                              mistake_outputs={k: v[1] for k, v in runs.items()})
    if not named and not all(r[1] for r in rows):
        return _run_rows(fn, inputs, params, costs, named=True)
    return rows


@check_kind("training_run", units=(Function,), main=True)
def training_run(ctx, fn: Function, points: float):
    """A training run from the grader's start, step by step (the costs) and at the end (the parameters)."""
    name = ctx.student_name(fn.name)

    def body(result):
        for i, case in enumerate(fn.cases):
            rng = ctx.rng(fn.name, "training_run", str(i))
            inputs = draw_all(fn.args, case, rng)
            positional = [inputs[k] for k in fn.positional()]
            keywords = {k: inputs[k] for k in fn.keywords}
            settings = ", ".join(f"{k}={v!r}" for k, v in inputs.items() if k in case.values)
            label = _("case {i}: {settings}").format(i=i + 1, settings=settings)
            call = describe_call(name, list(inputs), list(inputs.values()))
            outcome = ctx.call(fn.name, *positional, kwargs=keywords, return_args=False)
            failure = outcome_failure(outcome, f"{name}()")
            read = _training_outputs(outcome.value, name) if failure is None else failure
            if isinstance(read, str):
                result.cases.append(case_result(label, call, read, []))
                continue
            params, costs = read
            result.cases.append(case_result(label, call, None, _run_rows(fn, inputs, params, costs)))
    return run_single_threaded(ctx, "training_run", fn, points, body)


# ----------------------------------------------------------------------------- replays (grade validate)


@layer_init.replays
def _replay_layer_init(ctx, fn: Function):
    """Per case, each layer's weights drawn from the target distribution as many times as the check pools
    (expected), and from each catalogued variant's (a variant that does not apply to the case keeps the
    target's draws there); judged layer by layer as the check does."""
    for i, case in enumerate(fn.cases):
        rng = ctx.rng(fn.name, "layer_init", "replay", str(i))
        _inputs, sizes, options = _init_case(fn, case, rng)
        layers = list(zip(sizes, sizes[1:]))

        def sample(dists, rng=rng, layers=layers):
            return tuple(np.asarray(d.rvs(size=DRAWS * a * b, random_state=rng), dtype=np.float64)
                         for d, (a, b) in zip(dists, layers))
        targets = [fn.reference(a, b, *options) for a, b in layers]
        expected = sample(targets)
        outs = {}
        for mistake in (m for m in fn.mistakes if m.check == "layer_init"):
            dists = attempt(lambda m=mistake: [m.reference(a, b, *options) for a, b in layers])
            outs[mistake.id] = dists if isinstance(dists, BaseException) else sample(
                [d if d is not None else t for d, t in zip(dists, targets)])

        def grade(outputs, sizes=sizes, options=options):
            wrong, hint = _layer_verdict(fn, sizes, options, [np.asarray(o, dtype=np.float64).ravel() for o in outputs])
            return not wrong, hint.code if hint else None
        label = f"case {i + 1}: layer_dims={sizes}" + "".join(f", {v!r}" for v in options)
        yield Replay(label, expected, [f"W{l}" for l in range(1, len(sizes))], grade, outs)


@backprop.replays
def _replay_backprop(ctx, fn: Function):
    """The gradients as the check computes them from the case's inputs and targets; each catalogued
    mistake's gradients on the same case."""
    mistakes = tuple(m for m in fn.backward.mistakes if m.check == "backprop")
    for i, inputs, targets in _backprop_inputs(ctx, fn):
        want = reference_gradients(fn, inputs, targets)
        names, expected = [f"grads[{k!r}]" for k in want], tuple(want.values())
        outs = {}
        for mistake in mistakes:
            got = attempt(lambda m=mistake: _mistake_gradients(fn, m, inputs, targets))
            outs[mistake.id] = got if isinstance(got, BaseException) else tuple(got[k] for k in want)
        yield Replay(f"case {i + 1}: {len(want) // 2} layers", expected, names,
                     output_grader(expected, names, mistakes=mistakes, mistake_outputs=outs), outs)


@training_run.replays
def _replay_training_run(ctx, fn: Function):
    """The reference run's costs and final parameters; each catalogued mistake's run from the same start."""
    mistakes = tuple(m for m in fn.mistakes if m.check == "training_run")
    for i, case in enumerate(fn.cases):
        inputs = draw_all(fn.args, case, ctx.rng(fn.name, "training_run", str(i)))
        costs, params = fn.reference(**inputs)
        names, expected = ["costs", *(f"parameters[{k!r}]" for k in params)], (costs, *params.values())
        outs = {}
        for mistake in mistakes:
            run = attempt(lambda m=mistake: m.reference(**inputs))
            outs[mistake.id] = run if isinstance(run, BaseException) else (run[0], *(run[1][k] for k in params))
        settings = ", ".join(f"{k}={v!r}" for k, v in inputs.items() if k in case.values)
        yield Replay(f"case {i + 1}: {settings}", expected, names,
                     output_grader(expected, names, mistakes=mistakes, mistake_outputs=outs), outs)
