"""The size of the terms that form each element of a reference's result: what its rounding scales with.

A correct computation in another order (a Jacobian product instead of torch's fused softmax backward,
`x - logsumexp(x)` instead of `x - m - log(sum(exp(x - m)))`, float32 instead of float64) differs from
the reference by a few roundings of the *terms* it adds up, not of the result: where terms of size 1
cancel to 1e-47, any order leaves a rounding leftover near 1e-16. So `compare` scales each element's
absolute tolerance by these magnitudes (compare.py says how).

`evaluate(fn, *args)` runs a PyTorch reference as usual and, beside every value it computes, a
magnitude: inputs are their own absolute values, and each operation maps its inputs' magnitudes to its
output's by the rule of running error analysis (Higham, *Accuracy and Stability of Numerical
Algorithms*, 3.3): sums and products of magnitudes where the operation adds and multiplies (a
subtraction adds magnitudes: that is where cancellation hides), |f(x)| + |f'(x)| m(x) for a smooth
function, and for torch's fused kernels (softmax's backward, log-softmax's) the magnitudes of the
textbook formula they fuse. An operation without a rule is linearized: its output's change when each
input moves by a small multiple of its magnitude, in a few sign patterns. Autograd's backward runs
through the same rules, so gradients get magnitudes too. The result is never below |value|.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch.utils._python_dispatch import TorchDispatchMode

aten = torch.ops.aten
_STEP = 2.0 ** -20  # relative move of an input for the linearized rule: far from rounding, far from kinks

# Operations linear in every tensor argument with non-negative coefficients once scalars are made
# non-negative, and operations that move or select elements: their rule is the operation itself applied
# to the magnitudes. (Maxima over windows pick the largest magnitude: an upper bound, never a jump.)
# (By name: an operation a torch version lacks is skipped, never an import error.)
_ON_MAGNITUDES = {getattr(aten, name) for name in (
    "add", "mul", "mm", "bmm", "addmm", "mv", "dot", "matmul", "sum", "mean", "convolution",
    "convolution_backward", "cumsum", "avg_pool2d", "avg_pool2d_backward", "max_pool2d_with_indices",
    "max_pool2d_with_indices_backward", "amax", "max", "amin", "min", "where", "view", "_unsafe_view",
    "reshape", "t", "transpose", "permute", "expand", "squeeze", "unsqueeze", "select", "slice", "clone",
    "alias", "detach", "_to_copy", "contiguous", "cat", "stack", "index_select", "gather", "index", "flip",
    "repeat", "unfold", "im2col", "col2im", "constant_pad_nd", "copy", "lift_fresh", "masked_fill",
    "scatter_add", "index_add", "index_put", "diag_embed", "diagonal", "split", "split_with_sizes", "unbind",
    "narrow", "as_strided", "new_zeros", "zeros_like", "fill", "sign", "embedding",
    "embedding_dense_backward",
) if hasattr(aten, name)}
_SUBTRACTIONS = {aten.sub: aten.add, aten.rsub: aten.add}
_ABS_OF_MAGNITUDE = {getattr(aten, name) for name in ("neg", "abs", "relu", "threshold_backward", "leaky_relu",
                                                     "leaky_relu_backward") if hasattr(aten, name)}
# Values that are not computed from any input's value (fills, shapes): no terms, their own size.
_CONSTANTS = {getattr(aten, name) for name in (
    "ones_like", "zeros_like", "full_like", "empty_like", "ones", "zeros", "full", "empty", "scalar_tensor",
    "new_ones", "new_full", "new_empty", "arange",
) if hasattr(aten, name)}
# Smooth functions of one tensor: f'(x) from x and out = f(x), for the rule |f(x)| + |f'(x)| m(x) (what
# the linearized rule measures, to first order, at a fraction of its cost).
_DERIVATIVES = {getattr(aten, name): derivative for name, derivative in (
    ("exp", lambda x, out: out),
    ("log", lambda x, out: 1 / x),
    ("tanh", lambda x, out: 1 - out * out),
    ("sigmoid", lambda x, out: out * (1 - out)),
    ("sqrt", lambda x, out: 0.5 / out),
) if hasattr(aten, name)}


def _floating(x) -> bool:
    return isinstance(x, torch.Tensor) and x.is_floating_point()


def _map(fn, x):
    """fn on every leaf of an operation's arguments (lists, tuples and dicts of tensors and scalars):
    torch's pytree does the same for any container, at several times the cost, on every operation."""
    if isinstance(x, (list, tuple)):
        items = [_map(fn, v) for v in x]
        return type(x)(*items) if hasattr(x, "_fields") else type(x)(items)  # a named tuple by position
    if isinstance(x, dict):
        return {k: _map(fn, v) for k, v in x.items()}
    return fn(x)


