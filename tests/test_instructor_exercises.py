"""Instructor-authored exercises: a file beside the assignment is graded with no change to the package,
`grade new-exercise` writes one that works, and `grade validate` passes a good assignment and reports
each kind of defect on a bad one."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import check, failed

from grader.assignment import builtin_dir, load_assignment
from grader.checks.base import CheckContext
from grader.cli import main
from grader.scaffold import toml_snippet
from grader.validate import DEFECT, unit_findings

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "layernorm"


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def course(tmp_path: Path) -> Path:
    """The LayerNorm exercise and its assignment file, alone in a folder of their own."""
    folder = tmp_path / "course"
    folder.mkdir()
    for name in ("layernorm.py", "assignment.toml"):
        shutil.copy(EXAMPLE / name, folder / name)
    return folder


def solution(tmp_path: Path, edits: list[tuple[str, str]] = ()) -> Path:
    text = (EXAMPLE / "solution" / "layernorm.py").read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new)
    folder = tmp_path / "submission"
    folder.mkdir()
    (folder / "layernorm.py").write_text(text)
    return folder


# --- a LayerNorm exercise beside an assignment --------------------------------------------------------


def test_an_exercise_file_beside_the_assignment_is_graded_with_no_change_to_the_package(tmp_path, grade_it):
    assert not (builtin_dir() / "layernorm.py").exists()
    assert "layernorm" not in load_assignment().exercise_ids
    spec = load_assignment(course(tmp_path) / "assignment.toml")
    result = grade_it(solution(tmp_path), spec=spec)
    assert failed(result) == [] and result.score == result.max_score == 6
    kinds = {c.kind for c in result.checks()}
    assert kinds == {"interface", "forward", "backward", "gradcheck", "inputs"}
    assert check(result, "layernorm", "layernorm_backward.gradcheck").visibility == "after_due_date"


# Correct code in another style: float32 throughout, (1, D) gradients for gamma and beta.
FLOAT32 = [("def layernorm_forward(x, gamma, beta, eps):\n", "def layernorm_forward(x, gamma, beta, eps):\n"
            "    x, gamma, beta = (a.astype(np.float32) for a in (x, gamma, beta))\n"),
           ("def layernorm_backward(dout, x, gamma, eps):\n", "def layernorm_backward(dout, x, gamma, eps):\n"
            "    dout, x, gamma = (a.astype(np.float32) for a in (dout, x, gamma))\n"),
           ("return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)",
            "return dx, (dout * x_hat).sum(axis=0, keepdims=True), dout.sum(axis=0, keepdims=True)")]
# (edits, the checks that lose points, (the check that names the mistake, its hint))
BUGS = {
    "unbiased variance": (
        [("    var = x.var(axis=1, keepdims=True)\n    return", "    var = x.var(axis=1, ddof=1, keepdims=True)\n    return")],
        ["layernorm_backward.gradcheck", "layernorm_forward.forward", "layernorm_forward.inputs"],  # inputs: forward
        ("layernorm_forward.forward", "mistake:layernorm_unbiased_variance")),
    "backward ignores the statistics": (
        [("dx = (g - g.mean(axis=1, keepdims=True) - x_hat * (g * x_hat).mean(axis=1, keepdims=True)) "
          "/ np.sqrt(var + eps)", "dx = g / np.sqrt(var + eps)")],
        ["layernorm_backward.backward", "layernorm_backward.gradcheck"],
        ("layernorm_backward.backward", "mistake:layernorm_backward_ignores_statistics")),
}


@pytest.mark.parametrize("variant", ["float32", *BUGS])
def test_the_exercise_file_grades_right(tmp_path, grade_it, variant):
    spec = load_assignment(course(tmp_path) / "assignment.toml")
    edits, lost, named = (FLOAT32, [], None) if variant == "float32" else BUGS[variant]
    result = grade_it(solution(tmp_path, edits), spec=spec)
    assert failed(result) == lost
    if named:
        assert check(result, "layernorm", named[0]).hint.code == named[1]


# --- grade new-exercise ---------------------------------------------------------------------------------


def test_new_exercise_writes_a_working_exercise_that_validates(tmp_path):
    folder = tmp_path / "course"
    out = invoke("new-exercise", "mynorm", "--dir", str(folder))
    assert out.exit_code == 0
    path = folder / "mynorm.py"
    assert toml_snippet("mynorm", path) in out.output  # the snippet to paste into the assignment
    (folder / "assignment.toml").write_text("practice_seed = 7\n" + toml_snippet("mynorm", path))
    (folder / "solution").mkdir()
    (folder / "solution" / "mynorm.py").write_text(
        (EXAMPLE / "solution" / "layernorm.py").read_text().replace("layernorm_", "mynorm_"))
    report = invoke("validate", "--assignment", str(folder / "assignment.toml"))
    assert report.exit_code == 0, report.output
    assert "No defects" in report.output and "mynorm_over_the_batch caught and named" in report.output
    # It never replaces a file, and NAME must make an exercise id and function names.
    assert invoke("new-exercise", "mynorm", "--dir", str(folder)).exit_code == 2
    for bad in ("2norm", "My-Norm", "class"):
        assert invoke("new-exercise", bad, "--dir", str(folder)).exit_code == 2
    assert invoke("new-exercise", "mynorm", "--dir", str(folder), "--force").exit_code == 0


# --- grade validate on a bad assignment -----------------------------------------------------------------

# One exercise per defect: (exercise file, model solution, stages that must report a defect, what they say).
FUNCTION = '''
import torch
from grader.spec import Arg, Backward, Case, Exercise, Function, Mistake
CASES = (Case({{"N": 3, "D": 4}}), Case({{"N": 1, "D": 5}}))
unit = Function(name="{name}", args={{"x": Arg(shape=("N", "D"))}}, reference={reference}, cases=CASES,
                checks={{"interface": 0.5, "forward": 1.0{checks}}}, mistakes=({mistakes}), backward={backward})
EXERCISE = Exercise(id="{id}", title="{id}", units=(unit,))
'''
DEFECTS = {
    # A reference that draws random numbers: two evaluations differ (and the solution cannot match it).
    "noisy": (dict(name="noisy_tanh", reference="lambda x: torch.tanh(x) + 1e-3 * torch.rand_like(x)"),
              "import numpy as np\ndef noisy_tanh(x):\n    return np.tanh(x)\n",
              {"references": "not deterministic", "model solution": "loses points at noisy_tanh.forward"}),
    # A .detach() makes autograd's gradient x where the derivative is 2x.
    "detached": (dict(name="square", reference="lambda x: x * x.detach()", checks=', "backward": 1.0',
                      backward='Backward(name="square_backward", args=("dout", "x"), wrt=("x",))'),
                 "def square(x):\n    return x * x\ndef square_backward(dout, x):\n    return 2 * x * dout\n",
                 {"references": "do not match finite differences", "model solution": "square_backward.backward"}),
    # A check that zeros pass: the reference is zero.
    "zeros": (dict(name="nothing", reference="torch.zeros_like"),
              "import numpy as np\ndef nothing(x):\n    return np.zeros_like(x)\n",
              {"loose checks": "an all-zero output passes .* on case 1: x \\(3, 4\\); case 2"}),
    # A check that anything passes: the assignment's [tolerances.tolerant] multiplies atol by 1e9.
    "tolerant": (dict(name="double", reference="lambda x: 2 * x"), "def double(x):\n    return 2 * x\n",
                 {"loose checks": "an all-zero output passes|a constant output .*passes"}),
    # The catalogue: a mistake equal to the reference, two with the same outputs, one for a check the
    # unit does not grade, one that raises, a backward mistake among the forward's; the first `cube` is fine.
    "catalogue": (dict(name="square_it", reference="lambda x: x ** 2", mistakes=(
        'Mistake("same_as_reference", "-", lambda x: x * x), Mistake("cube", "-", lambda x: x ** 3), '
        'Mistake("cube_again", "-", lambda x: x * x * x), Mistake("for_update", "-", lambda x: x, check="update"), '
        'Mistake("broken", "-", lambda x: x.no_such_method()), '
        'Mistake("misplaced", "-", lambda x: x, check="backward"),')),
                  "def square_it(x):\n    return x ** 2\n",
                  {"mistakes": "same_as_reference is not caught|cube_again is caught but never named.*mistake:cube"
                               "|for_update imitates check 'update'|broken: its reference raised AttributeError"
                               "|misplaced says check=\"backward\" but is in the forward's mistakes",
                   # a mistake that raises costs the check that compares with it (the run goes on)
                   "model solution": "could not run this check \\(AttributeError"}),
    # A model solution that loses points.
    "buggy": (dict(name="triple", reference="lambda x: 3 * x"), "def triple(x):\n    return 3 * x + 1e-3\n",
              {"model solution": "loses points at triple.forward"}),
}


# A starter kit that earns points: the class stub of a Model exercise is the working class.
LEAKY_STUB = '''
from dataclasses import replace
from grader.assignment import builtin_dir, load_exercise_file
network = load_exercise_file(builtin_dir() / "network.py")
model = replace(network.units[0], checks={"model_forward": 1.0}, mistakes=(),
                doc=(builtin_dir() / "solution" / "network.py").read_text())
EXERCISE = replace(network, id="leaky_stub", title="leaky_stub", units=(model,), starter="leaky_stub.py")
'''
DEFECTS["leaky_stub"] = ({}, (builtin_dir() / "solution" / "network.py").read_text(),
                         {"starter kit": "earns points at NeuralNetwork.forward"})


def bad_assignment(folder: Path) -> Path:
    (folder / "solution").mkdir(parents=True)
    for exercise_id, (fields, solution_code, _expected) in DEFECTS.items():
        fields = {"checks": "", "mistakes": "", "backward": "None", **fields}
        source = LEAKY_STUB if exercise_id == "leaky_stub" else FUNCTION.format(id=exercise_id, **fields)
        (folder / f"{exercise_id}.py").write_text(source)
        (folder / "solution" / f"{exercise_id}.py").write_text(solution_code)
    (folder / "assignment.toml").write_text(
        f"exercises = {list(DEFECTS)!r}\npractice_seed = 11\n[tolerances.tolerant]\natol = 1e9\n"
        + "".join(f'[exercise.{i}]\nfile = "{i}.py"\n' for i in DEFECTS))
    return folder / "assignment.toml"


def parse_report(text: str) -> dict[str, dict[str, list[str]]]:
    """exercise -> stage -> the FAIL messages, from the terminal report."""
    found: dict[str, dict[str, list[str]]] = {}
    exercise = None
    for line in text.splitlines():
        if line and not line.startswith(" ") and line in DEFECTS:
            exercise = line
        match = re.match(r"  FAIL  (.{15}) (.*)", line)
        if match and exercise:
            found.setdefault(exercise, {}).setdefault(match.group(1).strip(), []).append(match.group(2))
    return found


def test_validate_reports_each_kind_of_defect(tmp_path):
    out = invoke("validate", "--assignment", str(bad_assignment(tmp_path)))
    assert out.exit_code == 1
    report = parse_report(out.output)
    for exercise_id, (_fields, _code, expected) in DEFECTS.items():
        stages = report.get(exercise_id, {})
        assert set(stages) == set(expected), (exercise_id, stages)
        for stage, pattern in expected.items():
            for part in pattern.split("|"):
                assert any(re.search(part, message) for message in stages[stage]), (exercise_id, part, stages[stage])
    assert len(report["catalogue"]["mistakes"]) == 5  # `cube` itself is caught and named
    assert "cube caught and named" in out.output
    assert re.search(r"\d+ defect\(s\)", out.output)


@pytest.mark.parametrize("bundled", [None, "bridge.toml"])
def test_validate_finds_no_defect_in_the_built_in_catalogues(bundled):
    """Every built-in reference, check and mistake the parent side can replay holds up (the model
    solution and the starter kit of the default assignment are graded by other tests). The PyTorch
    exercises' mistakes must name the kind that compares them, or they are never compared."""
    assignment = load_assignment(builtin_dir() / bundled if bundled else None)
    defects = []
    for exercise in assignment.select(None):
        ctx = CheckContext(sandbox=None, exercise=exercise, seed=assignment.practice_seed, definitions={},
                           options=assignment.options)
        for unit in exercise.units:
            defects += [f"{f.exercise}: {f.message}" for f in unit_findings(ctx, unit) if f.status == DEFECT]
    assert defects == []
