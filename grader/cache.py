"""The grader's folder in the user's cache ($XDG_CACHE_HOME, else ~/.cache: nn-autograder/), for what is
slow to make and the same every time: the wheel built from a source tree (own_wheel.py), the compiled
validators of the assignment schema (assignment_schema.py). Each entry is named by a hash of everything
it is made from, so a stale entry is never found, only a current one; writes are atomic, and a folder
that cannot be written only means making the thing again next time.

The folder is the user's own (created 0700), as trusted as their site-packages: student code never runs
as the grading user with it in view (docs/security.md)."""
from __future__ import annotations

import os
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "nn-autograder", *parts)


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


def write(path: Path, data: bytes) -> None:
    """Atomically, or not at all."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_bytes(data)
        os.replace(partial, path)  # whole or absent, for a grader running beside this one
    except OSError:
        pass
