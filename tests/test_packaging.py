"""The package works installed (non-editable): templates, exercises, the example submission and
the references load from the installed files, not from the source tree."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-compile", "-q",
         "--target", str(target), str(ROOT)],
        capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    return target


def _run(installed: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    # The target folder first on the path, and a working folder outside the source tree.
    env = {**os.environ, "PYTHONPATH": str(installed)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_installed_package_grades_the_example_from_its_own_files(installed, tmp_path):
    where = _run(installed, tmp_path, "-c", "import grader, grader.templates, grader.exercises; "
                 "print(grader.__file__); print(grader.templates.__file__); print(grader.exercises.__file__)")
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(installed)) for line in where.stdout.split()), where.stdout

    out = tmp_path / "report"
    graded = _run(installed, tmp_path, "-m", "grader.cli", "--example", "-e", "layers", "--out", str(out))
    assert graded.returncode == 0, graded.stderr
    assert "report.html" in graded.stdout
    results = json.loads((out / "results.json").read_text())
    assert sum(t["score"] for t in results["tests"]) == sum(t["max_score"] for t in results["tests"]) > 0
    html = (out / "report.html").read_text()
    assert "<html" in html and "<style" in html  # the template and its inline CSS came from the package
