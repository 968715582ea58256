"""The grader's folder in the user's cache ($XDG_CACHE_HOME, else ~/.cache: nn-autograder/), for what is
slow to make and the same every time: the wheel built from a source tree (own_wheel.py), the compiled
validators of the assignment schema (assignment_schema.py). Each entry is named by a hash of everything
it is made from, so a stale entry is never found, only a current one; writes are atomic, and a folder
that cannot be written only means making the thing again next time. The HTML report's compiled
templates (jinja2's bytecode cache, keyed by each template's source) and the training check's reference
runs (stored_runs.py) are kept here too.

The folder is the user's own (created 0700), as trusted as their site-packages: student code never runs
as the grading user with it in view (docs/security.md)."""
from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base, "nn-autograder", *parts)


def read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None


@lru_cache(maxsize=64)
def file_digest(path: str) -> bytes | None:
    """A digest of a source file's bytes, for naming what is made from it (None: unreadable)."""
    data = read(Path(path))
    return None if data is None else hashlib.blake2b(data, digest_size=20).digest()


def write(path: Path, data: bytes) -> None:
    """Atomically, or not at all."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_bytes(data)
        os.replace(partial, path)  # whole or absent, for a grader running beside this one
    except OSError:
        pass


def template_bytecode(made_by: str):
    """jinja2's bytecode cache (compiling the report's templates takes ~0.1 s) in a folder named by the
    grader's version and the source of the module `made_by` that sets the environment up (jinja2 keys an
    entry by its template's source only, not by options such as autoescaping), or None where that folder
    cannot be made."""
    import jinja2

    from . import __version__

    class Quiet(jinja2.FileSystemBytecodeCache):
        def dump_bytecode(self, bucket) -> None:
            try:
                super().dump_bytecode(bucket)
            except OSError:  # a full or read-only disk: compiled again next time
                pass

    source = file_digest(made_by)
    if source is None:
        return None
    folder = cache_dir("templates", hashlib.blake2b(source + __version__.encode(), digest_size=12).hexdigest())
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return None
    return Quiet(str(folder))
