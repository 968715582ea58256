"""The cache of the grader's own wheel built from a source tree (grader/own_wheel.py): built once per
state of the files it is built from, handed back whole, rebuilt after any change. (The wheels themselves
are installed and graded with in test_install.py.)"""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from grader import own_wheel


def _tree(root: Path) -> Path:
    (root / "grader").mkdir(parents=True)
    (root / "grader" / "__init__.py").write_text("__version__ = '0'\n")
    (root / "pyproject.toml").write_text('[project]\nname = "nn-autograder"\n')
    return root


@pytest.fixture
def builds(monkeypatch):
    """Replace pip by a builder that writes a small wheel naming the build, and count the builds."""
    done = []

    def build(root, out):
        done.append(root)
        with zipfile.ZipFile(out / own_wheel.wheel_name(), "w") as wheel:
            wheel.writestr("grader/__init__.py", (root / "grader" / "__init__.py").read_text())
            wheel.writestr("build.txt", str(len(done)))
    monkeypatch.setattr(own_wheel, "_from_source", build)
    return done


def _wheel(root: Path, tmp_path: Path, cache: Path) -> bytes:
    out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
    out.mkdir()
    own_wheel._cached(root, out, cache)
    return (out / own_wheel.wheel_name()).read_bytes()


def test_the_same_files_get_the_cached_wheel_and_a_change_builds_anew(tmp_path, builds):
    root, cache = _tree(tmp_path / "src"), tmp_path / "cache"
    first = _wheel(root, tmp_path, cache)
    assert _wheel(root, tmp_path, cache) == first and len(builds) == 1
    (root / "grader" / "__init__.py").write_text("__version__ = '0'  # edited\n")
    assert _wheel(root, tmp_path, cache) != first and len(builds) == 2


def test_files_a_build_does_not_copy_do_not_count(tmp_path):
    root = _tree(tmp_path / "src")
    before = own_wheel.source_fingerprint(root)
    for ignored in ("grader/__pycache__/x.cpython-311.pyc", "tests/test_x.py", ".git/HEAD", "build/lib/x.py"):
        (root / ignored).parent.mkdir(parents=True, exist_ok=True)
        (root / ignored).write_text("anything")
    assert own_wheel.source_fingerprint(root) == before
    (root / "grader" / "new.py").write_text("")
    assert own_wheel.source_fingerprint(root) != before


def test_a_damaged_cached_wheel_is_rebuilt_not_handed_out(tmp_path, builds):
    root, cache = _tree(tmp_path / "src"), tmp_path / "cache"
    first = _wheel(root, tmp_path, cache)
    [slot] = cache.glob(f"*/{own_wheel.wheel_name()}")
    slot.write_bytes(first[: len(first) // 2])
    again = _wheel(root, tmp_path, cache)
    assert len(builds) == 2 and zipfile.ZipFile(slot).testzip() is None
    with zipfile.ZipFile(io.BytesIO(again)) as wheel:
        assert wheel.read("build.txt") == b"2"


def test_an_unwritable_cache_only_costs_the_next_build(tmp_path, builds):
    root = _tree(tmp_path / "src")
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    assert _wheel(root, tmp_path, blocked) and _wheel(root, tmp_path, blocked) and len(builds) == 2
