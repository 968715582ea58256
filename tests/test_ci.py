"""CI outputs: exit codes under a threshold, JUnit XML, GitHub's step summary and annotations, and
the workflow `grade init-ci` writes (valid YAML running the README's commands)."""
from __future__ import annotations

import json
import re
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from helpers import make_submission

from grader import __version__
from grader.assignment import load_assignment
from grader.ci import annotation_commands, fit_summary, threshold_failure
from grader.cli import main
from grader.init_ci import grade_command, install_commands, render_workflow
from grader.results import CheckResult, ExerciseResult, GradeResult, Hint, Location

README = Path(__file__).resolve().parent.parent / "README.md"
ASCENT = {"layers.py": [("param -= lr * grad", "param += lr * grad")]}  # only sgd_update.update fails
# Outside GitHub, English feedback, the practice seed: whatever the machine running the tests has set.
CLEAN_ENV = {"GITHUB_ACTIONS": None, "GITHUB_STEP_SUMMARY": None, "GITHUB_WORKSPACE": None, "LANGUAGE": "en",
             "GRADER_PRIVATE_SEED": None, "GRADER_SEED_FILE": None}


def _grade_cli(args, env=None):
    result = CliRunner().invoke(main, args, env={**CLEAN_ENV, **(env or {})}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _ascent_hint() -> str:
    """The start of the catalogued explanation of gradient ascent (before any Markdown-escaped text)."""
    exercise = load_assignment().exercise("layers")
    text = next(m.explanation for u in exercise.units for m in u.mistakes if m.id == "sgd_ascent")
    return re.split(r"[:*_`]", text)[0]


def _def_line(path: Path, name: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(f"def {name}("))


# --- the CI command, end to end -----------------------------------------------------------------


@pytest.mark.slow
def test_ci_command_fails_below_threshold_writes_junit_summary_and_annotations(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    make_submission(tmp_path / "sub", ASCENT)
    hint = _ascent_hint()
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    args = shlex.split(grade_command("sub"))[1:] + ["-e", "layers"]  # the workflow's command
    code, out, err = _grade_cli(args, env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary),
                                           "GITHUB_WORKSPACE": str(tmp_path)})
    assert code == 1
    assert "below the required 100%" in err

    # JUnit: one testcase per check, counts equal to results.json's, feedback as the failure text.
    results = json.loads((tmp_path / "grade-report/results.json").read_text())
    root = ET.parse(tmp_path / "grade-report/junit.xml").getroot()
    cases = root.findall(".//testcase")
    assert int(root.get("tests")) == len(cases) == len(results["tests"]) > 20
    lost = [t for t in results["tests"] if t["score"] < t["max_score"]]
    # The update, and the inputs check that earns nothing while the update is wrong.
    assert int(root.get("failures")) + int(root.get("errors")) == len(lost) == 2
    assert root.find(".//testcase[@name='sgd_update.inputs']/failure") is not None
    assert {c.get("classname") for c in cases} == {"layers"}
    assert len({c.get("name") for c in cases}) == len(cases)
    failure = root.find(".//testcase[@name='sgd_update.update']/failure")
    assert failure is not None and hint in failure.text

    # Step summary appended after the earlier step's text, with score, table and hint.
    text = summary.read_text()
    assert text.startswith("earlier step\n")
    assert re.search(r"\| `sgd_update.update` \| ❌ failed \| 0.0 / [\d.]+ \|", text)
    assert hint in text and "Score: **" in text

    # One annotation, at the student's `def sgd_update`, relative to the repository root.
    commands = [line for line in out.splitlines() if line.startswith("::")]
    line = _def_line(tmp_path / "sub/layers.py", "sgd_update")
    assert len(commands) == 1
    assert commands[0].startswith(f"::error file=sub/layers.py,line={line},title=sgd_update%3A lost ")
    assert hint in commands[0]

    # The same submission passes a threshold under its score; outside GitHub nothing is annotated.
    percent = 100 * sum(t["score"] for t in results["tests"]) / sum(t["max_score"] for t in results["tests"])
    code, out, err = _grade_cli(args[:-4] + ["--fail-under", f"{int(percent)}", "-e", "layers"])
    assert code == 0, err
    assert not any(line.startswith("::") for line in out.splitlines())
    assert summary.read_text() == text


