"""The Gradescope bundle, unpacked into an /autograder-like tree and run as Gradescope runs it."""
from __future__ import annotations

import pytest

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

from click.testing import CliRunner
from helpers import make_submission

from grader.assignment import builtin_dir
from grader.cli import main
from grader.own_wheel import wheel_name
from grader.results import VISIBILITIES

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

SEED = "918273645"
PRINTS = "print('ENV', sorted(os.environ.items()), 'ARGV', sys.argv)\n    return np.maximum(0, x)"


def _course(tmp_path) -> Path:
    """An assignment of the `layers` exercise (as the instructor's own file), its gradchecks hidden."""
    course = tmp_path / "course"
    (course / "ex").mkdir(parents=True)
    shutil.copy(builtin_dir() / "layers.py", course / "ex/layers.py")
    (course / "hw.toml").write_text('title = "HW1"\nexercises = ["layers"]\npractice_seed = 7\n'
                                    '[exercise.layers]\nfile = "ex/layers.py"\n'
                                    '[visibility.layers]\ngradcheck = "hidden"\n')
    return course / "hw.toml"


def _build(tmp_path, *args) -> Path:
    (tmp_path / "seed").write_text(SEED + "\n")
    out = tmp_path / "autograder.zip"
    run = CliRunner().invoke(main, ["gradescope-bundle", "--out", str(out), "--assignment", str(_course(tmp_path)),
                                    *args])
    assert run.exit_code == 0, run.output
    return out


def _unpack(bundle: Path, root: Path, submission: Path | None) -> Path:
    """The tree Gradescope builds: the zip in source/, the student's files in submission/."""
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(root / "source")
    (root / "submission").mkdir()
    if submission is not None:
        shutil.copytree(submission, root / "submission", dirs_exist_ok=True)
    return root


def _run_autograder(root: Path) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "AUTOGRADER_ROOT": str(root), "GRADER_PYTHON": sys.executable}
    return subprocess.run(["bash", str(root / "source/run_autograder")], env=env, capture_output=True, text=True,
                          timeout=240)


def test_bundle_layout(tmp_path):
    bundle = _build(tmp_path, "--seed-file", str(tmp_path / "seed"))
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()}
        scripts = {name: archive.read(name).decode() for name in ("setup.sh", "run_autograder")}
        assert archive.read("seed.txt").decode().strip() == SEED
    assert names == {"setup.sh", "run_autograder", "assignment.toml", "ex/layers.py", "seed.txt", "README.txt",
                     wheel_name()}
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755 and modes["seed.txt"] == 0o600
    for name, text in scripts.items():
        assert text.startswith("#!/usr/bin/env bash\n")
        assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0, name
    assert "--index-url https://download.pytorch.org/whl/cpu" in scripts["setup.sh"]
    assert f'pip" install "$SOURCE/{wheel_name()}"' in scripts["setup.sh"]  # the bundled wheel, no index
    assert '--seed-file "$SOURCE/seed.txt"' in scripts["run_autograder"]
    assert SEED not in scripts["run_autograder"] + scripts["setup.sh"]


def test_run_autograder_writes_results_with_visibility_and_keeps_the_seed_from_student_code(tmp_path):
    submission = make_submission(tmp_path / "student", {"layers.py": [
        ("import numpy as np", "import os, sys\nimport numpy as np"), ("return np.maximum(0, x)", PRINTS)]})
    root = _unpack(_build(tmp_path, "--seed-file", str(tmp_path / "seed")), tmp_path / "autograder", submission)
    run = _run_autograder(root)
    assert run.returncode == 0, run.stderr

    text = (root / "results/results.json").read_text()
    results = json.loads(text)
    tests = results["tests"]
    assert len(tests) > 20
    for test in tests:
        assert {"name", "score", "max_score", "visibility"} <= set(test)
        assert test["visibility"] in VISIBILITIES and 0 <= test["score"] <= test["max_score"]
    hidden = {t["name"] for t in tests if t["visibility"] == "hidden"}
    assert hidden and all("[gradcheck]" in name for name in hidden)
    assert {t["name"] for t in tests if "[gradcheck]" in t["name"]} == hidden
    assert sum(t["score"] for t in tests) == sum(t["max_score"] for t in tests)  # the model solution
    assert results["extra_data"]["seed_kind"] == "private"
    # Student code ran (its output is in the feedback) but saw neither the seed nor where it is kept.
    assert "ENV" in text and "ARGV" in text
    assert SEED not in text and "seed.txt" not in text


def test_unusable_submission_gets_zero_with_the_reason(tmp_path):
    root = _unpack(_build(tmp_path), tmp_path / "autograder", None)  # nothing submitted
    run = _run_autograder(root)
    assert run.returncode == 0, run.stderr
    results = json.loads((root / "results/results.json").read_text())
    assert results["score"] == 0 and results["tests"] == []
    assert "could not be graded" in results["output"] and "No graded function found" in results["output"]
    assert "grade: error" not in results["output"]


def test_bundle_refuses_an_unreadable_seed_and_exercises_outside_the_assignment(tmp_path):
    assignment = _course(tmp_path)
    run = CliRunner().invoke(main, ["gradescope-bundle", "--out", str(tmp_path / "a.zip"), "--assignment",
                                    str(assignment), "--seed-file", str(tmp_path / "missing")])
    assert run.exit_code == 2 and "cannot read the seed file" in run.output, run.output
    shutil.move(assignment.parent / "ex/layers.py", tmp_path / "layers.py")
    assignment.write_text('exercises = ["layers"]\n[exercise.layers]\nfile = "../layers.py"\n')
    run = CliRunner().invoke(main, ["gradescope-bundle", "--out", str(tmp_path / "a.zip"),
                                    "--assignment", str(assignment)])
    assert run.exit_code == 2 and "outside the assignment's folder" in run.output
    assert not (tmp_path / "a.zip").exists()



def test_package_option_installs_that_instead_of_the_wheel(tmp_path):
    bundle = _build(tmp_path, "--package", "nn-autograder @ git+https://example.org/grader@v1")
    with zipfile.ZipFile(bundle) as archive:
        setup = archive.read("setup.sh").decode()
        assert wheel_name() not in archive.namelist()
    assert "pip\" install 'nn-autograder @ git+https://example.org/grader@v1'" in setup
