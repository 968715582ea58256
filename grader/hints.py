"""Recognise the shape of an error: batch-size factor, sign flip, transpose, wrong axis, NaN, ...

`diagnose` is called after a comparison failed and returns the most specific Hint, or None. A pattern
counts as recognised when it holds within ten times float32's tolerance on all but a few elements
(5% of the significant ones), so one kink element or a float32 computation does not hide it.
"""
from __future__ import annotations

import numpy as np

from grader.compare import coerce, shapes_equivalent, strip_leading_ones, tolerance_for
from grader.i18n import N_, _
from grader.results import Comparison, Hint

# key -> (Hint.code, text). Texts are str.format templates; keep them short and concrete. They are
# marked with N_ and translated in _hint, so the language active when the hint is built applies.
HINTS = {
    "nonfinite": ("nonfinite", N_(
        "Your output has NaN/Inf on large inputs: subtract the maximum before exponentiating "
        "(numerically stable softmax / log-sum-exp).")),
    "batch_sum": ("batch_scale", N_(
        "Your output is off by a factor of {n} = batch size: you probably summed over the batch "
        "instead of taking the mean (missing 1/N).")),
    "batch_twice": ("batch_scale", N_(
        "Your output is {n} times too small, and {n} is the batch size: you probably divided by the "
        "batch size twice.")),
    "sign_flip": ("sign_flip", N_(
        "Your output has the right size but the wrong sign: check for a missing or extra minus "
        "(for example p - y versus y - p).")),
    "transposed": ("transposed", N_(
        "Your output is the transpose of the expected one: check the order of the matrix product "
        "(x @ W versus W @ x) and any missing or extra .T.")),
    "transposed_shape": ("transposed", N_(
        "Your output has shape {actual} but {expected} was expected, which is the transposed shape: "
        "check the order of the matrix product and any missing or extra .T.")),
    "wrong_axis": ("wrong_axis", N_(
        "Your output has shape {actual} but {expected} was expected: you probably reduced "
        "(sum/mean/max) over the wrong axis. Check the axis= argument.")),
    "keepdims": ("wrong_axis", N_(
        "Your output has shape {actual} but {expected} was expected: the reduced axis was kept or "
        "dropped by mistake. Check keepdims= in your sum/mean/max, or reshape the result.")),
    "reduced_all": ("wrong_axis", N_(
        "Your output is a single number but shape {expected} was expected: pass axis= to your "
        "sum/mean/max so that it reduces over one axis only.")),
    "not_reduced": ("wrong_axis", N_(
        "Your output has shape {actual} but a single number was expected: you probably forgot to "
        "average (or sum) over the batch.")),
    "normalized_axis": ("wrong_axis", N_(
        "Your output is normalized along axis {actual_axis} instead of axis {expected_axis}: you "
        "reduced over the wrong axis. Use axis={expected_axis} (with keepdims=True) in the sum/mean/max.")),
    "labels_probabilities": ("labels", N_(
        "Your output has shape {actual}, one row of probabilities per example, but {expected} class labels were "
        "expected: return the most probable class of each row, np.argmax(probs, axis=1).")),
    "labels_onehot": ("labels", N_(
        "Your output has shape {actual}, one-hot rows, but {expected} class labels were expected: return the "
        "index of each row's 1, np.argmax(rows, axis=1).")),
    "labels_scores": ("labels", N_(
        "Your output has shape {actual}, one score per class and example, but {expected} class labels were "
        "expected: return the index of each row's largest score, np.argmax(scores, axis=1).")),
    "scale": ("scale", N_(
        "Your output is off by a factor of {factor}: check the constant factors in your formula.")),
    "scale_2": ("scale", N_(
        "Your output is off by a factor of {factor}: a typical derivative mistake. The derivative of "
        "x² is 2x, but a ½ in front of a squared error cancels that 2.")),
    "scale_half": ("scale", N_(
        "Your output is off by a factor of {factor}: a typical derivative mistake. You probably "
        "dropped the 2 from the derivative of a square (d/dx x² = 2x).")),
    "zero": ("zero", N_(
        "Your output is all zeros: the function probably still returns a placeholder such as "
        "np.zeros, or never writes its result.")),
    "offset": ("offset", N_(
        "Your output is shifted by a constant {offset}: a term added to every element is missing or "
        "extra (for example a bias, or the log-sum-exp term).")),
}

