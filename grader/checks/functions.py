"""Check kinds for functions: interface, forward, backward, gradcheck, kink, inputs."""
from __future__ import annotations

import numpy as np

from .. import torch_bridge
from ..i18n import _
from ..compare import coerce, shapes_equivalent
from ..inputs import describe_call, draw_all
from ..layout import Layout
from ..results import ERROR, FAILED, CaseResult
from ..spec import Function, Optimizer, StateInit
from .base import (MAIN, NotAttempted, Replay, attempt, case_result, check_kind, compare_output, nothing_to_replay,
                   outcome_failure, output_grader, run_check)
from .fd import as_gradient, directional_check, fd_settings, torch_gradcheck


def _batch_size(fn: Function, inputs: dict) -> int | None:
    for name, arg in fn.args.items():
        if fn.batch_dim in arg.shape and isinstance(inputs[name], np.ndarray):
            return inputs[name].shape[arg.shape.index(fn.batch_dim)]
    return None


def _outputs(value, count: int):
    """The student's outputs as a tuple of `count` items, or None when the shape of the return is off."""
    if count == 1:
        return (value,)
    if isinstance(value, (tuple, list)) and len(value) == count:
        return tuple(value)
    return None


def _compare_all(ctx, fn, names, actual_value, expected, *, batch_size, mistakes, mistake_outputs, exact=False,
                 terms=None):
    actual = _outputs(actual_value, len(expected))
    if actual is None:
        message = _("expected a tuple of {count} arrays ({names}), got {got}.").format(
            count=len(expected), names=", ".join(names), got=type(actual_value).__name__)
        return [(names[0], False, message, None, None)]
    rows = []
    layout = Layout.of(ctx.options)  # expected and mistake outputs arrive in the student's layout
    for i, (name, got, want) in enumerate(zip(names, actual, expected)):
        outputs = {m: out[i] for m, out in mistake_outputs.items()}
        got = layout.adapt(fn, name, got)
        ok, message, comparison, hint = compare_output(got, want, output=name, unit=layout.unit(fn),
                                                       batch_size=batch_size, exact=exact, mistakes=mistakes,
                                                       mistake_outputs=outputs,
                                                       terms=None if terms is None else terms[i])
        rows.append((name, ok, message, comparison, hint))
    return rows


def _batch_first_hint(ctx, fn: Function, canonical: str, values: list, expected: tuple, case: CaseResult):
    """A failed case, in a features-first assignment, whose function is right batch-first gets a hint
    saying so (grader/layout.py). `values` and `expected` are batch-first."""
    if not case.passed:
        case.hint = Layout.of(ctx.options).batch_first_hint(fn, lambda sent: ctx.call(canonical, *sent), values,
                                                             expected) or case.hint
    return case


def _forward_case(ctx, fn: Function, inputs: dict, label: str, mistakes_for: str = "forward") -> CaseResult:
    name = ctx.student_name(fn.name)
    layout, outputs = Layout.of(ctx.options), list(fn.outputs)
    values = list(inputs.values())  # batch-first, as references take them; `sent` is in the student's layout
    sent = layout.convert(fn, list(inputs), values)
    call = describe_call(name, list(inputs), sent)
    outcome = ctx.call(fn.name, *sent)
    failure = outcome_failure(outcome, f"{name}()")
    expected, terms = torch_bridge.forward_terms(fn.reference, inputs)
    if failure is not None:
        return _batch_first_hint(ctx, fn, fn.name, values, expected, case_result(label, call, failure, []))
    mistakes = tuple(m for m in fn.mistakes if m.check == mistakes_for)
    mistake_outputs = {m.id: layout.convert(fn, outputs, torch_bridge.call_numpy(m.reference, values))
                       for m in mistakes}
    rows = _compare_all(ctx, fn, outputs, outcome.value, layout.convert(fn, outputs, expected),
                        batch_size=_batch_size(fn, inputs), mistakes=mistakes, mistake_outputs=mistake_outputs,
                        exact=fn.exact, terms=layout.convert(fn, outputs, terms))
    return _batch_first_hint(ctx, fn, fn.name, values, expected, case_result(label, call, None, rows))


