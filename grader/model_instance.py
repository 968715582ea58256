"""The student's model object in the child, with the grader's weights: NumPy only (no PyTorch), so the
work done before the references are loaded (grader/ahead.py) can use it. grader.checks.model
re-exports it."""
from __future__ import annotations

import numpy as np

from .context import outcome_failure
from .i18n import _
from .spec import Case, Model


def make_params(model: Model, dims: dict, rng) -> dict[str, np.ndarray]:
    """He-style weights and small non-zero biases (zero biases would hide bias bugs)."""
    params = {}
    for name, param in model.params.items():
        shape = tuple(dims[d] for d in param.shape)
        if param.bias:
            params[name] = rng.normal(0.0, 0.1, shape)
        else:
            params[name] = rng.normal(0.0, np.sqrt(2.0 / shape[0]), shape)
    return params


class Instance:
    """The student's object in the child, with the grader's weights set."""

    def __init__(self, ctx, model: Model, case: Case, params: dict[str, np.ndarray]):
        self.ctx, self.model = ctx, model
        ctx.require(model.class_name)
        init = [case.dims[d] for d in model.init_args.values()]
        created = ctx.call(model.class_name, *init, keep=True)
        failure = outcome_failure(created, f"{ctx.student_name(model.class_name)}()")
        self.failure = failure
        self.handle = created.handle
        self.shapes: dict[str, tuple] = {}
        self.dtype = np.dtype(np.float64)
        if failure is None:
            self.failure = self._adopt(params)

    def _adopt(self, params: dict) -> str | None:
        """Set weights in the student's own bias shape and dtype."""
        names = list(self.model.params)
        current = self.ctx.sandbox.getattrs(self.handle, names)
        if not current.ok:
            return current.error.message
        values = current.value or {}
        for name in names:
            theirs = values.get(name)
            if not isinstance(theirs, np.ndarray):
                return _("after construction, self.{name} should be an array, got {got}.").format(
                    name=name, got=type(theirs).__name__)
            if theirs.size != params[name].size:
                return _("after construction, self.{name} has shape {got}; expected {want}.").format(
                    name=name, got=theirs.shape, want=params[name].shape)
            self.shapes[name] = theirs.shape
        # Weights go back in the dtype the student chose for the first weight (float32 or float64).
        first = values[names[0]].dtype
        self.dtype = first if first in (np.float32, np.float64) else np.dtype(np.float64)
        return self.set(params)

    def set(self, params: dict) -> str | None:
        values = {k: np.asarray(v, dtype=self.dtype).reshape(self.shapes[k]) for k, v in params.items()}
        outcome = self.ctx.sandbox.setattrs(self.handle, values)
        return None if outcome.ok else outcome.error.message

    def params(self) -> tuple[dict | None, str | None]:
        outcome = self.ctx.sandbox.getattrs(self.handle, list(self.model.params))
        if not outcome.ok:
            return None, outcome.error.message
        return outcome.value, None

    def call(self, role: str, *args):
        method = self.model.methods[role]
        outcome = self.ctx.call(method, *args, obj=self.handle)
        return outcome, outcome_failure(outcome, f"{self.model.class_name}.{method}()")
