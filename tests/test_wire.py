"""The framing between grader and student process: round trips, and hostile bytes from the child."""
import io
import json
import math
import os
import struct
import threading
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.sandbox import wire
from grader.sandbox.wire import EndOfStream, Handle, Opaque, ProtocolError, WireLimits

ALLOWED = ["?", "i1", "u1", "<i2", ">i2", "<u2", "<i4", ">u4", "<i8", ">i8", "<u8", "<f2", "<f4", ">f4", "<f8", ">f8"]


def roundtrip(values, limits=wire.DEFAULT_LIMITS, **kw):
    buf = io.BytesIO()
    wire.write_message(buf, {"op": "x"}, values, limits=limits, **kw)
    buf.seek(0)
    header, decoded = wire.read_message(buf, limits)
    assert header == {"op": "x"}
    assert buf.read() == b""  # consumed exactly
    return decoded


def frame(header, *payload: bytes, length=None) -> io.BytesIO:
    data = header if isinstance(header, bytes) else json.dumps(header).encode()
    return io.BytesIO(struct.pack(">4sQ", b"GRD1", len(data) if length is None else length) + data + b"".join(payload))


def same(a, b):
    if isinstance(a, np.ndarray) or isinstance(a, np.generic):
        assert type(a) is type(b) and a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        return
    assert type(a) is type(b), (a, b)
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same(a[k], b[k])
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


# ------------------------------------------------------------------------------ round trips


def test_every_plain_kind_round_trips():
    values = {
        "none": None, "bools": [True, False], "ints": [0, -5, 2**63, -(2**64) + 1, 2**64 - 1],
        "floats": [1.5, -0.0, float("inf"), float("-inf"), float("nan")], "strs": ["", "ünïcode ✓", "a\x00b"],
        "nested": [[1, [2, [3]]], (), [], {}], "tuple": (1, (2, "x"), [None]),
        "dict": {"a": 1, 2: "two", "nested": {"t": (1.0,)}}, "empty": {},
    }
    same(roundtrip(values), values)


@pytest.mark.parametrize("code", ALLOWED)
def test_arrays_of_every_allowed_dtype(code):
    a = (np.arange(24) % 7).astype(code).reshape(2, 3, 4)
    out = roundtrip({"a": a, "t": a.T, "col": a[:, 1, ::2], "z": np.empty((0, 3), code), "d0": a[0, 0, 1:2].reshape(())})
    for k, v in {"a": a, "t": a.T, "col": a[:, 1, ::2], "z": np.empty((0, 3), code)}.items():
        same(out[k], np.ascontiguousarray(v))
        assert out[k].flags.writeable
    assert out["d0"].shape == () and out["d0"].dtype == a.dtype


def test_numpy_scalars_keep_their_dtype():
    out = roundtrip({"v": [np.float32(1.5), np.int64(-3), np.bool_(True), np.float16(2), np.uint8(255)]})["v"]
    assert [type(x) for x in out] == [np.float32, np.int64, np.bool_, np.float16, np.uint8]
    assert out[0] == 1.5 and out[4] == 255


def test_same_array_twice_and_arrays_inside_containers():
    a = np.random.default_rng(0).standard_normal((5, 6))
    out = roundtrip({"v": (a, [a, {"k": a * 2}])})["v"]
    same(out[0], a)
    same(out[1][1]["k"], a * 2)


def test_untransferable_values_become_opaque():
    class Thing:
        def __repr__(self):
            return "T" * 1000

    class Angry:
        def __repr__(self):
            raise RuntimeError("no")

    out = roundtrip({
        "obj": Thing(), "angry": Angry(), "objarr": np.array([None, 1], dtype=object), "c": np.ones(2, complex),
        "s": np.array(["a"]), "rec": np.zeros(2, dtype=[("x", "<f8")]), "set": {1, 2}, "big": 2**70,
        "f128": np.ones(2, np.longdouble) if np.dtype(np.longdouble).itemsize > 8 else np.ones(2, complex),
        "fn": len, "tuplekey": {(1, 2): 3}, "cplx": 1j,
    })
    assert all(isinstance(v, Opaque) for v in out.values()), out
    assert out["obj"].type.endswith("Thing") and len(out["obj"].repr) <= 200
    assert out["angry"].repr.startswith("<")
    assert out["objarr"].type == "ndarray[dtype=object]"
    assert out["c"].type == "ndarray[dtype=complex128]"