def _upstream(fn: Function, inputs: dict, rng) -> np.ndarray | None:
    """A random upstream gradient (never all ones: that hides softmax-gradient bugs)."""
    if not fn.backward.takes_upstream:
        return None
    out = torch_bridge.forward(fn.reference, inputs)[0]
    return rng.normal(0.0, 1.0, out.shape)


def _backward_values(fn: Function, inputs: dict, upstream) -> tuple[list[str], list]:
    names = list(fn.backward.args)
    values = [upstream if n == "dout" else inputs[n] for n in names]
    return names, values


def _backward_case(ctx, fn: Function, inputs: dict, upstream, label: str) -> CaseResult:
    backward = fn.backward
    name = ctx.student_name(backward.name)
    layout, grad_names = Layout.of(ctx.options), [f"d{w}" for w in backward.wrt]
    names, values = _backward_values(fn, inputs, upstream)
    sent = layout.convert(fn, names, values)
    call = describe_call(name, names, sent)
    outcome = ctx.call(backward.name, *sent)
    failure = outcome_failure(outcome, f"{name}()")
    expected, terms = torch_bridge.gradients_terms(fn.reference, inputs, backward.wrt, upstream)
    if failure is not None:
        return _batch_first_hint(ctx, fn, backward.name, values, expected, case_result(label, call, failure, []))
    mistake_outputs = {m.id: layout.convert(fn, grad_names, torch_bridge.call_numpy(m.reference, values))
                       for m in backward.mistakes}
    rows = _compare_all(ctx, fn, grad_names, outcome.value, layout.convert(fn, grad_names, expected),
                        batch_size=_batch_size(fn, inputs), mistakes=backward.mistakes,
                        mistake_outputs=mistake_outputs, terms=layout.convert(fn, grad_names, terms))
    return _batch_first_hint(ctx, fn, backward.name, values, expected, case_result(label, call, None, rows))


def _case_label(i: int, inputs: dict, large: bool) -> str:
    shapes = ", ".join(f"{n} {tuple(v.shape)}" for n, v in inputs.items() if isinstance(v, np.ndarray))
    return _("case {i}: {shapes}").format(i=i + 1, shapes=shapes) + (_(" (large values)") if large else "")


def _each_case(ctx, fn: Function, kind: str):
    for i, case in enumerate(fn.cases):
        if case.kinds and kind not in case.kinds:
            continue
        rng = ctx.rng(fn.name, kind, str(i))
        inputs = draw_all(fn.args, case, rng)
        label = _case_label(i, Layout.of(ctx.options).inputs(fn, inputs), case.large)
        yield (f"{label} ({case.label})" if case.label else label), inputs, rng


@check_kind("interface", units=(Function, StateInit, Optimizer))
def interface(ctx, fn: Function, points: float):
    """Every graded name exists, is callable, and accepts the documented arguments."""
    def body(result):
        stubs = []
        positional = fn.positional() if isinstance(fn, Function) else fn.args  # keyword options are not counted
        for canonical, arity in [(fn.name, len(positional))] + (
                [(fn.backward.name, len(fn.backward.args))] if fn.backward else []):
            name = ctx.student_name(canonical)
            module = ctx.require(canonical)
            if getattr(ctx.definitions.get(name), "stub", False):  # the starter kit's stub earns nothing yet
                stubs.append(name)
                result.cases.append(CaseResult(label=name, passed=False, message=_(
                    "{what} is not implemented yet (it raises NotImplementedError).").format(what=f"{name}()")))
                continue
            outcome = ctx.sandbox.describe(name, module=module, n_args=arity)
            info = outcome.value if outcome.ok else None
            status = ERROR if info is None else FAILED
            if info is None:
                message = outcome.error.message if outcome.error else _("could not inspect it")
            elif not info.get("callable"):
                message = _("{name} is not a function.").format(name=name)
            elif not info.get("accepts"):
                message = _("{name}({params}) does not accept the documented {n} arguments.").format(
                    name=name, params=", ".join(info.get("params") or []), n=arity)
            else:
                message = ""
            result.cases.append(CaseResult(label=name, passed=not message, message=message,
                                           status="" if not message else status))
        if len(stubs) == len(result.cases):
            raise NotAttempted(result.cases[0].message)
    return run_check(ctx, "interface", fn, ctx.student_name(fn.name), points, body, ctx.location(fn.name))


