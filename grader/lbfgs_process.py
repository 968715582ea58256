"""The program of the grader's own L-BFGS-B process (grader/lbfgs.py starts it), and the frames both
sides write.

It imports NumPy and scipy.optimize (about 0.7 s of CPU) on the second core while the grading process
imports PyTorch, and then runs scipy.optimize.minimize(jac=True, method="L-BFGS-B") for it: each
evaluation is a request to the grading process, which asks the student's process and answers with J and
grad. Only the grader talks to it, through its standard input and output, in frames of float64 arrays
and JSON; it reads no file and never sees the student's process. It imports nothing of the grader, so
that it runs as a script under `python -I` (no working directory or user site on its path).

Frames: one tag byte, the payload's length (8 bytes, little-endian), the payload.
  grader -> process  M  minimize: JSON options, then x0          V  J, then grad (float64)
  process -> grader  F  evaluate at theta (float64)              R  JSON result, then x
                     E  scipy raised: its message (UTF-8)
"""
from __future__ import annotations

import json
import os
import struct
import sys

HEADER = struct.Struct("<cQ")
JSON_LENGTH = struct.Struct("<I")


def write_frame(stream, tag: bytes, payload: bytes) -> None:
    stream.write(HEADER.pack(tag, len(payload)) + payload)
    stream.flush()


def read_frame(stream, limit: int) -> tuple[bytes, bytes]:
    """(tag, payload); EOFError when the other side has gone or broke the framing."""
    header = stream.read(HEADER.size)
    if len(header) != HEADER.size:
        raise EOFError("the other side closed the pipe")
    tag, length = HEADER.unpack(header)
    if length > limit:
        raise EOFError(f"a frame of {length} bytes (at most {limit})")
    payload = stream.read(length)
    if len(payload) != length:
        raise EOFError("the other side closed the pipe")
    return tag, payload


def json_and_array(header: dict, array_bytes: bytes) -> bytes:
    text = json.dumps(header).encode()
    return JSON_LENGTH.pack(len(text)) + text + array_bytes


def split_json(payload: bytes) -> tuple[dict, bytes]:
    (n,) = JSON_LENGTH.unpack_from(payload)
    return json.loads(payload[JSON_LENGTH.size:JSON_LENGTH.size + n]), payload[JSON_LENGTH.size + n:]


def serve(requests, replies) -> None:
    """Answer minimize requests until the grader closes the pipe."""
    import numpy as np
    import scipy.optimize

    def evaluate(theta):
        write_frame(replies, b"F", np.ascontiguousarray(theta, dtype=np.float64).tobytes())
        tag, payload = read_frame(requests, limit=8 * (theta.size + 1))
        if tag != b"V":
            raise EOFError(f"expected an evaluation, got {tag!r}")
        values = np.frombuffer(payload, dtype=np.float64)
        return float(values[0]), values[1:].copy()

    while True:
        try:
            tag, payload = read_frame(requests, limit=1 << 30)
        except EOFError:
            return
        options, x0 = split_json(payload)
        try:
            found = scipy.optimize.minimize(evaluate, np.frombuffer(x0, dtype=np.float64).copy(), jac=True,
                                            method="L-BFGS-B", options=options)
        except EOFError:
            return  # the grader stopped the run (an evaluation failed) or went away
        except Exception as error:  # noqa: BLE001 - told to the grader, which runs it itself instead
            write_frame(replies, b"E", str(error).encode())
            continue
        result = {"fun": float(found.fun), "nit": int(found.nit), "success": bool(found.success),
                  "message": str(found.message)}
        write_frame(replies, b"R", json_and_array(result, np.asarray(found.x, dtype=np.float64).tobytes()))


def main() -> None:
    # Frames go through a private copy of stdout; anything a library prints goes to stderr instead.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