def test_strict_encoding_refuses_untransferable_values():
    with pytest.raises(TypeError, match="cannot send"):
        wire.encode({}, {"x": object()}, strict=True)


def test_handles_and_kept_objects():
    kept = object()
    out = roundtrip({"h": Handle(7), "k": [kept, 3]}, ref_of=lambda o: 11 if o is kept else None)
    assert out == {"h": Handle(7), "k": [Handle(11), 3]}
    buf = io.BytesIO()
    wire.write_message(buf, {}, {"h": Handle(7)})
    buf.seek(0)
    assert wire.read_message(buf, ref=lambda i: f"object {i}")[1] == {"h": "object 7"}


def test_encoder_caps_depth_length_and_strings():
    limits = WireLimits(max_depth=4, max_list_len=10, max_str_len=5)
    deep = [[[[[[1]]]]]]
    out = roundtrip({"deep": deep, "long": list(range(11)), "s": "abcdefgh"}, limits)
    assert isinstance(out["deep"][0][0][0][0], Opaque)  # containers at depth 0..3, cut at 4
    assert isinstance(out["long"], Opaque)
    assert out["s"].startswith("abcde") and "truncated" in out["s"]
    cyclic = []
    cyclic.append(cyclic)
    assert isinstance(roundtrip({"c": cyclic})["c"][0][0][0][0], list)  # cut at the depth cap, no recursion error


def test_too_many_elements_become_opaque_when_encoding():
    out = roundtrip({"a": np.zeros(11), "b": np.zeros(3)}, WireLimits(max_elements=12))
    assert isinstance(out["a"], np.ndarray) and isinstance(out["b"], Opaque)


def test_header_too_large_to_encode():
    with pytest.raises(ProtocolError, match="exceeds"):
        wire.encode({}, {"x": "y" * 2000}, limits=WireLimits(max_header_bytes=1000))


def test_over_a_real_pipe_with_large_array():
    r, w = os.pipe()
    a = np.random.default_rng(1).standard_normal((1000, 1000))
    t = threading.Thread(target=wire.write_message, args=(w, {"op": "big"}, {"a": a, "b": a[::2, ::3]}))
    t.start()
    header, out = wire.read_message(r)
    t.join()
    os.close(w)
    same(out["a"], a)
    same(out["b"], np.ascontiguousarray(a[::2, ::3]))
    with pytest.raises(EndOfStream):
        wire.read_message(r)
    os.close(r)


def test_write_all_survives_partial_writes_and_a_full_pipe():
    """More buffers than one writev takes, into a small non-blocking pipe: every byte arrives, in order,
    and `when_full` is what makes room."""
    import fcntl
    r, w = os.pipe()
    fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)
    os.set_blocking(w, False)
    rng = np.random.default_rng(2)
    buffers = [rng.integers(0, 256, int(n), dtype=np.uint8) for n in rng.integers(0, 300, wire.IOV_MAX + 500)]
    buffers.append(rng.standard_normal(5000))  # larger than the pipe: written in pieces
    received, waits = bytearray(), []

    def when_full():
        waits.append(1)
        received.extend(os.read(r, 1 << 20))
    total = wire.write_all(w, buffers, when_full=when_full)
    os.close(w)
    while chunk := os.read(r, 1 << 20):
        received.extend(chunk)
    os.close(r)
    expected = b"".join(bytes(memoryview(b).cast("B")) for b in buffers)
    assert total == len(expected) and bytes(received) == expected
    assert waits  # the pipe did fill


