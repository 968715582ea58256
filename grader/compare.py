"""The one comparison core, modelled on torch.testing.assert_close.

Every check compares a student's output with the reference here, so that tolerances, shape rules and
messages are the same everywhere. Nothing in this module may raise on what a student returned: the
student controls `actual`, the grader controls `expected` and the keyword arguments.
"""
from __future__ import annotations

import math

import numpy as np

from grader.i18n import _
from grader.results import Comparison
from grader.sandbox.wire import Opaque

# (rtol, atol) of torch.testing.assert_close.
_FLOAT64_TOL = (1e-7, 1e-7)
_FLOAT32_TOL = (1.3e-6, 1e-5)
# dtypes at least as precise as float64 get float64's tolerance; everything else float32's, because a
# student computing in float16/bfloat16/int must not be graded more leniently than one using float32.
_TIGHT = {"float64", "double", "complex128", "cdouble", "longdouble", "float128", "complex256", "clongdouble"}

_MAX_ROWS = 5  # worst elements listed in the report's table
_MAP_SIZE = 64  # heat map cells per side


def tolerance_for(dtype) -> tuple[float, float]:
    """(rtol, atol) for results computed in `dtype` (numpy dtype, type, name, or a torch dtype)."""
    try:
        name = np.dtype(dtype).name
    except Exception:  # bfloat16, torch.float64 (no torch import here: compare by name)
        name = str(dtype).rsplit(".", 1)[-1]
    return _FLOAT64_TOL if name in _TIGHT else _FLOAT32_TOL


def coerce(actual) -> tuple[np.ndarray | None, str]:
    """A student's value as a numeric (or complex) ndarray, else (None, what it was). Never raises."""
    if actual is None or isinstance(actual, (str, bytes, dict, set)):
        return None, type(actual).__name__
    if isinstance(actual, Opaque):  # what the child could not send: name the student's type, not ours
        return None, f"{actual.type.removeprefix('builtins.')} ({actual.repr})"
    try:
        arr = np.asarray(actual)
    except Exception:  # ragged lists, objects whose __array__ raises
        kind = type(actual).__name__
        return None, _("{kind} (not a rectangular array of numbers)").format(kind=kind) if isinstance(
            actual, (list, tuple)) else kind
    if arr.dtype.kind in "biufc":
        return arr, ""
    if isinstance(actual, np.ndarray):
        return None, _("an array of dtype {dtype}").format(dtype=arr.dtype)
    if isinstance(actual, (list, tuple)):
        return None, _("{kind} (not an array of numbers)").format(kind=type(actual).__name__)
    if isinstance(actual, int):  # beyond int64/uint64: numpy keeps it as an object
        return None, _("an integer too large for an array")
    return None, type(actual).__name__


def strip_leading_ones(shape) -> tuple[int, ...]:
    shape = tuple(int(s) for s in shape)
    i = 0
    while i < len(shape) and shape[i] == 1:
        i += 1
    return shape[i:]


def shapes_equivalent(a, b) -> bool:
    """Shapes that differ only by leading 1s broadcast identically: (1, n) ~ (n,), (1, 1) ~ ()."""
    return strip_leading_ones(a) == strip_leading_ones(b)


def _num(x: float) -> str:
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    return f"{x:.4g}"


def _unravel(i: int, shape) -> tuple[int, ...]:
    return tuple(int(k) for k in np.unravel_index(int(i), shape))


def _describe_expected(shape) -> str:
    return _("a number (shape ())") if shape == () else _("an array of shape {shape}").format(shape=shape)


def _pool_max(m: np.ndarray) -> np.ndarray:
    """Max-pool a 2-D map down to at most _MAP_SIZE per side, so one bad element stays visible."""
    for axis in (0, 1):
        n = m.shape[axis]
        if n > _MAP_SIZE:
            m = np.maximum.reduceat(m, np.arange(0, n, math.ceil(n / _MAP_SIZE)), axis=axis)
    return m


