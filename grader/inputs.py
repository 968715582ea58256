"""Generate hidden inputs from an exercise's argument specs, reproducibly from a seed."""
from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from .spec import Arg, Case, Layers

# Probabilities stay at or above this, so the common `log(p + 1e-8)` idiom passes.
MIN_PROBABILITY = 1e-3


def rng_for(seed: int, *parts: str) -> np.random.Generator:
    """A generator that depends only on the seed and the names of what it is for (not on order)."""
    return np.random.default_rng([seed, *(zlib.crc32(p.encode()) for p in parts)])


def resolve_shape(shape: tuple[str | int, ...], dims: dict[str, int]) -> tuple[int, ...]:
    try:
        return tuple(d if isinstance(d, int) else dims[d] for d in shape)
    except KeyError as missing:
        raise ValueError(f"shape {shape} uses dimension {missing} that the case does not size: {dims}") from None


def _away_from(values: np.ndarray, kinks: tuple[float, ...], margin: float) -> np.ndarray:
    """Push values that sit within `margin` of a kink out to the margin, keeping their side."""
    for kink in kinks:
        offset = values - kink
        close = np.abs(offset) < margin
        side = np.where(offset >= 0, 1.0, -1.0)
        values = np.where(close, kink + side * (margin + np.abs(offset)), values)
    return values


def draw(arg: Arg, case: Case, rng: np.random.Generator) -> Any:
    """One argument value for a case."""
    dims = case.dims
    if arg.kind == "fixed":  # a Layers value is drawn for the case's sizes (an L-layer network)
        return arg.value.draw(dims, rng) if isinstance(arg.value, Layers) else arg.value
    shape = resolve_shape(arg.shape, dims)
    scale = arg.scale * (arg.large if case.large else 1.0)
    if arg.kind in ("normal", "logits"):
        values = rng.normal(0.0, scale, shape)
    elif arg.kind == "uniform":
        values = rng.uniform(-scale, scale, shape)
    elif arg.kind == "positive":
        values = rng.uniform(0.5, 2.0, shape) * scale
    elif arg.kind == "probs":
        # Rows of probabilities over the class axis (last), bounded away from 0.
        raw = rng.uniform(0.0, 1.0, shape) + 0.05
        values = raw / raw.sum(axis=-1, keepdims=True)
        values = np.maximum(values, MIN_PROBABILITY)
        values = values / values.sum(axis=-1, keepdims=True)
    elif arg.kind == "labels":
        n_classes = dims[arg.classes]
        return rng.integers(0, n_classes, shape).astype(np.int64)
    elif arg.kind == "onehot":
        n_classes = dims[arg.classes]
        labels = rng.integers(0, n_classes, shape[:-1])
        return np.eye(n_classes)[labels]
    elif arg.kind == "mask":
        return (rng.uniform(size=shape) >= 0.5).astype(np.float64)
    else:  # pragma: no cover - Arg validates its kind
        raise ValueError(arg.kind)
    if arg.away_from:
        values = _away_from(values, arg.away_from, arg.margin * (arg.large if case.large else 1.0))
    return np.asarray(values, dtype=np.float64)


def draw_all(args: dict[str, Arg], case: Case, rng: np.random.Generator) -> dict[str, Any]:
    return {name: case.values[name] if name in case.values else draw(arg, case, rng) for name, arg in args.items()}


def describe(name: str, value: Any) -> str:
    """`x: (4, 3) float64` — what the feedback says about an input, never its values."""
    if isinstance(value, np.ndarray):
        return f"{name}: {tuple(value.shape)} {value.dtype}"
    if isinstance(value, dict):  # parameter dicts: keys and shapes
        return f"{name}: {{{', '.join(f'{k} {tuple(np.shape(v))}' for k, v in value.items())}}}"
    return f"{name}={value!r}"


def describe_call(function: str, names: list[str], values: list[Any]) -> str:
    return f"{function}({', '.join(describe(n, v) for n, v in zip(names, values))})"