# --- thresholds, annotations, summary on hand-built results ---------------------------------------


def _result(checks, submission="sub") -> GradeResult:
    return GradeResult(submission=submission, exercises=[ExerciseResult("layers", "Layers", checks=checks)])


def _check(function, score, max_score, status, line=None, file="layers.py", **kw):
    location = Location(file, line) if line else None
    return CheckResult("layers", function, kw.pop("kind", "forward"), max_score, score, status,
                       kw.pop("message", f"{function} is wrong"), location=location, **kw)


@pytest.mark.parametrize("score, fail_under, fails", [
    (3.0, None, False), (0.0, None, False),  # no threshold: grading completed is success
    (3.0, 100, False), (2.99, 100, True), (1.5, 50, False), (1.49, 50, True),
    (2.0, 66.67, False),  # 2/3 of the points is 66.67 % after rounding
])
def test_threshold(score, fail_under, fails):
    result = _result([_check("f", score, 3.0, "passed" if score == 3 else "failed", 1)])
    assert (threshold_failure(result, fail_under) is not None) == fails


def test_threshold_with_nothing_to_earn_passes():
    assert threshold_failure(_result([]), 100) is None


def test_annotations_keep_the_ten_most_important(tmp_path):
    (tmp_path / "sub").mkdir()
    checks = [_check(f"f{i}", 0.0, 1.0 + i, "failed", 10 + i) for i in range(11)]
    checks.append(_check("stub", 0.0, 50.0, "not_attempted", 3))  # most points, but not written yet: last
    checks.append(_check("missing", 0.0, 9.0, "not_attempted"))  # no definition to point at
    commands = annotation_commands(_result(checks, str(tmp_path / "sub")), tmp_path)
    assert len(commands) == 11 and commands[-1].startswith("::notice::2 more definitions")
    titles = [re.search(r"title=(\w+)%3A", c).group(1) for c in commands[:10]]
    assert titles == [f"f{i}" for i in range(10, 0, -1)]  # most points lost first


def test_annotation_merges_a_definitions_checks_and_escapes_student_text(tmp_path):
    (tmp_path / "sub").mkdir()
    hostile = "ValueError: \x1b[31m::error file=x.py::forged 100%, really: yes\x00"
    checks = [_check("relu", 0.0, 2.0, "failed", 5, message=hostile),
              _check("relu", 0.5, 1.0, "failed", 5, kind="gradcheck", hint=Hint("sign_flip", "flip it")),
              _check("relu", 1.0, 1.0, "passed", 5, kind="interface")]
    commands = annotation_commands(_result(checks, str(tmp_path / "sub")), tmp_path)
    assert len(commands) == 1
    command = commands[0]
    assert not any(ch in command for ch in "\n\r\x1b\x00")  # one line: nothing can start a second command
    assert command.startswith("::error file=sub/layers.py,line=5,title=relu%3A lost 2.5 of 4.0 points::")
    message = command.split("points::", 1)[1]
    assert message.split("%0A") == ["forward: ValueError: ::error file=x.py::forged 100%25, really: yes",
                                    "gradcheck: relu is wrong", "  Hint: flip it"]


def test_notebook_and_outside_annotations(tmp_path):
    (tmp_path / "repo/sub").mkdir(parents=True)
    cell = CheckResult("layers", "relu", "forward", 1.0, 0.0, "failed", "wrong",
                       location=Location("hw.ipynb", 40, cell=3, cell_id="abc", cell_line=2))
    [command] = annotation_commands(_result([cell], str(tmp_path / "repo/sub")), tmp_path / "repo")
    assert command.startswith("::error file=sub/hw.ipynb,title=relu%3A lost 1.0 of 1.0 points (hw.ipynb%2C cell 3")
    [outside] = annotation_commands(_result([cell], str(tmp_path / "elsewhere")), tmp_path / "repo")
    assert outside.startswith("::error title=")  # not inside the repository: no file to point at


