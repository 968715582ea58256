"""Check kind `plot_line`: a function that plots its first argument returns a matplotlib Figure with a
line whose y-data are those values, in order (plot_cost(costs)).

The figure never leaves the child (no pickles cross the wire): the grader keeps the returned object
there and asks it, through its own methods, for its axes (get_axes), their lines (get_lines) and each
line's y-data (get_ydata), which come back as arrays; the child runs matplotlib with the Agg backend.
What the grader learns is a set of facts, checked in order: `figure` (a Figure came back, with axes
to ask), `lines` (some axes holds a line), `matches` (some line's y-data equal the values). As for
the utilities (grader/checks/utilities.py), a catalogued mistake's `reference` is a predicate over the
facts (also `returned_none`, `returned_axes`: what came back instead of a figure; `log_values`: a line
holds log(values)); the first that holds is named.
"""
from __future__ import annotations

import numpy as np

from ..compare import coerce
from ..i18n import _
from ..inputs import describe_call, draw_all
from ..spec import Function
from ..results import FAILED
from .base import case_result, check_kind, outcome_failure
from .network_functions import MAX_ITEMS
from .utilities import _fact_replay, _verdict, run_single_threaded


def _items(ctx, handle: int, method: str, kept: list) -> list[int]:
    """Handles of what `obj.method()` returns (a sequence), at most MAX_ITEMS; [] when it fails."""
    got = ctx.call(method, obj=handle, keep=True, return_args=False)
    if not got.ok:
        return []
    kept.append(got.handle)
    length = ctx.call("__len__", obj=got.handle, return_args=False)
    if not length.ok or type(length.value) is not int:
        return []
    out = []
    for index in range(min(length.value, MAX_ITEMS)):
        item = ctx.call("__getitem__", index, obj=got.handle, keep=True, return_args=False)
        if item.ok:
            kept.append(item.handle)
            out.append(item.handle)
    return out


def _line_data(ctx, figure: int, kept: list) -> list[np.ndarray] | None:
    """The y-data of every line of every axes of the kept figure; None when it has no axes to ask."""
    axes = _items(ctx, figure, "get_axes", kept)
    if not axes:
        return None
    data = []
    for ax in axes:
        for line in _items(ctx, ax, "get_lines", kept):
            y = ctx.call("get_ydata", obj=line, return_args=False)
            array = coerce(y.value)[0] if y.ok else None
            if array is not None and array.dtype.kind in "biuf":
                data.append(array.astype(np.float64).reshape(-1))
    return data


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=1e-6, atol=0.0))


def _facts(ctx, handle: int, values: np.ndarray, kept: list) -> tuple[dict, str]:
    """The facts about what came back, and the name of its type (for the message)."""
    kind = ctx.sandbox.getattrs(handle, ["__class__.__module__", "__class__.__qualname__"])
    parts = kind.value if kind.ok else {}
    returned = ".".join(str(parts.get(k, "")) for k in ("__class__.__module__", "__class__.__qualname__"))
    lines = _line_data(ctx, handle, kept)
    positive = bool((values > 0).all())
    return derived({
        "figure": lines is not None, "lines": bool(lines),
        "matches": any(_close(y, values) for y in lines or ()),
        "returned_none": returned == "builtins.NoneType", "returned_axes": returned.endswith("Axes"),
        "log_values": positive and any(_close(y, np.log(values)) for y in lines or ()),
    }), returned


def derived(facts: dict) -> dict:
    """Facts made consistent: no figure without a figure's type, no line without a figure, no match
    without a line, and a line of log(values) is not the values."""
    figure = facts["figure"] and not facts["returned_none"] and not facts["returned_axes"]
    lines = facts["lines"] and figure
    return {**facts, "figure": figure, "lines": lines, "matches": facts["matches"] and lines and not facts["log_values"]}


def _messages(name: str) -> dict[str, str]:
    return {
        "figure": _("{name}() should return the matplotlib Figure it drew on: fig, ax = plt.subplots(); "
                    "ax.plot(costs); return fig.").format(name=name),
        "lines": _("the figure {name}() returned holds no line: draw the values with ax.plot(costs), a line, "
                   "not bars or scattered points.").format(name=name),
        "matches": _("no line of the figure holds the values passed to {name}(), in order: the line's y-data "
                     "must be the costs themselves.").format(name=name),
    }


@check_kind("plot_line", units=(Function,), main=True)
def plot_line(ctx, fn: Function, points: float):
    """The returned figure holds a line of the values (read in the child, y-data only)."""
    name = ctx.student_name(fn.name)
    messages = _messages(name)

    def body(result):
        for i, case in enumerate(fn.cases):
            inputs = draw_all(fn.args, case, ctx.rng(fn.name, "plot_line", str(i)))
            values = np.asarray(next(iter(inputs.values())), dtype=np.float64).reshape(-1)
            label = _("case {i}: {n} values").format(i=i + 1, n=values.size)
            call = describe_call(name, list(inputs), list(inputs.values()))
            outcome = ctx.call(fn.name, *inputs.values(), keep=True, return_args=False)
            failure = outcome_failure(outcome, f"{name}()")
            if failure is not None:
                result.cases.append(case_result(label, call, failure, []))
                continue
            kept = [outcome.handle]
            try:
                facts, returned = _facts(ctx, outcome.handle, values, kept)
            finally:
                ctx.sandbox.drop(*kept)
            verdict = _verdict(fn, "plot_line", label, call, facts, messages)
            if not verdict.passed:
                result.status = FAILED  # a verdict on the figure, not an error in the code
            if not facts["figure"]:
                verdict.message = f"{verdict.message} " + _("It returned {got}.").format(got=returned)
            result.cases.append(verdict)
    return run_single_threaded(ctx, "plot_line", fn, points, body)


plot_line.replays(lambda ctx, fn: _fact_replay(
    fn, "plot_line", _messages(fn.name), {"figure": True, "lines": True, "matches": True, "returned_none": False,
                                          "returned_axes": False, "log_values": False}, derived))
