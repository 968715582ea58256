"""Hashes of the files the grader wrote, kept in the grader's memory, for platforms where student code
runs as the grader's own user (not root: no uid of its own to keep it out of the reports' folder).

A single `grade` writes its reports after every process of the submission is gone, so nothing can
change them. A batch grading several submissions at once as one user can not say that of the others
still running: it seals what it wrote, and checks (and restores) the seals once every sandbox is closed.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Seals:
    def __init__(self):
        self._kept: dict[Path, tuple[str, bytes]] = {}

    def seal(self, *paths) -> None:
        """Remember the content of each written file (its hash, and the bytes to put back)."""
        for path in paths:
            path = Path(path)
            data = path.read_bytes()
            self._kept[path] = (_digest(data), data)

    def changed(self) -> list[Path]:
        """Sealed files whose content is not what was sealed (or that are gone, or are now links)."""
        out = []
        for path, (digest, _data) in self._kept.items():
            try:
                same = not path.is_symlink() and _digest(path.read_bytes()) == digest
            except OSError:
                same = False
            if not same:
                out.append(path)
        return out

    def restore(self) -> list[Path]:
        """Put back every changed file (replacing whatever is there, link or not); returns them."""
        changed = self.changed()
        for path in changed:
            tmp = path.with_name(f".{path.name}.restore")
            tmp.unlink(missing_ok=True)
            tmp.write_bytes(self._kept[path][1])
            os.replace(tmp, path)
        return changed
