"""The assignment file: names, points, visibility, tolerances, layout, notebook mode, the grader version
it was written for; `grade list`; and the starter kit of the default assignment, which grades to 0
without errors whatever exercises the default assignment holds."""
from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import pytest
from click.testing import CliRunner
from helpers import SOLUTION, check, failed, make_submission

from grader.assignment import AssignmentError, load_assignment
from grader.checks.base import TOLERANCE_SCALE, compare_output, tolerance_scale
from grader.cli import main
from grader.loader import SubmissionError, plan_submission
from grader.results import NOT_ATTEMPTED
from grader.starter import starter_source, write_starter


def write_assignment(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "assignment.toml"
    path.write_text(text)
    return path


def test_default_starter_kit_grades_to_zero_without_errors(assignment, grade_it, tmp_path):
    kit = tmp_path / "kit"
    written = write_starter(assignment, kit)
    assert len(written) == len(assignment.exercise_ids)
    for path in written:  # every stub is valid Python
        compile(path.read_text(), str(path), "exec")
    names = [n for e in assignment.select(None) for n in e.required_names()]
    assert plan_submission(kit, names).missing == []
    result = grade_it(kit)
    checks = list(result.checks())
    assert len(checks) >= 40
    assert result.score == 0 and result.errors == []
    unexpected = [(c.name, c.status, c.message) for c in checks
                  if c.status != NOT_ATTEMPTED or "not implemented" not in c.message]
    assert unexpected == []


def test_grade_list_prints_every_exercise_with_its_points(assignment):
    output = CliRunner().invoke(main, ["list"], catch_exceptions=False).output
    for exercise in assignment.select(None):
        total = sum(sum(u.checks.values()) for u in exercise.units)
        line = next(line for line in output.splitlines() if line.startswith(exercise.id + " "))
        assert f"{total:.1f}" in line and exercise.title in line
    assert "cost_function" in output and "cost_training 2" in output


# An instructor's own exercise beside the assignment file: ReLU alone, taken from `layers` (fast to grade).
RELU_ONLY = """
from dataclasses import replace

from grader.assignment import builtin_dir, load_exercise_file

layers = load_exercise_file(builtin_dir() / "layers.py")
EXERCISE = replace(layers, id="relu_only", units=layers.units[:1])
"""
NAMES = """
exercises = ["relu_only"]
[exercise.relu_only]
file = "relu_only.py"
[names]
relu_forward = "rectify"
relu_backward = "rectify_grad"
[points.relu_only]
forward = 3
[visibility.relu_only]
gradcheck = "hidden"
"""


def relu_only(folder: Path, text: str = 'exercises = ["relu_only"]\n[exercise.relu_only]\nfile = "relu_only.py"\n'):
    (folder / "relu_only.py").parent.mkdir(parents=True, exist_ok=True)
    (folder / "relu_only.py").write_text(RELU_ONLY)
    return load_assignment(write_assignment(folder, text))


def test_course_names_points_and_visibility_apply_end_to_end(grade_it, tmp_path):
    spec = relu_only(tmp_path, NAMES)
    starter = starter_source(spec.exercise("relu_only"), spec.names)
    assert "def rectify(x):" in starter and "def rectify_grad(dout, x):" in starter and "relu_forward" not in starter
    sub = make_submission(tmp_path / "sub", {"layers.py": [("def relu_forward(x):", "def rectify(x):"),
                                                           ("def relu_backward(dout, x):", "def rectify_grad(dout, x):")]})
    result = grade_it(sub, spec=spec)
    assert failed(result) == [] and len(list(result.checks())) == 6
    forward = check(result, "relu_only", "rectify.forward")
    assert forward.max_score == 3 and forward.score == 3
    assert check(result, "relu_only", "rectify_grad.gradcheck").visibility == "hidden"
    assert check(result, "relu_only", "rectify_grad.backward").visibility == "visible"
    # The course's names are what a submission is looked up by: the canonical ones no longer count.
    with pytest.raises(SubmissionError, match=r"expected files that define rectify, rectify_grad \(2 in all\)"):
        grade_it(SOLUTION, spec=spec)


def test_tolerance_multipliers_scale_the_dtype_default(tmp_path):
    options = {"tolerances": {"rtol": 10.0, "layers": {"atol": 1000}}}
    assert tolerance_scale(options, "layers") == (10.0, 1000.0)
    assert tolerance_scale(options, "losses") == (10.0, 1.0)
    assert tolerance_scale({}, "layers") == (1.0, 1.0)
    expected = np.linspace(1.0, 2.0, 7)
    half = expected.astype(np.float16)  # about 4e-4 off: beyond float32's tolerance, which float16 gets
    assert not compare_output(half, expected, output="out")[0]
    token = TOLERANCE_SCALE.set((1000.0, 1.0))
    try:
        assert compare_output(half, expected, output="out")[0]
        assert not compare_output(half, expected, output="labels", exact=True)[0]  # exact stays exact
    finally:
        TOLERANCE_SCALE.reset(token)


def test_assignment_tolerances_reach_the_checks(grade_it, tmp_path):
    """A float16 ReLU fails float32's tolerance (the unit test above); 1000 times looser, it passes."""
    sub = make_submission(tmp_path / "sub", {"layers.py": [("return np.maximum(0, x)",
                                                            "return np.maximum(0, x).astype(np.float16)")]})
    loose = relu_only(tmp_path, 'exercises = ["relu_only"]\n[exercise.relu_only]\nfile = "relu_only.py"\n'
                                '[tolerances.relu_only]\nrtol = 1000\natol = 1000\n')
    assert check(grade_it(sub, spec=loose), "relu_only", "relu_forward.forward").score == 2


@pytest.mark.parametrize("text, complaint", [
    ('layout = "columns"', 'layout = "columns": expected one of "batch_first", "features_first"'),
    ('[tolerances]\nrtol = -1', r"\[tolerances\] rtol = -1: expected a number above 0"),
    ('[tolerances]\nscale = 2', r"\[tolerances\] scale = 2: expected a table \(besides rtol and atol, only \[tolerances.<id>\]"),
    ('[tolerances.nothing]\nrtol = 2', r"\[tolerances.nothing\] names no exercise in `exercises`"),
    ('grader_version = 2', "grader_version = 2: expected text in quotes"),
])
def test_invalid_options_are_refused_when_the_file_loads(tmp_path, text, complaint):
    path = write_assignment(tmp_path, f'exercises = ["layers"]\n{text}\n')
    with pytest.raises(AssignmentError, match=complaint) as error:
        load_assignment(path)
    assert str(path) in str(error.value)


def test_an_assignment_for_a_newer_grader_warns(tmp_path):
    path = write_assignment(tmp_path, 'grader_version = "99.1"\nexercises = ["layers"]\n')
    spec = load_assignment(path)
    assert len(spec.warnings) == 1 and "99.1" in spec.warnings[0] and "newer than this grader" in spec.warnings[0]
    assert load_assignment(write_assignment(tmp_path / "old", 'grader_version = "0.1"\nexercises = ["layers"]\n')
                           ).warnings == []
    result = CliRunner().invoke(main, ["list", "--assignment", str(path)], catch_exceptions=False)
    assert result.exit_code == 0 and "warning" in result.stderr and "99.1" in result.stderr
    assert "layers" in result.stdout


def test_notebook_mode_reaches_the_notebook_reader(grade_it, tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell((SOLUTION / "layers.py").read_text())]  # not tagged `grade`
    folder = tmp_path / "sub"
    folder.mkdir()
    nbformat.write(notebook, str(folder / "layers.ipynb"))
    tagged = load_assignment(write_assignment(tmp_path, 'exercises = ["layers"]\nnotebook_mode = "tagged"\n'))
    assert tagged.options["notebook_mode"] == "tagged"
    names = tagged.exercise("layers").required_names()
    assert "relu_forward" in plan_submission(folder, names).definitions  # the default mode (defs) finds it
    result = grade_it(folder, spec=tagged)  # "tagged" grades only tagged cells: nothing here
    assert {c.status for c in result.checks()} == {NOT_ATTEMPTED}


def test_the_starter_kit_of_a_features_first_assignment_says_so(assignment, tmp_path):
    spec = load_assignment(write_assignment(tmp_path, 'exercises = ["layers", "network"]\nlayout = "features_first"\n'))
    assert spec.options["layout"] == "features_first"
    layers, network = write_starter(spec, tmp_path / "kit")
    assert "features-first layout" in layers.read_text()
    assert "features-first" not in network.read_text()  # the class is graded batch-first in any layout
    assert "features-first" not in starter_source(assignment.exercise("layers"))