_RTOL, _ATOL = (10 * t for t in tolerance_for(np.float32))
_SAMPLE = 1_000_000  # flat checks look at most this many elements; patterns are global, not local


def _hint(key: str, **fields) -> Hint:
    code, text = HINTS[key]
    return Hint(code, _(text).format(**fields))


def diagnose(
    actual,
    expected,
    *,
    batch_size: int | None = None,
    axis_hint: int | None = None,
    comparison: Comparison | None = None,
) -> Hint | None:
    """The most specific hint for a failed comparison of `actual` with `expected`, or None."""
    try:
        return _diagnose(actual, expected, batch_size, axis_hint, comparison)
    except Exception:  # a hint is a courtesy: a bug here must not turn a graded failure into an error
        return None


def _diagnose(actual, expected, batch_size, axis_hint, comparison):
    if comparison is not None and comparison.reason == "nonfinite":
        return _hint("nonfinite")
    e = np.asarray(expected, dtype=np.float64)
    a, _why = coerce(actual)
    if a is None or a.dtype.kind == "c":
        return None
    a = a.astype(np.float64, copy=False)
    if not shapes_equivalent(a.shape, e.shape):
        return _shape_hint(a, e)
    a = a.reshape(e.shape)
    fin_e = np.isfinite(e)
    if not fin_e.all():
        return None  # patterns below assume a finite reference
    if not np.isfinite(a).all():
        return _hint("nonfinite")
    mag = float(np.abs(e).max()) if e.size else 0.0
    if mag == 0.0:
        return None
    if float(np.abs(a).max()) <= _ATOL * mag:
        return _hint("zero")

    af, ef = _sample(a), _sample(e)
    if _close(af, ef):
        return None  # right but for a few elements: nothing structural to say
    if batch_size and batch_size > 1:
        if _close(af, batch_size * ef):
            return _hint("batch_sum", n=batch_size)
        if _close(af, ef / batch_size):
            return _hint("batch_twice", n=batch_size)
    if _close(af, -ef):
        return _hint("sign_flip")
    if e.ndim == 2 and e.shape[0] == e.shape[1] > 1 and _close(a.T, e):
        return _hint("transposed")
    hint = _axis_hint(a, e, axis_hint)
    if hint:
        return hint
    return _scale_hint(af, ef) or _offset_hint(af, ef)