def test_write_all_on_a_blocking_fd_needs_no_waiting():
    r, w = os.pipe()
    assert wire.write_all(w, [b"ab", b"", memoryview(b"cd")]) == 4
    os.close(w)
    assert os.read(r, 10) == b"abcd"
    os.close(r)


@settings(max_examples=60, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64) + 1, 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.lists(children, max_size=4).map(tuple)
    | st.dictionaries(st.text(max_size=5) | st.integers(-5, 5), children, max_size=4),
    max_leaves=20,
))
def test_hypothesis_plain_values_round_trip(value):
    same(roundtrip({"v": value})["v"], value)


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(st.sampled_from(ALLOWED).map(np.dtype), hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)))
def test_hypothesis_arrays_round_trip(a):
    same(roundtrip({"a": a})["a"], a)


# ------------------------------------------------------------------------------ hostile input


def read(stream, **kw):
    return wire.read_message(stream, WireLimits(**kw) if kw else wire.DEFAULT_LIMITS)


def test_bad_magic():
    with pytest.raises(ProtocolError, match="magic"):
        read(io.BytesIO(b"HTTP/1.1 200 OK\r\n\r\n"))


def test_empty_stream_is_end_of_stream_and_partial_prefix_is_truncated():
    with pytest.raises(EndOfStream):
        read(io.BytesIO(b""))
    with pytest.raises(ProtocolError, match="truncated"):
        read(io.BytesIO(b"GRD1\x00\x00"))


@pytest.mark.parametrize("length", [2**63, 2**64 - 1, (1 << 20) + 1])
def test_huge_header_length_rejected_before_reading(length):
    tracemalloc.start()
    try:
        with pytest.raises(ProtocolError, match="exceeds"):
            read(frame(b"{}", length=length))
        assert tracemalloc.get_traced_memory()[1] < 1 << 20
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("header", [b"\xff\xfe not utf8", b"{not json", b"[1, 2]", b"42", b'"str"', b"null"])
def test_header_must_be_a_json_object(header):
    with pytest.raises(ProtocolError):
        read(frame(header))


@pytest.mark.parametrize("dtype", ["|O", "object", "O", "<c16", "<U5", "|V8", "<f16", "<M8[ns]", "=f8", "float64",
                                   "<f8,<i4", 3, None, ["<f8"], {"names": ["a"], "formats": ["O"]}])
def test_unknown_dtypes_rejected(dtype):
    with pytest.raises(ProtocolError, match="dtype"):
        read(frame({"arrays": [{"dtype": dtype, "shape": [1]}]}, b"\x00" * 64))


@pytest.mark.parametrize("shape", [[-1], [3, -2], [10**12], [2**64], [1.5], [True], ["3"], [None], "34", 3, None,
                                   [1] * 9, [50_000_001]])
def test_bad_shapes_rejected(shape):
    with pytest.raises(ProtocolError):
        read(frame({"arrays": [{"dtype": "<f8", "shape": shape}]}, b"\x00" * 64))


def test_element_count_checked_before_allocating():
    tracemalloc.start()
    try:
        for shape in ([10**7, 10**7], [50_000_000, 2], [8000, 8000], [0, 10**8]):
            with pytest.raises(ProtocolError, match="elements|dimension"):
                read(frame({"arrays": [{"dtype": "<f8", "shape": shape}]}), max_elements=10**7)
        # the cap is over the whole message, not per array
        specs = [{"dtype": "<f8", "shape": [6_000_000]}] * 2
        with pytest.raises(ProtocolError, match="elements"):
            read(frame({"arrays": specs}), max_elements=10**7)
        assert tracemalloc.get_traced_memory()[1] < 4 << 20
    finally:
        tracemalloc.stop()


