"""Framing between the grader and the student's process: a JSON header plus raw array buffers, never pickle.

A message is ``struct.pack(">4sQ", b"GRD1", header_len)`` + the UTF-8 JSON header + the raw bytes of each
array the header lists under ``"arrays"``, in that order. Python values travel inside the header under
``"values"`` (a dict of named value trees) as JSON:

    null, bool, int (|i| < 2**64), float (NaN/Infinity allowed), str, list
    {"__t": "tuple", "v": [...]}
    {"__t": "dict", "k": [...], "v": [...]}            keys str or int only
    {"__t": "nd", "i": k}                               the k-th array; "s": true for a NumPy scalar
    {"__t": "obj", "type": "module.Class", "repr": ...}  anything not transferable (decodes to Opaque)
    {"__t": "ref", "id": k}                             an object kept in the child (decodes to Handle)

Both sides import this file: the parent as ``grader.sandbox.wire``, the child by path under a private
name. So: stdlib + NumPy only, and no package-relative imports.

Decoding must survive hostile bytes (student code can write to the response pipe): the header length is
capped, ints are parsed only when short, dtypes come from a whitelist, and element counts are checked
before anything is allocated. Every violation raises ProtocolError.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

MAGIC = b"GRD1"
PREFIX = struct.Struct(">4sQ")
INT_BOUND = 2**64  # ints outside (-2**64, 2**64) do not travel as ints
OPAQUE_REPR_CHARS = 200
ONE_WRITE_BYTES = 1 << 16  # a message up to this size is one buffer (larger arrays are not copied)


class ProtocolError(Exception):
    """The byte stream is not a well-formed message within the limits."""


class EndOfStream(ProtocolError):
    """The stream closed cleanly between messages (the peer exited)."""


@dataclass(frozen=True)
class WireLimits:
    max_header_bytes: int = 1 << 20
    max_elements: int = 50_000_000  # total over all arrays of one message
    max_depth: int = 32
    max_list_len: int = 1_000_000
    max_str_len: int = 100_000  # longer strings are truncated, not rejected
    max_arrays: int = 100_000
    max_dims: int = 8


DEFAULT_LIMITS = WireLimits()


@dataclass(frozen=True)
class Opaque:
    """A value the child could not send: its type and a short repr."""

    type: str
    repr: str


@dataclass(frozen=True)
class Handle:
    """An object kept alive in the child; pass it back as an argument or as `obj=`."""

    id: int


# dtype whitelist: exact strings -> dtype, so np.dtype() never sees a string from the peer.
_DTYPES: dict[str, np.dtype] = {}
for _code in ("b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8"):
    for _order in ("<", ">") + (("|",) if _code[1] == "1" else ()):
        _DTYPES[_order + _code] = np.dtype(_order + _code)
del _code, _order


def dtype_allowed(dtype: np.dtype) -> bool:
    return dtype.str in _DTYPES


def _type_name(obj: Any) -> str:
    t = type(obj)
    if isinstance(obj, (np.ndarray, np.generic)):
        return f"{'ndarray' if isinstance(obj, np.ndarray) else t.__name__}[dtype={obj.dtype}]"
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _short_repr(obj: Any) -> str:
    try:  # repr runs student code: it may raise (a hang is the caller's timeout to catch)
        text = repr(obj)
    except BaseException:  # noqa: BLE001 - student code may raise anything, even SystemExit
        text = f"<{_type_name(obj)} object>"
    if not isinstance(text, str):
        text = "<unrepresentable>"
    return text if len(text) <= OPAQUE_REPR_CHARS else text[: OPAQUE_REPR_CHARS - 3] + "..."


def opaque_tree(obj: Any, note: str | None = None) -> dict:
    return {"__t": "obj", "type": _type_name(obj), "repr": note or _short_repr(obj)}


# ----------------------------------------------------------------------------------------- encoding


class _Encoder:
    def __init__(self, limits: WireLimits, ref_of: Callable[[Any], int | None] | None, strict: bool):
        self.limits, self.ref_of, self.strict = limits, ref_of, strict
        self.arrays: list[np.ndarray] = []
        self.elements = 0

    def opaque(self, v: Any, note: str | None = None) -> dict:
        if self.ref_of is not None:  # a kept object travels as its handle rather than as a repr
            h = self.ref_of(v)
            if h is not None:
                return {"__t": "ref", "id": h}
        if self.strict:
            raise TypeError(f"cannot send a value of type {_type_name(v)}: {note or 'not transferable'}")
        return opaque_tree(v, note)

    def array(self, a: np.ndarray, scalar: bool) -> Any:
        a = np.asarray(a)
        if not dtype_allowed(a.dtype):
            return self.opaque(a)
        if self.elements + a.size > self.limits.max_elements or a.ndim > self.limits.max_dims:
            return self.opaque(a, f"array of shape {a.shape} is too large to transfer")
        self.elements += a.size
        self.arrays.append(a)
        node = {"__t": "nd", "i": len(self.arrays) - 1}
        if scalar:
            node["s"] = True
        return node

    def value(self, v: Any, depth: int = 0) -> Any:
        # Exact checks first: NumPy scalars subclass float/int, and student classes may subclass anything.
        if v is None or v is True or v is False:
            return v
        if isinstance(v, np.ndarray):
            return self.array(v, scalar=False)
        if type(v) is Handle:  # the parent passing a kept object back in
            return {"__t": "ref", "id": v.id}
        if isinstance(v, np.generic):
            if dtype_allowed(v.dtype):
                return self.array(np.asarray(v), scalar=True)
            if isinstance(v, np.str_):
                return self.value(str(v), depth)
            return self.opaque(v)
        if isinstance(v, int):
            i = int(v)
            return i if -INT_BOUND < i < INT_BOUND else self.opaque(v, "integer too large to transfer")
        if isinstance(v, float):
            return float(v)
        if isinstance(v, str):
            s = str.__str__(v)
            return s if len(s) <= self.limits.max_str_len else s[: self.limits.max_str_len] + "...[truncated]"
        if not isinstance(v, (list, tuple, dict)):
            return self.opaque(v)
        if depth >= self.limits.max_depth:
            return self.opaque(v, "nested too deeply to transfer")
        n = (dict if isinstance(v, dict) else tuple if isinstance(v, tuple) else list).__len__(v)
        if n > self.limits.max_list_len:
            return self.opaque(v, f"{type(v).__name__} of {n} items is too long to transfer")
        if isinstance(v, dict):
            items = list(dict.items(v))  # the base-class view: a student subclass cannot intercept it
            if not all(isinstance(k, str) or (isinstance(k, int) and -INT_BOUND < int(k) < INT_BOUND)
                       for k, _ in items):  # a key that would travel as an opaque value would be no key
                return self.opaque(v, "dict with keys other than str or int")
            return {
                "__t": "dict",
                "k": [self.value(k, depth + 1) for k, _ in items],
                "v": [self.value(x, depth + 1) for _, x in items],
            }
        if isinstance(v, tuple):
            return {"__t": "tuple", "v": [self.value(x, depth + 1) for x in tuple.__iter__(v)]}
        return [self.value(x, depth + 1) for x in list.__iter__(v)]


def _raw(a: np.ndarray) -> memoryview:
    # Zero-copy byte view for contiguous arrays; works for any whitelisted dtype and byte order.
    return memoryview(np.ascontiguousarray(a).reshape(-1).view(np.uint8))


def encode(
    header: dict,
    values: dict[str, Any] | None = None,
    *,
    limits: WireLimits = DEFAULT_LIMITS,
    ref_of: Callable[[Any], int | None] | None = None,
    strict: bool = False,
) -> list[bytes | memoryview]:
    """Build one message: `header` (plain JSON) plus `values` encoded under header["values"].

    Returns the buffers to write in order. Objects that cannot travel become Opaque trees, or, with
    strict=True (the parent sending inputs), raise TypeError. Raises ProtocolError when the header would
    exceed limits.max_header_bytes.
    """
    enc = _Encoder(limits, ref_of, strict)
    body = dict(header)
    if values:
        body["values"] = {name: enc.value(v) for name, v in values.items()}
    body["arrays"] = [{"dtype": a.dtype.str, "shape": list(a.shape), "nbytes": a.nbytes} for a in enc.arrays]
    data = json.dumps(body, separators=(",", ":")).encode("utf-8")
    if len(data) > limits.max_header_bytes:
        raise ProtocolError(f"message header of {len(data)} bytes exceeds the limit of {limits.max_header_bytes}")
    buffers = [PREFIX.pack(MAGIC, len(data)) + data, *(_raw(a) for a in enc.arrays if a.nbytes)]
    if len(buffers) > 1 and sum(memoryview(b).nbytes for b in buffers) <= ONE_WRITE_BYTES:
        return [b"".join(buffers)]  # one write: the reader wakes once, not once per array
    return buffers


IOV_MAX = 1024  # buffers per writev (POSIX guarantees at least 16; Linux allows 1024)


def write_all(fd: int, buffers: list, when_full: Callable[[], None] | None = None) -> int:
    """Write buffers to fd with as few system calls as the pipe allows (writev): the reader then finds a
    whole small message at once instead of waking up for each piece. On a non-blocking fd, `when_full`
    waits for room. Returns the bytes written."""
    views = [v for v in (memoryview(b).cast("B") for b in buffers) if v]
    total = 0
    while views:
        try:
            n = os.writev(fd, views[:IOV_MAX])
        except BlockingIOError:
            if when_full is None:
                raise
            when_full()
            continue
        total += n
        while views and n >= len(views[0]):
            n -= len(views.pop(0))
        if n:
            views[0] = views[0][n:]
    return total


def write_buffers(out: Any, buffers: list) -> int:
    """Write buffers to an fd (int) or a binary file object; returns the bytes written."""
    if isinstance(out, int):
        return write_all(out, buffers)
    total = 0
    for buf in buffers:
        view = memoryview(buf).cast("B")
        out.write(view)
        total += len(view)
    if hasattr(out, "flush"):
        out.flush()
    return total


def write_message(out: Any, header: dict, values: dict[str, Any] | None = None, **kw) -> int:
    return write_buffers(out, encode(header, values, **kw))


# ----------------------------------------------------------------------------------------- decoding


def _read_into(reader: Any, view: memoryview, at_start: bool = False) -> None:
    pos, size = 0, len(view)
    while pos < size:
        if isinstance(reader, int):
            n = os.readv(reader, [view[pos:]])
        else:
            n = reader.readinto(view[pos:])
        if not n:
            if at_start and pos == 0:
                raise EndOfStream("the connection was closed")
            raise ProtocolError(f"truncated message: expected {size - pos} more bytes")
        pos += n


def _parse_int(text: str) -> int:
    # Called by json on each integer literal: reject long ones before int() spends time on them.
    if len(text.lstrip("-")) > 20:
        raise ProtocolError(f"integer literal of {len(text)} digits is too large")
    return int(text)


def _array_specs(header: dict, limits: WireLimits) -> list[tuple[np.dtype, tuple[int, ...]]]:
    specs = header.get("arrays", [])
    if not isinstance(specs, list) or len(specs) > limits.max_arrays:
        raise ProtocolError("'arrays' must be a list of at most %d entries" % limits.max_arrays)
    out, total = [], 0
    for k, spec in enumerate(specs):
        if not isinstance(spec, dict):
            raise ProtocolError(f"array {k}: descriptor is not an object")
        code, shape = spec.get("dtype"), spec.get("shape")
        if not isinstance(code, str) or code not in _DTYPES:
            raise ProtocolError(f"array {k}: dtype {str(code)[:40]!r} is not allowed")
        if not isinstance(shape, list) or len(shape) > limits.max_dims:
            raise ProtocolError(f"array {k}: shape must be a list of at most {limits.max_dims} dimensions")
        count = 1
        for d in shape:
            if type(d) is not int or d < 0 or d > limits.max_elements:
                raise ProtocolError(f"array {k}: bad dimension {str(d)[:40]} in shape")
            count *= d
        total += count
        if total > limits.max_elements:
            raise ProtocolError(f"message holds more than {limits.max_elements} array elements")
        dtype = _DTYPES[code]
        if "nbytes" in spec and spec["nbytes"] != count * dtype.itemsize:
            raise ProtocolError(f"array {k}: nbytes {str(spec['nbytes'])[:40]} does not match dtype and shape")
        out.append((dtype, tuple(shape)))
    return out


class _Decoder:
    def __init__(self, arrays: list[np.ndarray], limits: WireLimits, ref: Callable[[int], Any] | None):
        self.arrays, self.limits, self.ref = arrays, limits, ref

    def items(self, seq: Any, depth: int) -> list:
        if not isinstance(seq, list) or len(seq) > self.limits.max_list_len:
            raise ProtocolError(f"expected a list of at most {self.limits.max_list_len} items")
        return [self.value(x, depth + 1) for x in seq]

    def value(self, t: Any, depth: int = 0) -> Any:
        if depth > self.limits.max_depth:
            raise ProtocolError(f"values nested deeper than {self.limits.max_depth}")
        if t is None or isinstance(t, (bool, float)):
            return t
        if isinstance(t, int):
            if not -INT_BOUND < t < INT_BOUND:
                raise ProtocolError("integer out of range")
            return t
        if isinstance(t, str):
            n = self.limits.max_str_len
            return t if len(t) <= n else t[:n] + "...[truncated]"
        if isinstance(t, list):
            return self.items(t, depth)
        if not isinstance(t, dict):
            raise ProtocolError(f"unexpected JSON value of type {type(t).__name__}")
        tag = t.get("__t")
        if tag == "tuple":
            return tuple(self.items(t.get("v"), depth))
        if tag == "dict":
            keys, vals = self.items(t.get("k"), depth), self.items(t.get("v"), depth)
            if len(keys) != len(vals) or not all(isinstance(k, (str, int)) for k in keys):
                raise ProtocolError("bad dict: keys must be str or int, one per value")
            return dict(zip(keys, vals))
        if tag == "nd":
            i = t.get("i")
            if type(i) is not int or not 0 <= i < len(self.arrays):
                raise ProtocolError(f"array reference {str(i)[:40]} out of range")
            a = self.arrays[i]
            return a[()] if t.get("s") is True and a.ndim == 0 else a
        if tag == "obj":
            typ, rep = t.get("type"), t.get("repr")
            if not isinstance(typ, str) or not isinstance(rep, str):
                raise ProtocolError("bad opaque value")
            return Opaque(typ[:OPAQUE_REPR_CHARS], rep[:OPAQUE_REPR_CHARS])
        if tag == "ref":
            i = t.get("id")
            if type(i) is not int or not 0 <= i < INT_BOUND:
                raise ProtocolError("bad handle id")
            return Handle(i) if self.ref is None else self.ref(i)
        raise ProtocolError(f"unknown value tag {str(tag)[:40]!r}")


def decode_values(tree: Any, arrays: list[np.ndarray], limits: WireLimits = DEFAULT_LIMITS, ref=None) -> dict:
    if tree is None:
        return {}
    if not isinstance(tree, dict):
        raise ProtocolError("'values' must be an object")
    dec = _Decoder(arrays, limits, ref)
    return {str(name): dec.value(t) for name, t in tree.items()}


def read_message(
    reader: Any, limits: WireLimits = DEFAULT_LIMITS, ref: Callable[[int], Any] | None = None
) -> tuple[dict, dict[str, Any]]:
    """Read one message from an fd (int) or an object with readinto(); returns (header, decoded values).

    The header is returned without "values" and "arrays"; `decoded` maps each value name to its Python
    value. `ref(id)` resolves handles (the child passes its kept objects); by default they decode to Handle.
    Errors raised by `ref` propagate unchanged, after the whole message has been consumed.
    """
    prefix = bytearray(PREFIX.size)
    _read_into(reader, memoryview(prefix), at_start=True)
    magic, length = PREFIX.unpack(prefix)
    if magic != MAGIC:
        raise ProtocolError(f"bad magic {bytes(magic)!r}: not a grader message")
    if length > limits.max_header_bytes:
        raise ProtocolError(f"header of {length} bytes exceeds the limit of {limits.max_header_bytes}")
    raw = bytearray(length)
    _read_into(reader, memoryview(raw))
    try:
        header = json.loads(raw.decode("utf-8"), parse_int=_parse_int)
    except ProtocolError:
        raise
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ProtocolError(f"header is not valid JSON: {str(e)[:200]}") from None
    if not isinstance(header, dict):
        raise ProtocolError("header is not a JSON object")
    arrays = []
    for dtype, shape in _array_specs(header, limits):  # all checked before the first allocation
        a = np.empty(shape, dtype)
        if a.nbytes:
            _read_into(reader, memoryview(a.reshape(-1).view(np.uint8)))
        arrays.append(a)
    header.pop("arrays", None)
    return header, decode_values(header.pop("values", None), arrays, limits, ref)