@check_kind("forward", units=(Function,), main=True)
def forward(ctx, fn: Function, points: float):
    def body(result):
        for label, inputs, _rng in _each_case(ctx, fn, "forward"):
            result.cases.append(_forward_case(ctx, fn, inputs, label))
    return run_check(ctx, "forward", fn, ctx.student_name(fn.name), points, body, ctx.location(fn.name))


@check_kind("backward", units=(Function,))
def backward(ctx, fn: Function, points: float):
    """The student's backward against torch autograd, with a random upstream gradient."""
    def body(result):
        for label, inputs, rng in _each_case(ctx, fn, "backward"):
            result.cases.append(_backward_case(ctx, fn, inputs, _upstream(fn, inputs, rng), label))
    return run_check(ctx, "backward", fn, ctx.student_name(fn.backward.name), points, body,
                     ctx.location(fn.backward.name))


def _first_output(fn: Function, value):
    """The output a backward differentiates: the first of a multi-output forward (batchnorm's out)."""
    outputs = _outputs(value, len(fn.outputs))
    return outputs[0] if outputs is not None else value


def _scalar(value, upstream) -> float | None:
    """sum(output * upstream): the scalar whose directional derivative the gradients predict."""
    array, _what = coerce(value)
    if array is None or array.dtype.kind not in "biuf":
        return None
    if upstream is not None:
        if not shapes_equivalent(array.shape, upstream.shape):
            return None
        array = array.reshape(upstream.shape)
    array = array.astype(np.float64)
    return float(np.sum(array * upstream)) if upstream is not None else float(array.sum())


@check_kind("gradcheck", units=(Function,), depends_on=MAIN)
def gradcheck(ctx, fn: Function, points: float):
    """Directional finite differences of the student's own forward against the student's backward:
    says whether backward is consistent with forward, even when forward itself is wrong."""
    backward = fn.backward

    def body(result):
        fwd_name = ctx.student_name(fn.name)
        layout = Layout.of(ctx.options)
        for label, inputs, rng in _each_case(ctx, fn, "gradcheck"):
            upstream = _upstream(fn, inputs, rng)
            # Only the student's functions run from here on: everything in the student's layout.
            inputs, upstream = layout.inputs(fn, inputs), layout.convert(fn, ["dout"], [upstream])[0]
            names, values = _backward_values(fn, inputs, upstream)
            call = describe_call(ctx.student_name(backward.name), names, values)
            outcome = ctx.call(backward.name, *values)
            failure = outcome_failure(outcome, f"{ctx.student_name(backward.name)}()")
            grads = None if failure else _outputs(outcome.value, len(backward.wrt))
            if failure is None and grads is None:
                failure = _("backward must return {n} gradients.").format(n=len(backward.wrt))
            base = ctx.call(fn.name, *inputs.values())
            failure = failure or outcome_failure(base, f"{fwd_name}()")
            if failure:
                result.cases.append(case_result(label, call, failure, []))
                continue
            arrays = {n: as_gradient(layout.adapt(fn, f"d{n}", g), np.shape(inputs[n]))
                      for g, n in zip(grads, backward.wrt)}
            wrong = [n for n, g in arrays.items() if g is None]
            if wrong:
                result.cases.append(case_result(label, call, _("the gradient for {names} is not an array of its "
                                                               "input's shape.").format(names=", ".join(wrong)), []))
                continue
            step, rtol = fd_settings(*grads, _first_output(fn, base.value))

            def values_at(points):  # all of a check's points in one request
                out = ctx.call(fn.name, each=[tuple(moved.values()) for moved in points], return_args=False)
                values = out.value if isinstance(out.value, list) else []
                return [_scalar(_first_output(fn, v), upstream) for v in values[:len(points)]]
            message = directional_check(None, inputs, arrays, rng, step, rtol, values_at=values_at)
            result.cases.append(CaseResult(label=label, passed=message is None, call=call, message=message or ""))
    return run_check(ctx, "gradcheck", fn, ctx.student_name(backward.name), points, body,
                     ctx.location(backward.name))


