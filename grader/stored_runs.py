"""Reference training runs kept in the user's cache (grader/cache.py), so a grade after the first one
reads the reference instead of training it again.

A reference run (grader/checks/training.py) is a pure function of its inputs: the data, the starting
parameters, the learning rate and the batches, trained by the model's declared reference and loss with
torch.optim's SGD. It is stored under a digest of those inputs and of everything else that decides its
numbers: the versions of the grader, PyTorch and NumPy, and the bytes of the source files of the code
that computes it (the model's reference and loss, the training check, grader/optim.py). What is read back
is PyTorch's own result, bit for bit; change any of those and the entry is simply not found.

The file holds plain arrays (numpy's .npz, loaded without pickle) and is checked against the run it
stands for (every parameter's name and shape, one loss per step and one after the last): anything else
is ignored and the run is trained again. The cache is the grading user's: runs are kept and read only
where the student's process cannot write there (it runs as a uid of its own, or sees the allow-list
view without the grading user's home), so no submission can plant a run that another grade reads
(docs/security.md). GRADER_NO_RUN_CACHE=1 turns it off.
"""
from __future__ import annotations

import hashlib
import io
import os
import sys
from pathlib import Path

import numpy as np

from . import __version__, cache

FOLDER = "reference-runs"
KEEP = 64  # entries (about 80 KB each for the built-in network); the oldest go first
OFF = "GRADER_NO_RUN_CACHE"


def enabled(protections: dict) -> bool:
    """Whether to keep and read runs, given the student's process's `protections` (Sandbox.protections)."""
    out_of_reach = bool(protections.get("unprivileged_user") or protections.get("allow_list_view"))
    return out_of_reach and os.environ.get(OFF, "") in ("", "0")


def digest(key: bytes, functions, modules) -> str:
    """The name of the entry of a run whose inputs hash to `key`, computed by `functions` (the model's
    reference and loss) and the code of `modules`."""
    import torch
    h = hashlib.blake2b(key, digest_size=20)
    h.update(f"{__version__} {torch.__version__} {np.__version__}".encode())
    files = {getattr(getattr(f, "__code__", None), "co_filename", None) for f in functions}
    files |= {getattr(sys.modules.get(m), "__file__", None) for m in modules}
    for path in sorted(f for f in files if f):
        h.update(cache.file_digest(path) or os.urandom(20))  # unreadable: an entry never found again
    return h.hexdigest()


def load(name: str, params: dict, steps: int) -> dict | None:
    """The stored run, or None (absent, unreadable, or not the shape of this run)."""
    data = cache.read(cache.cache_dir(FOLDER, f"{name}.npz"))
    if data is None:
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            arrays = {k: stored[k] for k in stored.files}
    except Exception:  # noqa: BLE001 - a damaged entry is only a miss
        return None
    losses, accuracy = arrays.get("losses"), arrays.get("accuracy")
    if losses is None or losses.shape != (steps + 1,) or accuracy is None or accuracy.shape != ():
        return None
    run = {"losses": [float(v) for v in losses], "accuracy": float(accuracy)}
    for part in ("first", "final"):
        run[part] = {}
        for k, v in params.items():
            got = arrays.get(f"{part}.{k}")
            if got is None or got.shape != np.shape(v) or got.dtype != np.float64:
                return None
            run[part][k] = got
    return run


def save(name: str, run: dict) -> None:
    arrays = {"losses": np.asarray(run["losses"], dtype=np.float64),
              "accuracy": np.asarray(run["accuracy"], dtype=np.float64)}
    for part in ("first", "final"):
        arrays.update({f"{part}.{k}": np.asarray(v, dtype=np.float64) for k, v in run[part].items()})
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    folder = cache.cache_dir(FOLDER)
    cache.write(folder / f"{name}.npz", buffer.getvalue())
    _prune(folder)


def _prune(folder: Path) -> None:
    try:
        entries = sorted(folder.glob("*.npz"), key=lambda p: p.stat().st_mtime)
        for old in entries[:-KEEP]:
            old.unlink()
    except OSError:
        pass
