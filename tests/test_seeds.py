"""A private seed given as text is hashed with SHA-256 to 128 bits (issue 14): not crc32's 32 bits,
which a student could search offline by regenerating the inputs they saw."""
from __future__ import annotations

import hashlib
import zlib

import pytest

from grader.seeds import PRIVATE_SEED_ENV, SeedError, resolve_seed


def test_text_seeds_keep_128_bits_of_sha256():
    seed = resolve_seed(1, environ={PRIVATE_SEED_ENV: "otoño-2026 sección B"})
    assert seed.kind == "private"
    assert seed.value == int.from_bytes(hashlib.sha256("otoño-2026 sección B".encode()).digest()[:16], "big")
    assert seed.value != zlib.crc32("otoño-2026 sección B".encode()) and seed.value.bit_length() > 100


def test_nearby_texts_give_unrelated_seeds_and_digits_stay_as_given():
    a, b = (resolve_seed(1, environ={PRIVATE_SEED_ENV: t}).value for t in ("term-a", "term-b"))
    assert a != b and bin(a ^ b).count("1") > 30
    assert resolve_seed(1, environ={PRIVATE_SEED_ENV: "12345"}).value == 12345


def test_a_text_seed_reaches_the_generators():
    from grader.inputs import rng_for
    seed = resolve_seed(1, environ={PRIVATE_SEED_ENV: "x"})
    assert rng_for(seed.value, "layers", "relu").normal() != rng_for(seed.value + 1, "layers", "relu").normal()


def test_an_empty_seed_is_refused():
    with pytest.raises(SeedError):
        resolve_seed(1, environ={PRIVATE_SEED_ENV: "  "})