def _sample(x: np.ndarray) -> np.ndarray:
    flat = x.ravel()
    return flat[:: -(-flat.size // _SAMPLE)] if flat.size > _SAMPLE else flat


def _close(a: np.ndarray, target: np.ndarray) -> bool:
    """a ≈ target within 10x float32's tolerance, on all but 5% of target's significant elements."""
    mag = float(np.abs(target).max()) if target.size else 0.0
    with np.errstate(all="ignore"):
        bad = ~(np.abs(a - target) <= _ATOL * mag + _RTOL * np.abs(target))
    allowed = int(np.count_nonzero(np.abs(target) > 1e-3 * mag)) // 20
    return int(np.count_nonzero(bad)) <= allowed


def _labels_hint(a: np.ndarray, e: np.ndarray) -> Hint | None:
    """Class labels (N,) expected, a row per example (N, C) returned: probabilities, one-hot or scores."""
    if not (e.ndim == 1 and a.ndim == 2 and a.shape[0] == e.shape[0] and a.shape[1] > 1 and e.size
            and np.all(e == np.round(e)) and e.min() >= 0 and np.isfinite(a).all()):
        return None
    shapes = dict(actual=tuple(a.shape), expected=tuple(e.shape))
    rows_sum_to_one = a.min() >= 0 and np.allclose(a.sum(axis=1), 1.0, atol=1e-4)
    if rows_sum_to_one and np.all((a == 0) | (a == 1)):
        return _hint("labels_onehot", **shapes)
    if rows_sum_to_one:
        return _hint("labels_probabilities", **shapes)
    return _hint("labels_scores", **shapes) if e.max() < a.shape[1] else None


def _shape_hint(a: np.ndarray, e: np.ndarray) -> Hint | None:
    sa, se = tuple(a.shape), tuple(e.shape)
    shapes = dict(actual=sa, expected=se)
    labels = _labels_hint(a, e)
    if labels is not None:
        return labels
    if a.ndim == 2 and e.ndim == 2 and sa == se[::-1]:
        return _hint("transposed" if np.isfinite(a).all() and _close(a.T, e) else "transposed_shape", **shapes)
    if a.size == 1 and e.size > 1:
        return _hint("reduced_all", **shapes)
    if e.size == 1 and a.size > 1:
        return _hint("not_reduced", **shapes)
    ta, te = strip_leading_ones(sa), strip_leading_ones(se)
    if tuple(s for s in ta if s != 1) == tuple(s for s in te if s != 1):
        return _hint("keepdims", **shapes)  # (N, 1) for (N,): same axes but for a singleton one
    ones_a = {i for i, s in enumerate(sa) if s == 1}
    ones_e = {i for i, s in enumerate(se) if s == 1}
    if (
        len(ta) == len(te) == 1  # (D,) for (N,)
        or (a.ndim == e.ndim and ones_a and ones_e and ones_a != ones_e)  # keepdims over another axis
        or _drops_one_axis(te, ta)  # reduced an axis that should stay
        or _drops_one_axis(ta, te)  # forgot a reduction
    ):
        return _hint("wrong_axis", **shapes)
    return None


def _drops_one_axis(longer: tuple, shorter: tuple) -> bool:
    return len(longer) == len(shorter) + 1 and any(longer[:k] + longer[k + 1:] == shorter for k in range(len(longer)))


def _axis_hint(a: np.ndarray, e: np.ndarray, axis_hint: int | None) -> Hint | None:
    """Same-shape output normalized along the wrong axis (softmax, log-softmax, centering)."""
    if e.ndim < 2:
        return None
    for kind in ("prob", "logprob", "centered"):
        got = _normalized_axes(a, kind)
        if not got:
            continue
        want = {axis_hint % e.ndim} if axis_hint is not None else _normalized_axes(e, kind)
        if want and not (want & got):
            return _hint("normalized_axis", actual_axis=min(got), expected_axis=min(want))
    return None


def _normalized_axes(x: np.ndarray, kind: str) -> set[int]:
    """Axes along which x sums to 1 (prob), exp(x) sums to 1 (logprob) or x has mean 0 (centered)."""
    with np.errstate(all="ignore"):
        if kind == "prob":
            if x.min() < -1e-6:
                return set()
        elif kind == "logprob":
            if x.max() > 1e-6:
                return set()
            x = np.exp(x)
        mag = float(np.abs(x).max())
        axes = set()
        for axis in range(x.ndim):
            if x.shape[axis] < 2:
                continue
            if kind == "centered":
                off, tol = np.abs(x.mean(axis=axis)), 1e-4 * mag
            else:
                off, tol = np.abs(x.sum(axis=axis) - 1.0), 1e-4
            if mag > 0 and np.mean(off <= tol) >= 0.95:
                axes.add(axis)
        return axes


def _scale_hint(a: np.ndarray, e: np.ndarray) -> Hint | None:
    sig = np.abs(e) > 1e-3 * np.abs(e).max()
    with np.errstate(all="ignore"):  # a huge wrong output overflows the ratio: inf, then no hint
        c = float(np.median(a[sig] / e[sig]))
    if not np.isfinite(c) or abs(c - 1.0) < 1e-3 or abs(c) < 1e-12 or not _close(a, c * e):
        return None
    for typical, key in ((2.0, "scale_2"), (0.5, "scale_half")):
        if abs(c - typical) <= 1e-3 * typical:
            return _hint(key, factor=f"{c:.2f}")
    # Any scalar is some multiple of another: a general factor needs several elements to mean something.
    if np.count_nonzero(sig) < 4:
        return None
    return _hint("scale", factor=f"{c:.3g}" if abs(c) < 0.01 or abs(c) >= 1000 else f"{c:.2f}")


def _offset_hint(a: np.ndarray, e: np.ndarray) -> Hint | None:
    if a.size < 4:  # any error of a scalar is an offset
        return None
    with np.errstate(all="ignore"):
        c = float(np.median(a - e))
    if not np.isfinite(c) or abs(c) <= _ATOL * float(np.abs(e).max()) or not _close(a, e + c):
        return None
    return _hint("offset", offset=f"{c:.3g}")
