"""Fuzzing everything the grader accepts from the student's process, from raw bytes to verdicts.

A hostile child controls every byte it sends: the framing, the JSON header (dtypes, shapes, value trees,
error reports) and the numbers themselves. Whatever arrives, the grader answers with a clean verdict:
a ProtocolError for a bad stream, a failed Comparison for a bad value, never another exception, and
never more memory than the limits allow. (test_wire.py covers round trips and named violations.)
"""
from __future__ import annotations

import io
import json
import struct
import tracemalloc
from types import SimpleNamespace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.checks.base import compare_output
from grader.sandbox import wire
from grader.sandbox.session import ErrorInfo, Sandbox
from grader.sandbox.wire import Handle, Opaque, ProtocolError, WireLimits

LIMITS = WireLimits(max_elements=20_000, max_header_bytes=1 << 16, max_list_len=1_000, max_arrays=50)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# dtype strings a child could put in a header: the whitelist and everything numpy would also understand
DTYPE_STRINGS = ["|b1", "|i1", "<i8", ">f8", "<f4", "<f2", "|u1", ">u8", "|O", "O", "|V8", "<c16", "<M8[s]",
                 "<m8[ns]", "<U4", "|S3", "<f16", "[('a', '<f8')]", "f8", "float64", "int", "<i8 ", "", None, 8,
                 ["<f8"], {"descr": "<f8"}]
SHAPES = st.one_of(
    st.lists(st.integers(0, 4), max_size=3),
    st.lists(st.sampled_from([0, 1, 2**31, 2**40, 2**62, 2**63, 10**30, -1]), min_size=1, max_size=4),
    st.lists(st.sampled_from([1.5, "3", None, [2], True]), min_size=1, max_size=2),
    st.just([1] * 9), st.none(), st.just("(2, 3)"), st.integers())


def frame(header, payload: bytes = b"", length: int | None = None) -> io.BytesIO:
    data = header if isinstance(header, bytes) else json.dumps(header).encode()
    return io.BytesIO(struct.pack(">4sQ", b"GRD1", len(data) if length is None else length) + data + payload)


def read_bounded(stream: io.BytesIO, limits: WireLimits = LIMITS):
    """read_message, asserting it allocates no more than its element limit allows."""
    tracemalloc.start()
    try:
        try:
            result = wire.read_message(stream, limits)
        except ProtocolError:
            result = None
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < limits.max_elements * 8 * 2 + 4 * limits.max_header_bytes + (4 << 20), peak
    return result


def allowed_values(tree) -> bool:
    """Everything read_message decodes to is one of the plain kinds the checks expect."""
    if tree is None or isinstance(tree, (bool, int, float, str, Opaque, Handle)):
        return True
    if isinstance(tree, (np.ndarray, np.generic)):
        return wire.dtype_allowed(tree.dtype) and (not isinstance(tree, np.ndarray) or tree.ndim <= 8)
    if isinstance(tree, (list, tuple)):
        return all(allowed_values(x) for x in tree)
    if isinstance(tree, dict):
        return all(isinstance(k, (str, int)) and allowed_values(v) for k, v in tree.items())
    return False


# ------------------------------------------------------------------------------------ bytes -> values

@FUZZ
@given(st.lists(st.fixed_dictionaries({"dtype": st.sampled_from(DTYPE_STRINGS), "shape": SHAPES},
                                      optional={"nbytes": st.integers(-1, 2**64)}), max_size=4),
       st.binary(max_size=512), st.integers(0, 3))
def test_any_declared_dtype_and_shape_is_refused_or_allocated_within_limits(arrays, payload, pick):
    values = {"v": {"__t": "nd", "i": pick, "s": pick % 2 == 0}, "w": [{"__t": "nd", "i": 0}]}
    out = read_bounded(frame({"ok": True, "arrays": arrays, "values": values}, payload))
    if out is not None:
        assert allowed_values(out[1])


@FUZZ
@given(st.data())
def test_truncated_or_corrupted_valid_messages(data):
    a = data.draw(hnp.arrays(st.sampled_from([np.float64, np.float32, np.int64, np.bool_]),
                             hnp.array_shapes(min_dims=0, max_dims=3, max_side=5)))
    buffers = wire.encode({"ok": True, "seq": 1}, {"value": a, "args_after": [a, (1.5, "x")]}, limits=LIMITS)
    raw = bytearray(b"".join(bytes(memoryview(b).cast("B")) for b in buffers))
    cut = data.draw(st.integers(0, len(raw)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, max(0, len(raw) - 1)), st.integers(0, 255)), max_size=4))
    for i, byte in flips:
        if raw:
            raw[i] = byte
    out = read_bounded(io.BytesIO(bytes(raw[:cut]) if data.draw(st.booleans()) else bytes(raw)))
    if out is not None:
        assert allowed_values(out[1])


weird_scalars = st.sampled_from([np.nan, np.inf, -np.inf, 5e-324, -5e-324, 2.2250738585072014e-308, 1e308, -0.0,
                                 2**63, -(2**64) + 1, 10**40, True])


@FUZZ
@given(st.recursive(st.none() | st.booleans() | weird_scalars | st.integers() | st.floats() | st.text(max_size=4)
                    | st.binary(max_size=4) | st.just(object()) | st.just(Ellipsis),
                    lambda c: st.lists(c, max_size=3) | st.tuples(c, c) | st.dictionaries(
                        st.text(max_size=3) | st.integers() | st.floats(), c, max_size=2)
                    | st.frozensets(st.integers(), max_size=2), max_leaves=10))
