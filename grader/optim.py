"""torch.optim's optimizers, constructed and stepped without importing PyTorch's compiler.

Constructing any torch.optim optimizer, or calling its `step` or `zero_grad`, imports `torch._dynamo`
(1.5 to 3 s, and about 100 MB) only to mark the methods for `torch.compile`: `add_param_group` and
`zero_grad` are wrapped by `torch._disable_dynamo`, and `step` by a wrapper that sets grad mode and
inserts graph breaks. Outside `torch.compile` those wrappers change nothing but the import. The
classes here are the real torch.optim classes (subclasses: same `__init__`, `_init_group`, state,
functional kernels and arithmetic) whose methods call what those wrappers wrap, found with
`inspect.unwrap`; where a PyTorch version has no wrapper, that is the method itself. Tests check them
against torch.optim's own classes on every step, bit for bit (tests/test_optim.py).
"""
from __future__ import annotations

import inspect

import torch

_BASE = torch.optim.Optimizer
_ADD_PARAM_GROUP = inspect.unwrap(_BASE.add_param_group)
_ZERO_GRAD = inspect.unwrap(_BASE.zero_grad)


def _without_compiler(base: type) -> type:
    raw_step = inspect.unwrap(base.step)

    class Optimizer(base):
        def add_param_group(self, param_group):
            return _ADD_PARAM_GROUP(self, param_group)

        def zero_grad(self, set_to_none: bool = True):
            return _ZERO_GRAD(self, set_to_none)

        def step(self, closure=None):
            # What the wrapper does besides graph breaks: grad mode as the optimizer's `differentiable`.
            with torch.set_grad_enabled(self.defaults["differentiable"]):
                return raw_step(self, closure)

    Optimizer.__name__ = Optimizer.__qualname__ = base.__name__
    Optimizer.__doc__ = f"torch.optim.{base.__name__}, without importing torch._dynamo (see grader/optim.py)."
    return Optimizer


SGD = _without_compiler(torch.optim.SGD)
Adam = _without_compiler(torch.optim.Adam)
AdamW = _without_compiler(torch.optim.AdamW)
RMSprop = _without_compiler(torch.optim.RMSprop)