@check_kind("kink", units=(Function,), depends_on=MAIN)
def kink(ctx, fn: Function, points: float):
    """Inputs exactly at kinks and ties, graded against the documented convention (torch's)."""
    def body(result):
        for i, inputs in enumerate(fn.kinks):
            inputs = {n: np.array(v, dtype=np.float64) if isinstance(v, (list, np.ndarray)) else v
                      for n, v in inputs.items()}
            label = _("kink case {i}").format(i=i + 1)
            if fn.backward is None:
                result.cases.append(_forward_case(ctx, fn, inputs, label))
            else:
                upstream = _upstream(fn, inputs, ctx.rng(fn.name, "kink", str(i)))
                result.cases.append(_backward_case(ctx, fn, inputs, upstream, label))
    target = fn.backward.name if fn.backward else fn.name
    return run_check(ctx, "kink", fn, ctx.student_name(target), points, body, ctx.location(target))


@check_kind("inputs", units=(Function,), depends_on=MAIN)
def inputs_unmodified(ctx, fn: Function, points: float):
    """Calls must not modify their inputs (except what an update is meant to change)."""
    def body(result):
        label, inputs, rng = next(_each_case(ctx, fn, "inputs"))
        calls = [(fn.name, list(inputs), list(inputs.values()))]
        if fn.backward is not None:
            names, values = _backward_values(fn, inputs, _upstream(fn, inputs, rng))
            calls.append((fn.backward.name, names, values))
        layout = Layout.of(ctx.options)
        calls = [(canonical, names, layout.convert(fn, names, values)) for canonical, names, values in calls]
        for canonical, names, values in calls:
            sent = [v.copy() if isinstance(v, np.ndarray) else v for v in values]
            outcome = ctx.call(canonical, *values)
            name = ctx.student_name(canonical)
            failure, status = outcome_failure(outcome, f"{name}()"), ERROR
            if failure is None:
                changed = [n for n, before, after in zip(names, sent, outcome.args_after)
                           if n not in fn.mutates and isinstance(before, np.ndarray)
                           and not (isinstance(after, np.ndarray) and after.shape == before.shape
                                    and np.array_equal(after, before, equal_nan=True))]
                if changed:  # a wrong behaviour, not an error of the code
                    failure, status = _("{name}() modified its input {args} in place; work on a copy.").format(
                        name=name, args=", ".join(changed)), FAILED
            result.cases.append(case_result(name, describe_call(name, names, values), failure, [], status))
    return run_check(ctx, "inputs", fn, ctx.student_name(fn.name), points, body, ctx.location(fn.name))