def test_long_summary_is_cut_at_a_heading():
    sections = [f"## part {i}\n\n````text\n# printed by the student\n```\n{'x' * 300}\n````\n\n" for i in range(10)]
    text = "# Report\n\n" + "".join(sections)
    assert fit_summary(text, limit=10_000) == text
    cut = fit_summary(text, limit=1200)
    assert len(cut.encode()) <= 1200 and "shortened" in cut
    assert cut.count("````") % 2 == 0 and "## part 2" in cut and "## part 3" not in cut


# --- grade init-ci --------------------------------------------------------------------------------


def _readme_ci_commands() -> list[str]:
    section = README.read_text().split("## Continuous integration", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_github_workflow_is_valid_yaml_running_the_readmes_commands(tmp_path):
    code, out, err = _grade_cli(["init-ci", "--repo", str(tmp_path)])
    assert code == 0, err
    workflow = yaml.safe_load((tmp_path / ".github/workflows/grade.yml").read_text())
    assert set(workflow["on"]) >= {"push", "pull_request"}
    steps = workflow["jobs"]["grade"]["steps"]
    commands = [line for step in steps for line in step.get("run", "").splitlines() if line.strip()]
    readme = _readme_ci_commands()
    assert commands == install_commands() + [grade_command()]
    # The README shows the same commands; only the wheel's version moves with releases.
    pin = re.compile(r"nn_autograder-[\w.]+-py3-none-any\.whl")
    assert [pin.sub("PIN", c) for c in commands] == [pin.sub("PIN", c) for c in readme]
    assert commands[1] == f"pip install .grader/nn_autograder-{__version__}-py3-none-any.whl"
    assert (tmp_path / ".grader" / f"nn_autograder-{__version__}-py3-none-any.whl").is_file()
    assert "--index-url https://download.pytorch.org/whl/cpu" in commands[0]
    assert "--fail-under" in commands[2] and "--seed-file" not in commands[2]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and upload["with"]["path"] == "grade-report/"


def test_gitlab_workflow_and_options(tmp_path):
    code, _, err = _grade_cli(["init-ci", "--provider", "gitlab", "--repo", str(tmp_path), "--submission",
                               "my code/", "--fail-under", "62.5", "--assignment", "course/hw2.toml"])
    assert code == 0, err
    job = yaml.safe_load((tmp_path / ".gitlab-ci.yml").read_text())["grade"]
    grade = job["script"][-1]
    assert shlex.split(grade) == ["grade", "my code/", "--out", "grade-report", "--junit", "grade-report/junit.xml",
                                  "--fail-under", "62.5", "--assignment", "course/hw2.toml"]
    assert job["artifacts"]["reports"]["junit"] == "grade-report/junit.xml"
    assert job["artifacts"]["when"] == "always"

    code, _, err = _grade_cli(["init-ci", "--provider", "gitlab", "--repo", str(tmp_path)])
    assert code == 2 and "already exists" in err
    code, _, _ = _grade_cli(["init-ci", "--provider", "gitlab", "--repo", str(tmp_path), "--force"])
    assert code == 0 and "my code" not in (tmp_path / ".gitlab-ci.yml").read_text()


def test_workflow_rejects_a_value_that_would_break_a_line():
    with pytest.raises(Exception, match="one line"):
        render_workflow(submission="sub\n      - run: curl evil")


def test_package_option_installs_that_and_writes_no_wheel(tmp_path):
    code, _, err = _grade_cli(["init-ci", "--repo", str(tmp_path), "--package",
                               "nn-autograder @ git+https://example.org/grader@v1"])
    assert code == 0, err
    steps = yaml.safe_load((tmp_path / ".github/workflows/grade.yml").read_text())["jobs"]["grade"]["steps"]
    install = next(s["run"] for s in steps if "Install" in s.get("name", ""))
    assert "pip install 'nn-autograder @ git+https://example.org/grader@v1'" in install
    assert not (tmp_path / ".grader").exists()