def compare(
    actual,
    expected,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    scale="expected",
    terms=None,
    slack=None,
    label: str = "output",
    exact: bool = False,
    equal_nan: bool = False,
    heatmap: bool = True,
    brief: bool = False,
) -> Comparison:
    """Compare a student's `actual` with the reference `expected` (float64).

    An element passes iff |actual - expected| <= atol * T + rtol * |expected| + slack, with rtol and
    atol torch.testing's for actual's dtype (or the caller's), and T the element's scale:

    - `terms` given (the checks give it: grader/terms.py): T = max(terms, |expected|) per element, the
      magnitude of the terms that form the element. A correct computation in any reasonable order
      (another association, a Jacobian product instead of a fused kernel, float32) differs from the
      reference by roundings of those terms, not of the result: where terms of size 1 cancel to 1e-47
      every order leaves a leftover near 1e-16, and where the terms are as small as the result the
      tolerance stays as tight as the result. Scaling by the largest output instead fails the first
      (a saturated softmax's gradient is all rounding leftovers) and is loose on the second.
    - otherwise T = max|expected| (scale="expected"), `scale` (a number) or 1 (scale=None).

    T never goes below the student's dtype's smallest normal number divided by its epsilon, where
    underflow (a probability of 1e-60 flushed to 0 in float32) is rounding too. `slack` is an absolute
    allowance for a documented freedom (log(p + 1e-8) in a loss). exact=True requires equality.
    NaN and Inf pass only where the reference has the same (NaN with equal_nan).

    brief=True: when every element passes, return at once, without the statistics a message gives (for a
    caller that only asks whether it passed: an optimizer's trajectory compares thousands of values).
    """
    e = np.asarray(expected, dtype=np.float64)
    shape_e = tuple(int(s) for s in e.shape)
    a, got = coerce(actual)
    if a is None:
        return Comparison(False, "type", _("{label}: expected {what}, got {got}").format(
                              label=label, what=_describe_expected(shape_e), got=got),
                          expected_shape=shape_e)
    info = dict(expected_shape=shape_e, actual_shape=tuple(int(s) for s in a.shape), actual_dtype=str(a.dtype))
    if a.dtype.kind == "c":
        return Comparison(False, "dtype", _("{label}: expected real numbers, got complex values ({dtype})").format(
            label=label, dtype=a.dtype), **info)
    if not shapes_equivalent(a.shape, shape_e):
        return Comparison(False, "shape", _("{label}: expected shape {expected}, got shape {actual}").format(
                              label=label, expected=shape_e, actual=info["actual_shape"]),
                          **info)

    if exact:
        rtol = atol = 0.0
    else:
        d_rtol, d_atol = tolerance_for(a.dtype)
        rtol = d_rtol if rtol is None else float(rtol)
        atol = d_atol if atol is None else float(atol)
    n = int(e.size)
    if n == 0:
        return Comparison(True, "ok", _("{label}: empty, as expected").format(label=label), rtol=rtol, atol=atol,
                          n_mismatched=0, n_total=0, **info)

    with np.errstate(all="ignore"):
        af = a.astype(np.float64, copy=False).reshape(shape_e)
        abs_e = np.abs(e)
        fin_a, fin_e = np.isfinite(af), np.isfinite(e)
        all_finite = bool(fin_a.all() and fin_e.all())
        atol_eff = atol * _scale(abs_e, fin_e, a.dtype, scale, terms, exact)
        if slack is not None and not exact:
            atol_eff = atol_eff + np.broadcast_to(np.abs(np.asarray(slack, dtype=np.float64)), shape_e)

        diff = np.abs(af - e)
        tol = atol_eff + rtol * abs_e
        close = diff <= tol
        excess = diff - tol  # > 0 exactly where mismatched; the worst element has the largest
        n_nonfinite = 0
        if not all_finite:
            # Where either side is NaN/Inf only equality counts (matching infinities, NaN with equal_nan).
            special = ~(fin_a & fin_e)
            same = af == e
            if equal_nan:
                same |= np.isnan(af) & np.isnan(e)
            close = np.where(special, same, close)
            excess = np.where(special, np.where(same, -np.inf, np.inf), excess)
            diff = np.where(special, np.where(same, 0.0, np.inf), diff)
            bad_nonfinite = ~fin_a & fin_e
            n_nonfinite = int(np.count_nonzero(bad_nonfinite))

        n_mis = n - int(np.count_nonzero(close))
        passed = n_mis == 0
        if passed and brief:
            return Comparison(True, "ok", "", rtol=float(rtol), atol=atol, n_mismatched=0, n_total=n, **info)

        # Statistics over the failing elements (all of them when none fails), finite ones only: what the
        # message points at must be an element that is off, and a NaN is stated, never subtracted.
        pool = (~close if n_mis else np.ones(shape_e, bool)) & fin_a & fin_e
        masked_diff = np.where(pool, diff, -1.0)
        i_abs = int(np.argmax(masked_diff))
        max_abs = float(max(masked_diff.flat[i_abs], 0.0)) if pool.any() else None
        nonzero = pool & (abs_e > 0)
        if nonzero.any():
            rel = np.divide(diff, abs_e, out=np.full(e.shape, -1.0), where=nonzero)
            i_rel = int(np.argmax(rel))
            max_rel = float(rel.flat[i_rel])
        else:  # the reference is 0 wherever the student is off: a relative error is not defined
            i_rel, max_rel = i_abs, None

        if n_nonfinite:
            i_worst = int(np.argmax(bad_nonfinite))  # the first NaN/Inf, in C order
        else:
            i_worst = int(np.argmax(excess))
        k = min(_MAX_ROWS, n_mis if n_mis else n)
        top = np.argpartition(-excess.ravel(), k - 1)[:k] if k < n else np.arange(n)
        top = top[np.argsort(-excess.ravel()[top], kind="stable")]
        rows = [(_unravel(i, shape_e), float(e.flat[i]), float(af.flat[i]), float(diff.flat[i])) for i in top]

        error_map = None
        if heatmap and not passed and e.ndim == 2 and min(shape_e) > 1:
            error_map = _pool_max(diff)

    worst = _unravel(i_worst, shape_e)
    e_w, a_w = float(e.flat[i_worst]), float(af.flat[i_worst])
    allowed_w = float(np.broadcast_to(atol_eff, shape_e).flat[i_worst])
    allowed_abs = float(np.broadcast_to(atol_eff, shape_e).flat[i_abs]) + rtol * float(abs_e.flat[i_abs])
    if n_nonfinite:
        reason = "nonfinite"
        message = _("{label}: {bad} / {n} elements are NaN or Inf where the reference is finite; the first is at "
                    "index {index} (got {got}, expected {expected}).").format(
            label=label, bad=n_nonfinite, n=n, index=worst, got=_num(a_w), expected=_num(e_w))
    elif passed:
        reason = "ok"
        message = (_("{label}: all {n} elements equal").format(label=label, n=n) if exact else
                   _("{label}: all {n} elements within tolerance (greatest absolute difference {diff})").format(
                       label=label, n=n, diff=_num(max_abs or 0.0)))
    else:
        reason = "values"
        if e.ndim == 0:
            message = _("{label}: expected {expected} but got {got}").format(label=label, expected=_num(e_w),
                                                                             got=_num(a_w))
        else:
            message = _("{label}: Mismatched elements: {bad} / {n} ({percent}).").format(
                label=label, bad=n_mis, n=n, percent=f"{n_mis / n:.1%}")
        if exact:
            if e.ndim:
                message += " " + _("At index {index}: expected {expected}, got {got}").format(
                    index=worst, expected=_num(e_w), got=_num(a_w))
            message += " " + _("(exact match required).")
        elif max_abs is None:  # only non-finite elements are off
            message += " " + _("At index {index}: expected {expected}, got {got}.").format(
                index=worst, expected=_num(e_w), got=_num(a_w))
        elif e.ndim == 0:
            message += ". " + _("Absolute difference: {abs} (up to {atol} allowed). Relative difference: {rel}"
                                ".").format(abs=_num(max_abs), atol=_num(allowed_abs), rel=_rel(max_rel))
        else:
            message += " " + _("Greatest absolute difference: {abs} at index {abs_index} (up to {atol} allowed "
                               "there). Greatest relative difference: {rel}.").format(
                abs=_num(max_abs), abs_index=_unravel(i_abs, shape_e), atol=_num(allowed_abs),
                rel=_rel(max_rel, _unravel(i_rel, shape_e)))

    return Comparison(
        passed=passed, reason=reason, message=message, rtol=float(rtol), atol=allowed_w,
        max_abs_error=max_abs, max_rel_error=max_rel, worst_index=worst,
        expected_at_worst=e_w, actual_at_worst=a_w, n_mismatched=n_mis, n_total=n,
        worst_rows=rows, error_map=error_map, **info,
    )


