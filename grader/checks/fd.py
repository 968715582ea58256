"""Directional finite differences (as gradcheck's fast mode): is a student's gradient the derivative
of the student's own function? One comparison core for functions and models alike."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..compare import coerce, shapes_equivalent
from ..i18n import _

# Step and rtol by the dtype the student computes in (gradcheck's eps=1e-6, rtol=1e-3 for float64;
# a float32 function needs a larger step and a looser bound).
FD_SETTINGS = {np.dtype(np.float64): (1e-6, 1e-3), np.dtype(np.float32): (1e-2, 2e-2)}
DIRECTIONS = 3


def fd_settings(*values) -> tuple[float, float]:
    """Step and rtol for the least precise dtype among the student's outputs."""
    precise = all(np.asarray(v).dtype == np.float64 for v in values)
    return FD_SETTINGS[np.dtype(np.float64 if precise else np.float32)]


def as_gradient(value, shape: tuple[int, ...]) -> np.ndarray | None:
    """A student's gradient as float64 in the shape of its variable, or None if it is not one."""
    array, _what = coerce(value)
    if array is None or array.dtype.kind not in "biuf" or not shapes_equivalent(array.shape, shape):
        return None
    return array.astype(np.float64).reshape(shape)


def directional_check(value_at: Callable[[dict[str, np.ndarray]], float | None] | None, point: dict[str, np.ndarray],
                      grads: dict[str, np.ndarray], rng: np.random.Generator, step: float, rtol: float, *,
                      values_at: Callable[[list[dict[str, np.ndarray]]], list[float | None]] | None = None
                      ) -> str | None:
    """None when <grads, v> matches central differences of the student's function along random directions
    v; otherwise the message a student reads. `grads` are float64 arrays in the shapes of `point`. The
    function's value at a point: `value_at(point)`, or `values_at(points)` for all the points of a check at
    once (one request to the student's process), None where it failed and after.

    A forward that rounds its inputs to float32 but returns float64 (x.astype(np.float32) followed by a
    float64 constant) looks precise and is not: where the float64 step fails, float32's decides."""
    evaluate = values_at or _one_by_one(value_at)
    message = _directional(evaluate, point, grads, rng, step, rtol)
    loose = FD_SETTINGS[np.dtype(np.float32)]
    if message is not None and step < loose[0]:
        return _directional(evaluate, point, grads, rng, *loose)
    return message


def _one_by_one(value_at):
    def values_at(points):
        values = []
        for moved in points:
            values.append(value_at(moved))
            if values[-1] is None:
                break
        return values + [None] * (len(points) - len(values))
    return values_at


def _directions(grads, rng, count: int = DIRECTIONS) -> list[dict[str, np.ndarray]]:
    return [{n: rng.uniform(-1.0, 1.0, np.shape(v)) for n, v in grads.items()} for _d in range(count)]


def _directional(values_at, point, grads, rng, step, rtol) -> str | None:
    """The directions are drawn and evaluated together; the verdict is the first failing direction's, and
    the generator is left as if the directions after it had not been drawn (as a check going direction
    by direction leaves it, for the float32 retry)."""
    state = rng.bit_generator.state
    directions = _directions(grads, rng)
    points = [{n: v + sign * step * direction[n] if n in direction else v for n, v in point.items()}
              for direction in directions for sign in (1.0, -1.0)]
    values = list(values_at(points)) + [None] * len(points)
    for d, direction in enumerate(directions):
        plus, minus = values[2 * d], values[2 * d + 1]
        message = None
        if plus is None or minus is None:
            message = _("your function failed on inputs moved slightly along random direction {d}.").format(d=d + 1)
        else:
            numeric = (plus - minus) / (2 * step)
            terms = [grads[n] * direction[n] for n in grads]
            analytic = float(sum(t.sum() for t in terms))
            # Relative to the sum of absolute terms, so cancellation does not make it impossible.
            allowed = rtol * float(sum(np.abs(t).sum() for t in terms)) + 1e-12
            if not abs(numeric - analytic) <= allowed:
                message = _("along random direction {d}, finite differences of your forward give {numeric:.6g} but "
                            "your gradients give {analytic:.6g} (allowed difference {allowed:.2g}): the gradient is "
                            "not the derivative of your forward.").format(d=d + 1, numeric=numeric, analytic=analytic,
                                                                         allowed=allowed)
        if message is not None:
            rng.bit_generator.state = state
            _directions(grads, rng, d + 1)
            return message
    return None


def torch_gradcheck(function: Callable, leaves: tuple) -> str | None:
    """None when autograd's gradients of a reference match its finite differences (torch.autograd.gradcheck,
    fast mode, float64); else the problem, for `grade validate` (instructor-facing, English)."""
    import torch
    try:
        torch.autograd.gradcheck(function, leaves, fast_mode=True)
        return None
    except Exception as error:
        lines = str(error).strip().splitlines()
        first = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
        return f"autograd gradients do not match finite differences of the reference ({first.rstrip(',.')})"
