"""Run PyTorch references on NumPy inputs, in float64, in the grading process only."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np
import torch

from .spec import as_float64


def to_tensor(value: Any, requires_grad: bool = False) -> Any:
    """NumPy arrays become float64 (or int64 for labels) tensors; numbers stay numbers."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "iub":
            return torch.from_numpy(value.astype(np.int64))
        tensor = torch.from_numpy(np.array(value, dtype=np.float64))
        return tensor.requires_grad_(requires_grad)
    return value


def as_tuple(value: Any) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def forward(reference: Callable[..., Any], inputs: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """The reference's outputs as float64 arrays."""
    with torch.no_grad():
        out = reference(*(to_tensor(v) for v in inputs.values()))
    return tuple(as_float64(o) for o in as_tuple(out))


def forward_terms(reference: Callable[..., Any], inputs: dict[str, Any]):
    """(outputs, terms): the reference's outputs and the magnitude of the terms forming each element
    (grader/terms.py), both as float64 arrays."""
    from . import terms
    with torch.no_grad(), terms.Recording() as rec:
        out = as_tuple(reference(*(to_tensor(v) for v in inputs.values())))
    return tuple(as_float64(o) for o in out), tuple(as_float64(rec.of(o)) for o in out)


def gradients_terms(reference: Callable[..., Any], inputs: dict[str, Any], wrt: Iterable[str],
                    upstream: np.ndarray | None):
    """(gradients, terms): `gradients` and the magnitude of the terms forming each element."""
    from . import terms
    with terms.Recording() as rec:
        grads = _gradients(reference, inputs, tuple(wrt), upstream)
    return (tuple(np.zeros(np.shape(inputs[n])) if g is None else as_float64(g) for n, g in zip(wrt, grads)),
            tuple(np.zeros(np.shape(inputs[n])) if g is None else as_float64(rec.of(g)) for n, g in zip(wrt, grads)))


def _gradients(reference, inputs, wrt, upstream):
    tensors = {name: to_tensor(v, requires_grad=name in wrt) for name, v in inputs.items()}
    out = as_tuple(reference(*tensors.values()))[0]
    grad_out = None if upstream is None else torch.from_numpy(np.asarray(upstream, dtype=np.float64))
    return vjp(out, [tensors[n] for n in wrt], grad_out, allow_unused=True)


def vjp(output, inputs, upstream=None, **options):
    """torch.autograd.grad(output, inputs, upstream, **options), computed as the gradient of the scalar
    sum(output * upstream): the same numbers (the seed 1 times upstream is upstream, exactly), without
    the symbolic-shapes machinery torch.autograd.grad imports (sympy, about a second) to check a tensor
    grad_outputs."""
    if upstream is not None:
        if tuple(upstream.shape) != tuple(output.shape):
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {tuple(upstream.shape)} and "
                               f"output[0] has a shape of {tuple(output.shape)}.")
        output = (output * upstream).sum()
    return torch.autograd.grad(output, inputs, **options)


def gradients(reference: Callable[..., Any], inputs: dict[str, Any], wrt: Iterable[str],
              upstream: np.ndarray | None) -> tuple[np.ndarray, ...]:
    """Autograd gradients of sum(reference(inputs) * upstream) with respect to `wrt`."""
    wrt = tuple(wrt)
    grads = _gradients(reference, inputs, wrt, upstream)
    return tuple(np.zeros(np.shape(inputs[n])) if g is None else as_float64(g) for n, g in zip(wrt, grads))


def call_numpy(function: Callable[..., Any], values: Iterable[Any]) -> tuple[np.ndarray, ...]:
    """Run a torch function written for catalogued mistakes on NumPy values (no autograd)."""
    with torch.no_grad():
        out = function(*(to_tensor(v) for v in values))
    return tuple(as_float64(o) for o in as_tuple(out))