def within(actual, expected, *, rtol: float, atol: float, terms=None) -> np.ndarray:
    """Elementwise: does each element of `actual` pass compare's rule (NaN and Inf only where equal)?
    For callers that need where a sequence first leaves the reference (a training curve)."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.broadcast_to(np.asarray(expected, dtype=np.float64), a.shape)
    with np.errstate(all="ignore"):
        abs_e = np.abs(e)
        allowed = atol * _scale(abs_e, np.isfinite(e), np.float64, "expected", terms, False) + rtol * abs_e
        finite = np.isfinite(a) & np.isfinite(e)
        return np.where(finite, np.abs(a - e) <= allowed, a == e)


def _scale(abs_e: np.ndarray, fin_e: np.ndarray, dtype, scale, terms, exact: bool):
    """T of compare's rule: per element from `terms`, else one number (see compare)."""
    if exact:
        return 1.0
    if terms is not None:
        t = np.broadcast_to(np.abs(np.asarray(terms, dtype=np.float64)), abs_e.shape)
        t = np.where(np.isfinite(t), np.maximum(t, abs_e), abs_e)
        t = np.where(fin_e, t, 0.0)
        info = np.finfo(np.float64 if tolerance_for(dtype) == _FLOAT64_TOL else np.float32)
        return np.maximum(t, float(info.tiny) / float(info.eps))
    if isinstance(scale, str):
        if scale != "expected":
            raise ValueError(f"scale must be 'expected', a number or None, not {scale!r}")
        finite = abs_e[fin_e]
        magnitude = float(finite.max()) if finite.size else 0.0
        return magnitude if magnitude > 0 else 1.0
    return 1.0 if scale is None else float(scale)


def _rel(value: float | None, index=None) -> str:
    if value is None:
        return _("not defined (the expected value is 0 wherever you are off)")
    if index is None:
        return _num(value)
    return _("{rel} at index {index}").format(rel=_num(value), index=index)