def test_whatever_the_child_returns_is_encoded_or_made_opaque(value):
    """The child's own encoder never fails on a student value; the parent decodes only plain kinds."""
    buffers = wire.encode({"ok": True}, {"value": value}, limits=LIMITS)
    out = read_bounded(io.BytesIO(b"".join(bytes(memoryview(b).cast("B")) for b in buffers)))
    assert out is not None and allowed_values(out[1])


@FUZZ
@given(st.one_of(
    hnp.arrays(hnp.scalar_dtypes() | hnp.unicode_string_dtypes() | hnp.byte_string_dtypes(),
               hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)),
    hnp.arrays(st.just(np.dtype([("a", "<f8"), ("b", "<i4")])), hnp.array_shapes(max_dims=2, max_side=3)),
    hnp.arrays(st.just(np.dtype(object)), hnp.array_shapes(max_dims=2, max_side=3), elements=st.integers()),
    st.just(np.zeros((2, 0, 3))), st.just(np.float64(np.nan)), st.just(np.datetime64("2024-01-01"))))
def test_arrays_of_any_dtype_travel_or_become_opaque(a):
    buffers = wire.encode({"ok": True}, {"value": a}, limits=LIMITS)
    header, values = read_bounded(io.BytesIO(b"".join(bytes(memoryview(b).cast("B")) for b in buffers)))
    got = values["value"]
    if wire.dtype_allowed(np.asarray(a).dtype):
        assert np.asarray(got).dtype == np.asarray(a).dtype and np.shape(got) == np.shape(a)
    else:
        assert isinstance(got, Opaque)


# ----------------------------------------------------------------------------------- values -> verdicts

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=True)
specials = st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True, width=64)
numeric_dtypes = st.sampled_from(["<f8", ">f8", "<f4", "<f2", "<i8", "|i1", "<u2", "|b1"])


def _in_dtype(x: float, dtype: str) -> float:
    with np.errstate(over="ignore"):  # 1e300 as float16 is inf: a value a child may well send
        return np.array(x).astype(dtype).item()


def student_values(shape):
    """What decoding can yield: arrays of every whitelisted dtype and shape, scalars, junk."""
    arrays = numeric_dtypes.flatmap(lambda dt: hnp.arrays(
        np.dtype(dt), st.one_of(st.just(shape), hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                                st.just(shape[::-1]), st.just((1, *shape)), st.just((int(np.prod(shape)),))),
        elements=None if dt[-2] not in "f" else specials.map(lambda x: _in_dtype(x, dt))))
    return st.one_of(arrays, st.none(), st.booleans(), specials, st.integers(-(2**64) + 1, 2**64 - 1),
                     st.text(max_size=3), st.builds(Opaque, st.text(max_size=8), st.text(max_size=8)),
                     st.builds(Handle, st.integers(0, 2**40)), st.lists(finite, max_size=4),
                     st.lists(st.lists(finite, max_size=3), max_size=3), st.tuples(finite, st.none()),
                     st.dictionaries(st.text(max_size=2), finite, max_size=2))


@FUZZ
@given(st.data(), hnp.array_shapes(min_dims=0, max_dims=3, max_side=5),
       st.sampled_from([None, 2, 5]), st.sampled_from([None, 0, 1, -1]), st.booleans())
def test_any_decoded_value_gets_a_clean_verdict(data, shape, batch_size, axis, exact):
    expected = data.draw(hnp.arrays(np.float64, shape, elements=finite | specials if data.draw(st.booleans())
                                    else finite))
    actual = data.draw(student_values(shape))
    passed, message, comparison, hint = compare_output(actual, expected, output="out", exact=exact,
                                                       batch_size=batch_size, unit=SimpleNamespace(axis=axis))
    assert isinstance(passed, bool) and passed == comparison.passed and isinstance(comparison.message, str)
    if passed:  # a pass is only ever given to numbers close to the reference, element by element
        a = np.asarray(actual, dtype=np.float64).reshape(expected.shape)
        with np.errstate(invalid="ignore"):
            close = np.isclose(a, expected, rtol=1e-2, atol=1e-2 * max(1.0, float(np.nanmax(np.abs(
                np.where(np.isfinite(expected), expected, 0)), initial=0.0)))) | (a == expected)
        assert close.all()
    else:
        assert message and (hint is None or hint.text)


@FUZZ
@given(hnp.array_shapes(min_dims=1, max_dims=2, min_side=1, max_side=6))
def test_the_reference_itself_passes_in_every_whitelisted_dtype(shape):
    expected = np.linspace(-3, 3, int(np.prod(shape))).reshape(shape)
    for dtype in ("<f8", ">f8", "<f4"):
        assert compare_output(expected.astype(dtype), expected, output="out")[0]
    assert not compare_output(expected + 1.0, expected, output="out")[0]


@FUZZ
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(
                        ["type", "message", "category", "traceback", "file", "line"]), c, max_size=6),
                    max_leaves=8))
def test_any_error_report_from_the_child_becomes_a_plain_error(err):
    info = Sandbox._reply_error(SimpleNamespace(), err, "f()")
    assert isinstance(info, ErrorInfo) and isinstance(info.message, str) and info.message
    assert info.line is None or type(info.line) is int


def test_huge_declared_arrays_are_refused_before_allocation():
    for shape in ([2**40], [2**20, 2**20], [LIMITS.max_elements + 1], [LIMITS.max_elements, 2]):
        header = {"arrays": [{"dtype": "<f8", "shape": shape}], "values": {"v": {"__t": "nd", "i": 0}}}
        assert read_bounded(frame(header)) is None
