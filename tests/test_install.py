"""The grader installs from what it writes, and from nothing else: the Gradescope bundle alone and the
student repository's template alone, each into a fresh virtual environment, then grades a submission
with the grader installed there.

The environments see the system's packages (--system-site-packages), so NumPy and PyTorch are not
downloaded; pip runs with PIP_NO_INDEX (an install step that needed a package index fails here) and
PIP_NO_DEPS (the dependencies are the system's, which the new environment's own older setuptools
would otherwise send pip to resolve again).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from grader import __version__
from grader.assignment import builtin_dir
from grader.cli import main
from grader.own_wheel import own_wheel, wheel_name

pytestmark = pytest.mark.slow


def _course(folder: Path) -> Path:
    """A one-exercise assignment (`layers`), so grading in the new environment is quick."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hw.toml").write_text('title = "HW1"\nexercises = ["layers"]\npractice_seed = 7\n')
    return folder / "hw.toml"


def _venv(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(folder)], check=True, timeout=120)
    return folder / "bin"


def _offline_env(bin_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PIP_NO_INDEX": "1", "PIP_NO_DEPS": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1", "VIRTUAL_ENV": str(bin_dir.parent), **extra}


def _installed_from(bin_dir: Path) -> str:
    where = subprocess.run([str(bin_dir / "python"), "-c", "import grader; print(grader.__file__)"],
                           capture_output=True, text=True, cwd=bin_dir.parent, timeout=60)
    return where.stdout.strip()


def test_the_wheel_is_the_running_grader():
    name, data = own_wheel()
    assert name == wheel_name() == f"nn_autograder-{__version__}-py3-none-any.whl"
    import io
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        names = set(wheel.namelist())
        entry_points = wheel.read(f"nn_autograder-{__version__}.dist-info/entry_points.txt").decode()
    assert {"grader/cli.py", "grader/exercises/default.toml", "grader/templates/report.html.j2",
            "grader/locale/es/LC_MESSAGES/grader.po", "grader/exercises/solution/layers.py"} <= names
    assert not any("__pycache__" in n or n.startswith("tests/") for n in names)
    assert "grade = grader.cli:run" in entry_points


def test_gradescope_bundle_installs_its_own_wheel_offline_and_grades(tmp_path):
    out = tmp_path / "autograder.zip"
    run = CliRunner().invoke(main, ["gradescope-bundle", "--out", str(out), "--assignment",
                                    str(_course(tmp_path / "course"))])
    assert run.exit_code == 0, run.output
    root = tmp_path / "autograder"
    with zipfile.ZipFile(out) as archive:
        assert wheel_name() in archive.namelist()
        archive.extractall(root / "source")
    bin_dir = _venv(tmp_path / "venv")
    env = _offline_env(bin_dir, AUTOGRADER_ROOT=str(root), GRADER_VENV=str(bin_dir.parent))
    setup = subprocess.run(["bash", str(root / "source/setup.sh")], env=env, capture_output=True, text=True,
                           timeout=600)
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    assert _installed_from(bin_dir).startswith(str(bin_dir.parent)), "the grader did not come from the bundle"

    shutil.copytree(builtin_dir() / "solution", root / "submission")
    graded = subprocess.run(["bash", str(root / "source/run_autograder")], env=env, capture_output=True, text=True,
                            timeout=600)
    assert graded.returncode == 0, graded.stderr[-3000:]
    results = json.loads((root / "results/results.json").read_text())
    assert sum(t["score"] for t in results["tests"]) == sum(t["max_score"] for t in results["tests"]) > 0


def test_student_repository_installs_the_grader_from_its_template_offline_and_grades(tmp_path):
    repo = tmp_path / "student-repo"
    _course(repo)
    shutil.copytree(builtin_dir() / "solution", repo / "work")
    run = CliRunner().invoke(main, ["init-ci", "--repo", str(repo), "--assignment", "hw.toml", "--submission",
                                    "work"])
    assert run.exit_code == 0, run.output
    assert (repo / ".grader" / wheel_name()).is_file()
    steps = yaml.safe_load((repo / ".github/workflows/grade.yml").read_text())["jobs"]["grade"]["steps"]
    lines = [line for step in steps for line in step.get("run", "").splitlines() if line.strip()]
    assert lines[1] == f"pip install .grader/{wheel_name()}"

    bin_dir = _venv(tmp_path / "venv")
    env = _offline_env(bin_dir)
    for line in lines:  # the workflow's own lines, in the repository, as the CI runner runs them
        done = subprocess.run(["bash", "-e", "-c", line], cwd=repo, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{line}\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    assert _installed_from(bin_dir).startswith(str(bin_dir.parent))
    results = json.loads((repo / "grade-report/results.json").read_text())
    assert sum(t["score"] for t in results["tests"]) == sum(t["max_score"] for t in results["tests"]) > 0


def test_the_wheel_of_an_installed_grader_is_repacked_from_its_files(tmp_path):
    """A non-editable install has no source tree: its installed files become the wheel."""
    site = tmp_path / "site"
    name, data = own_wheel()
    (tmp_path / name).write_bytes(data)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site),
                    str(tmp_path / name)], check=True, timeout=300)
    script = ("import grader, grader.own_wheel as w; assert w.source_tree() is None, grader.__file__; "
              "n, d = w.own_wheel(); open(n, 'wb').write(d); print(n)")
    out = tmp_path / "out"
    out.mkdir()
    repacked = subprocess.run([sys.executable, "-c", script], cwd=out, capture_output=True, text=True, timeout=300,
                              env={**os.environ, "PYTHONPATH": str(site)})
    assert repacked.returncode == 0, repacked.stderr
    with zipfile.ZipFile(out / name) as again, zipfile.ZipFile(tmp_path / name) as first:
        assert set(again.namelist()) == set(first.namelist())
        assert again.read("grader/cli.py") == first.read("grader/cli.py")