def test_byte_count_mismatch_and_truncated_payload():
    with pytest.raises(ProtocolError, match="nbytes"):
        read(frame({"arrays": [{"dtype": "<f8", "shape": [3], "nbytes": 16}]}, b"\x00" * 24))
    with pytest.raises(ProtocolError, match="truncated"):
        read(frame({"arrays": [{"dtype": "<f8", "shape": [3]}]}, b"\x00" * 16))
    with pytest.raises(ProtocolError, match="truncated"):
        read(frame(b'{"op": "call"}', length=100))


def test_value_tree_violations():
    ok_array = {"arrays": [{"dtype": "<i4", "shape": [1]}]}
    bad_values = [
        {"__t": "nd", "i": 1}, {"__t": "nd", "i": -1}, {"__t": "nd", "i": "0"}, {"__t": "nd"},
        {"__t": "pickle", "v": "gASV"}, {"plain": "object"}, {"__t": "dict", "k": [1], "v": []},
        {"__t": "dict", "k": [[1]], "v": [1]}, {"__t": "dict", "k": [1.5], "v": [1]}, {"__t": "tuple", "v": 3},
        {"__t": "obj", "type": 3, "repr": "x"}, {"__t": "ref", "id": -1}, {"__t": "ref", "id": "1"},
    ]
    for bad in bad_values:
        with pytest.raises(ProtocolError):
            read(frame({**ok_array, "values": {"v": bad}}, b"\x01\x00\x00\x00"))
    with pytest.raises(ProtocolError):
        read(frame({"values": [1]}))
    with pytest.raises(ProtocolError, match="list"):
        read(frame({"values": {"v": list(range(11))}}), max_list_len=10)


def test_deep_nesting_rejected():
    with pytest.raises(ProtocolError, match="nested"):
        read(frame({"values": {"v": json.loads("[" * 40 + "]" * 40)}}))
    with pytest.raises(ProtocolError, match="JSON"):  # deeper than json itself will go
        read(frame(b'{"values": {"v": ' + b"[" * 200_000 + b"]" * 200_000 + b"}}"))


@pytest.mark.parametrize("literal", [b"1" * 5000, b"-" + b"9" * 25, b"18446744073709551616", b"1" * 100_000])
def test_huge_json_ints_rejected(literal):
    with pytest.raises(ProtocolError):
        read(frame(b'{"values": {"v": ' + literal + b"}}"))


def test_long_strings_truncated_not_rejected():
    out = read(frame({"values": {"v": "x" * 50}}), max_str_len=10)[1]
    assert out["v"].startswith("x" * 10) and len(out["v"]) < 30


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_hypothesis_random_bytes_only_raise_protocol_error(data):
    for stream in (data, b"GRD1" + data, struct.pack(">4sQ", b"GRD1", len(data)) + data):
        try:
            read(io.BytesIO(stream), max_elements=10_000)
        except ProtocolError:
            pass


json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
json_tree = st.recursive(json_leaf, lambda c: st.lists(c, max_size=3) | st.dictionaries(
    st.sampled_from(["__t", "i", "s", "k", "v", "type", "repr", "id", "x"]), c, max_size=3), max_leaves=12)


@settings(max_examples=200, deadline=None)
@given(json_tree, st.lists(st.fixed_dictionaries({"dtype": st.sampled_from(ALLOWED + ["|O", "x"]),
                                                  "shape": st.lists(st.integers(-2, 3), max_size=3)}), max_size=2),
       st.sampled_from(["__t", "i", "s", "k", "v"]), st.sampled_from(["tuple", "dict", "nd", "obj", "ref", "?"]))
def test_hypothesis_random_headers_only_raise_protocol_error(tree, arrays, key, tag):
    if isinstance(tree, dict):
        tree[key] = tree.get(key, 0) if key != "__t" else tag
    payload = b"\x00" * 400
    try:
        read(frame({"arrays": arrays, "values": {"v": tree, "w": {"__t": tag, key: tree}}}, payload), max_elements=50)
    except ProtocolError:
        pass