@check_kind("update", units=(Function,), main=True)
def update(ctx, fn: Function, points: float):
    """An update step against torch.optim: the result is the return value, or the mutated argument
    when the function updates in place and returns None."""
    def body(result):
        for label, inputs, _rng in _each_case(ctx, fn, "update"):
            name = ctx.student_name(fn.name)
            layout, outputs = Layout.of(ctx.options), list(fn.outputs)
            values = list(inputs.values())
            sent = layout.convert(fn, list(inputs), values)
            call = describe_call(name, list(inputs), sent)
            outcome = ctx.call(fn.name, *sent)
            failure = outcome_failure(outcome, f"{name}()")
            if failure is not None:
                result.cases.append(case_result(label, call, failure, []))
                continue
            value = outcome.value
            if value is None:
                value = tuple(outcome.args_after[list(inputs).index(m)] for m in fn.mutates)
                value = value[0] if len(value) == 1 else value
            expected, terms = torch_bridge.forward_terms(fn.reference, inputs)
            mistakes = tuple(m for m in fn.mistakes if m.check == "update")
            mistake_outputs = {m.id: layout.convert(fn, outputs, torch_bridge.call_numpy(m.reference, values))
                               for m in mistakes}
            rows = _compare_all(ctx, fn, outputs, value, layout.convert(fn, outputs, expected), batch_size=None,
                                mistakes=mistakes, mistake_outputs=mistake_outputs,
                                terms=layout.convert(fn, outputs, terms))
            result.cases.append(case_result(label, call, None, rows))
    return run_check(ctx, "update", fn, ctx.student_name(fn.name), points, body, ctx.location(fn.name))


# ------------------------------------------------------------------ replays (grade validate, no student code)


def _kink_inputs(ctx, fn: Function):
    """The kink check's inputs, as it builds them: (label, inputs, rng)."""
    for i, inputs in enumerate(fn.kinks):
        inputs = {n: np.array(v, dtype=np.float64) if isinstance(v, (list, np.ndarray)) else v
                  for n, v in inputs.items()}
        yield _("kink case {i}").format(i=i + 1), inputs, ctx.rng(fn.name, "kink", str(i))


def _replay_outputs(ctx, fn: Function, kind: str):
    """Each case of a comparing kind (forward, update, backward, kink): the reference's outputs and every
    mistake the check compares with, on the same inputs."""
    differentiate = kind == "backward" or (kind == "kink" and fn.backward is not None)
    if differentiate:
        mistakes = fn.backward.mistakes
    else:
        mistakes = tuple(m for m in fn.mistakes if m.check == ("forward" if kind == "kink" else kind))
    cases = _kink_inputs(ctx, fn) if kind == "kink" else _each_case(ctx, fn, kind)
    for label, inputs, rng in cases:
        if differentiate:
            upstream = _upstream(fn, inputs, rng)
            values = _backward_values(fn, inputs, upstream)[1]
            expected, terms = torch_bridge.gradients_terms(fn.reference, inputs, fn.backward.wrt, upstream)
            names = [f"d{w}" for w in fn.backward.wrt]
        else:
            values, names = list(inputs.values()), list(fn.outputs)
            expected, terms = torch_bridge.forward_terms(fn.reference, inputs)
        outs = {m.id: attempt(lambda m=m: torch_bridge.call_numpy(m.reference, values)) for m in mistakes}
        yield Replay(label, tuple(expected), names, output_grader(
            tuple(expected), names, unit=fn, exact=fn.exact and not differentiate, mistakes=mistakes,
            mistake_outputs=outs, terms=tuple(terms)), outs)


for _kind in (forward, backward, update, kink):
    _kind.replays(lambda ctx, fn, name=_kind.name: _replay_outputs(ctx, fn, name))
for _kind in (interface, inputs_unmodified):  # signatures and untouched inputs: no reference values
    _kind.replays(nothing_to_replay)
gradcheck.replays(nothing_to_replay)  # compares the student's backward with their own forward


@backward.verifies
def _reference_gradients(ctx, fn: Function):
    """What the backward check relies on: autograd's gradients of the reference match its finite
    differences (torch.autograd.gradcheck, float64), on the backward check's cases."""
    if fn.backward is None:
        return
    for label, inputs, _rng in _each_case(ctx, fn, "backward"):
        wrt = fn.backward.wrt
        fixed = {n: torch_bridge.to_tensor(v) for n, v in inputs.items()}
        leaves = tuple(torch_bridge.to_tensor(inputs[n], requires_grad=True) for n in wrt)

        def first_output(*moved):
            return torch_bridge.as_tuple(fn.reference(*{**fixed, **dict(zip(wrt, moved))}.values()))[0]
        yield label, torch_gradcheck(first_output, leaves)