def _leaves(x) -> list:
    out = []
    _map(out.append, x)
    return out


class _Magnitudes(TorchDispatchMode):
    @classmethod
    def _should_skip_dynamo(cls) -> bool:
        # Never under torch.compile: without this, TorchDispatchMode wraps __torch_dispatch__ to disable
        # Dynamo, and the wrapper's first call imports torch._dynamo (seconds) for nothing.
        return False

    def __init__(self):
        super().__init__()
        self.table: dict[tuple, torch.Tensor] = {}
        self.alive: list[torch.Tensor] = []  # keeps storages (the keys) from being reused while we run

    @staticmethod
    def key(t: torch.Tensor) -> tuple:
        return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()), t.dtype)

    def of(self, t: torch.Tensor) -> torch.Tensor:
        found = self.table.get(self.key(t))
        return found if found is not None and found.shape == t.shape else t.detach().abs()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        packet = func.overloadpacket
        name = packet.__name__
        inplace = name.endswith("_") and not name.startswith("_")
        functional = getattr(aten, name[:-1], None) if inplace else func
        magnitudes = None
        if inplace and functional is not None:  # the rule needs the values before they are overwritten
            try:
                overload = getattr(functional, func._overloadname, None) or functional.default
                magnitudes = self.rule(overload, args, kwargs, overload(*args, **kwargs))
            except Exception:
                magnitudes = None
        out = func(*args, **kwargs)
        if not inplace:
            try:
                magnitudes = self.rule(func, args, kwargs, out)
            except Exception:  # a rule that cannot apply: the value's own size (never worse than no terms)
                magnitudes = None
        self.store(out, magnitudes)
        return out

    def store(self, out, magnitudes) -> None:
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        mags = list(magnitudes) if isinstance(magnitudes, (tuple, list)) else [magnitudes] * len(outs)
        for o, m in zip(outs, mags + [None] * (len(outs) - len(mags))):
            if not _floating(o):
                continue
            value = o.detach().abs()
            m = value if not (_floating(m) and m.shape == o.shape) else torch.maximum(m.to(value.dtype), value)
            self.table[self.key(o)] = m
            self.alive.append(o)

    def on_magnitudes(self, func, args, kwargs):
        def swap(x):
            if _floating(x):
                return self.of(x)
            return abs(x) if isinstance(x, float) else x
        return func(*_map(swap, args), **_map(swap, kwargs))

    def rule(self, func, args, kwargs, out):
        packet = func.overloadpacket
        if packet in _SUBTRACTIONS:
            func = getattr(_SUBTRACTIONS[packet], func._overloadname, None) or _SUBTRACTIONS[packet].Tensor
            packet = aten.add
        if packet is aten.rsub or packet in _CONSTANTS:
            return None
        if packet in _DERIVATIVES and len(args) == 1 and not kwargs and _floating(args[0]):
            x = args[0].detach()
            slope = _DERIVATIVES[packet](x, out.detach()).abs() * self.of(x)
            return out.detach().abs() + slope.nan_to_num(nan=0.0, posinf=0.0)
        if packet in _ON_MAGNITUDES:
            return self.on_magnitudes(func, args, kwargs)
        if packet in _ABS_OF_MAGNITUDE:
            return self.on_magnitudes(func, args, kwargs).abs()
        if packet is aten.div and _floating(args[0]):
            a, b = args[0], args[1]
            if _floating(b):
                return self.of(a) / b.abs() + a.abs() * self.of(b) / (b * b)
            return self.of(a) / abs(b)
        if packet is aten._softmax:
            # |ds_i| <= s_i ((1 - s_i) |dx_i| + sum_{j != i} s_j |dx_j|): saturated rows stay exact
            m = self.of(args[0])
            return out * (1 + (1 - out) * m + (out * m).sum(args[1], keepdim=True) - out * m)
        if packet is aten._log_softmax:
            m = self.of(args[0])
            return out.abs() + m + m.amax(args[1], keepdim=True)
        if packet is aten._softmax_backward_data:  # s * (g - sum(g * s))
            g, s, dim = args[0], args[1], args[2]
            mg, ms = self.of(g), self.of(s)
            inner = (s * mg + ms * g.abs()).sum(dim, keepdim=True)
            return s * (mg + inner) + ms * (g.abs() + (s * g).abs().sum(dim, keepdim=True))
        if packet is aten._log_softmax_backward_data:  # g - exp(out) * sum(g)
            g, logs, dim = args[0], args[1], args[2]
            s = logs.exp()
            return self.of(g) + s * self.of(g).sum(dim, keepdim=True) + s * self.of(logs) * g.abs().sum(
                dim, keepdim=True)
        return self.linearized(func, args, kwargs, out)

    def linearized(self, func, args, kwargs, out):
        """|out| + the largest change of out per unit step when inputs move by their magnitudes."""
        leaves = _leaves((args, kwargs))
        tensors = [x for x in leaves if _floating(x)]
        if not tensors:
            return None
        outs = list(out) if isinstance(out, (tuple, list)) else [out]
        generator = torch.Generator().manual_seed(0)
        patterns = [lambda i, t: 1.0, lambda i, t: 1.0 if i % 2 == 0 else -1.0,
                    lambda i, t: torch.randint(0, 2, t.shape, generator=generator).to(t.dtype) * 2 - 1]
        spread = [None] * len(outs)
        for pattern in patterns:
            index = iter(range(len(tensors)))

            def move(x):
                if not _floating(x):
                    return x
                return x.detach() + _STEP * pattern(next(index), x) * self.of(x)
            moved = func(*_map(move, args), **_map(move, kwargs))
            moved = list(moved) if isinstance(moved, (tuple, list)) else [moved]
            for k, (o, p) in enumerate(zip(outs, moved)):
                if _floating(o) and _floating(p) and p.shape == o.shape:
                    change = ((p - o) / _STEP).abs().nan_to_num(nan=0.0, posinf=0.0)
                    spread[k] = change if spread[k] is None else torch.maximum(spread[k], change)
        return [None if s is None else o.detach().abs() + s for o, s in zip(outs, spread)]


def evaluate(fn: Callable[..., Any], *args, **kwargs) -> tuple[Any, Callable[[torch.Tensor], torch.Tensor]]:
    """Run `fn` and return (its result, magnitude_of): magnitude_of(t) gives the terms' magnitude of any
    tensor computed in the run (its absolute value for a tensor the run did not compute)."""
    mode = _Magnitudes()
    with mode:
        out = fn(*args, **kwargs)
    return out, lambda t: mode.of(t).detach() if _floating(t) else torch.as_tensor(t).abs()


class Recording:
    """A context in which several calls share one table: `with Recording() as rec: ...; rec.of(t)`."""

    def __enter__(self):
        self.mode = _Magnitudes()
        self.mode.__enter__()
        return self

    def __exit__(self, *exc):
        return self.mode.__exit__(*exc)

    def of(self, t) -> torch.Tensor:
        return self.mode.of(t).detach() if _floating(t) else torch.as_tensor(t).abs()
