"""The array layout an assignment grades in: batch-first (the default) or features-first.

References are written batch-first: x is (N, D), W is (D, H), b is (H,). Courses in the deeplearning.ai
tradition put features first: X is (D, N), W is (H, D), b is (H, 1). An exercise states, per argument
(`Arg.features_first`) and per output (`Function.features_first`), how its batch-first array looks
features-first: an axis permutation (TRANSPOSE) or COLUMN (a vector (H,) becomes (H, 1)). This module
applies that in one place, so inputs, references and feedback stay consistent:

- inputs are drawn batch-first (references need them so) and converted before they are sent;
- references are converted to the student's layout before comparing, so every shape, index and hint
  in the feedback is in the layout the student works in;
- when a call fails in a features-first assignment but the function is right batch-first, the hint
  says so.

The assignment picks the layout: `layout = "batch_first" | "features_first"`.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

from .compare import coerce, compare
from .i18n import _
from .results import Hint

BATCH_FIRST = "batch_first"
FEATURES_FIRST = "features_first"
LAYOUTS = (BATCH_FIRST, FEATURES_FIRST)
TRANSPOSE = (1, 0)  # x (N, D) -> (D, N), W (D, H) -> (H, D)
COLUMN = "column"  # b (H,) -> (H, 1)
UPSTREAM = "dout"  # the upstream gradient has the layout of the forward's first output


def layout_name(options: dict[str, Any]) -> str:
    """The assignment's layout; load_assignment has validated it."""
    return str(options.get("layout") or BATCH_FIRST)


def to_features_first(value: Any, how) -> Any:
    """A batch-first value in the features-first layout (non-arrays and how=None pass unchanged)."""
    if how is None or not isinstance(value, np.ndarray):
        return value
    if how == COLUMN:
        return value.reshape(-1, 1)
    return np.ascontiguousarray(np.transpose(value, how))


def symbolic_shape(shape: tuple, how) -> tuple:
    """A documented shape such as ("N", "D") in the features-first layout."""
    if how is None:
        return tuple(shape)
    if how == COLUMN:
        return (*shape, 1)
    return tuple(shape[i] for i in how)


def _shape_text(shape: tuple) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


@dataclass(frozen=True)
class Layout:
    name: str = BATCH_FIRST

    @classmethod
    def of(cls, options: dict[str, Any]) -> Layout:
        return cls(layout_name(options))

    @property
    def features_first(self) -> bool:
        return self.name == FEATURES_FIRST

    @staticmethod
    def how(fn, name: str):
        """How the argument, output or gradient `name` of `fn` looks features-first (None: unchanged)."""
        outputs = getattr(fn, "features_first", None) or {}
        if name in outputs:
            return outputs[name]
        args = getattr(fn, "args", {})
        if name in args:
            return args[name].features_first
        if name == UPSTREAM and getattr(fn, "outputs", None):
            return outputs.get(fn.outputs[0])
        if name.startswith("d") and name[1:] in args:  # a gradient has its variable's layout
            return args[name[1:]].features_first
        return None

    @classmethod
    def aware(cls, fn) -> bool:
        """Whether `fn` says how any of its arrays look features-first."""
        return bool(getattr(fn, "features_first", None)) or any(
            a.features_first is not None for a in getattr(fn, "args", {}).values())

    def convert(self, fn, names, values) -> list:
        """Batch-first values (arguments or reference outputs) in this layout, by name."""
        if not self.features_first:
            return list(values)
        return [to_features_first(v, self.how(fn, n)) for n, v in zip(names, values)]

    def inputs(self, fn, inputs: dict[str, Any]) -> dict[str, Any]:
        return dict(zip(inputs, self.convert(fn, list(inputs), list(inputs.values()))))

    def adapt(self, fn, name: str, actual: Any) -> Any:
        """Accept a features-first bias gradient returned as (H,) for (H, 1): the same numbers."""
        if self.features_first and self.how(fn, name) == COLUMN:
            array, _what = coerce(actual)
            if array is not None and array.ndim == 1:
                return array.reshape(-1, 1)
        return actual

    def unit(self, fn):
        """`fn` with its normalization axis as the student sees it (for wrong-axis hints)."""
        axis = getattr(fn, "axis", None)
        if not self.features_first or axis is None:
            return fn
        how = self.how(fn, fn.outputs[0]) or self.how(fn, next(iter(fn.args), ""))  # a loss: its input's axis
        if how is None or how == COLUMN:
            return fn
        return replace(fn, axis=list(how).index(axis))

    def starter_note(self, exercise) -> str:
        """A paragraph for the starter kit of a features-first assignment, whose docstrings are batch-first."""
        if not self.features_first or not any(self.aware(unit) for unit in exercise.units):
            return ""
        return "\n" + textwrap.fill(_(
            "This assignment uses the features-first layout: each example is a column, X is (D, N), W is (H, D) "
            "and b is (H, 1). The docstrings below are written batch-first (X (N, D), W (D, H), b (H,)): transpose "
            "their shapes and formulas (W @ X + b, sums over axis 1)."), width=100) + "\n"

    def describe(self, fn) -> str:
        """`x (D, N), W (H, D), b (H, 1)`: the documented shapes of `fn`'s arrays in this layout."""
        parts = []
        for name, arg in fn.args.items():
            if arg.shape:
                how = arg.features_first if self.features_first else None
                parts.append(f"{name} {_shape_text(symbolic_shape(arg.shape, how))}")
        return ", ".join(parts)

    def batch_first_hint(self, fn, call: Callable[[list], Any], values: list, expected: tuple) -> Hint | None:
        """In a features-first assignment, a hint when the student's function is right, but batch-first:
        given the batch-first `values`, it returns the batch-first `expected`. `call(values)` runs the
        student's function and returns its outcome; only called after a failure. (Batch-first assignments
        do not probe: there, code that is right features-first is better told apart by the usual hints,
        such as a softmax over the wrong axis.)"""
        if not self.features_first or not self.aware(fn):
            return None
        outcome = call(list(values))
        if not getattr(outcome, "ok", False):
            return None
        got = (outcome.value,) if len(expected) == 1 else outcome.value
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return None
        if not all(compare(g, w).passed for g, w in zip(got, expected)):
            return None
        return Hint(code="layout", text=_(
            "Your function is right for the batch-first layout ({batch_first}), but this assignment uses the "
            "features-first layout: {features_first}. Each example is a column: for example Z = W @ X + b, a "
            "sum over the examples runs along axis 1, and a softmax normalizes each column (axis 0)."
        ).format(batch_first=Layout(BATCH_FIRST).describe(fn), features_first=self.describe(fn)))
