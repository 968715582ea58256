"""Which seed a run grades with. The practice seed is public (in the assignment file) so students can
reproduce their cases; the instructor's private seed comes from outside the student's reach."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from .i18n import _

PRIVATE_SEED_ENV = "GRADER_PRIVATE_SEED"
PRIVATE_SEED_FILE_ENV = "GRADER_SEED_FILE"
SEED_BYTES = 16  # a text seed keeps 128 bits of its SHA-256


@dataclass(frozen=True)
class Seed:
    value: int
    kind: str  # practice | private


class SeedError(Exception):
    pass


def _parse(text: str, where: str) -> int:
    text = text.strip()
    if not text:
        raise SeedError(_("the private seed in {where} is empty.").format(where=where))
    # Any text works as a seed: digits are used as they are, anything else is hashed to 128 bits (SHA-256,
    # truncated), so inputs a student sees cannot be matched to the seed by trying every value offline.
    return int(text) if text.isdigit() else int.from_bytes(hashlib.sha256(text.encode()).digest()[:SEED_BYTES],
                                                           "big")


def resolve_seed(practice_seed: int, seed_file: Path | None = None, environ=os.environ) -> Seed:
    if seed_file is not None:
        try:
            return Seed(_parse(Path(seed_file).read_text(encoding="utf-8"), str(seed_file)), "private")
        except OSError as error:
            raise SeedError(_("cannot read the seed file {path}: {error}").format(path=seed_file, error=error.strerror))
    if environ.get(PRIVATE_SEED_FILE_ENV):
        return resolve_seed(practice_seed, Path(environ[PRIVATE_SEED_FILE_ENV]), {})
    if environ.get(PRIVATE_SEED_ENV):
        return Seed(_parse(environ[PRIVATE_SEED_ENV], PRIVATE_SEED_ENV), "private")
    return Seed(practice_seed, "practice")
