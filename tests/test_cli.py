"""The `grade` command: default action, subcommands, outputs and exit codes."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from helpers import make_submission

from grader.cli import main

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_missing_path_is_a_usage_error_in_one_line(tmp_path):
    result = invoke(str(tmp_path / "nope"))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0] and "nope" in lines[0]


def test_unknown_exercise_is_a_usage_error(tmp_path):
    result = invoke("--example", "-e", "no_such_exercise", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "no_such_exercise" in result.output and "layers" in result.output


def test_grade_path_writes_reports_and_exits_0_even_when_points_are_lost(tmp_path):
    sub = make_submission(tmp_path / "sub", {"layers.py": [("return np.tanh(x)", "return x")]})
    out = tmp_path / "out"
    result = invoke(str(sub), "-e", "layers", "--out", str(out), "--no-color")
    assert result.exit_code == 0, result.output
    assert str(out / "report.html") in result.output
    assert "tanh_forward.forward" in result.output
    results = json.loads((out / "results.json").read_text())
    tags = {tuple(t["tags"][:2]) for t in results["tests"]}
    assert ("layers", "forward") in tags and all(t[0] == "layers" for t in tags)
    lost = [t for t in results["tests"] if t["score"] < t["max_score"]]
    # tanh's backward is no longer the derivative of the student's own forward: gradcheck says so; the
    # inputs check earns nothing while the forward is wrong.
    assert sorted(t["tags"][1] for t in lost) == ["forward", "gradcheck", "inputs"]
    assert results["extra_data"]["seed_kind"] == "practice"
    assert (out / "report.md").exists()


def test_private_seed_changes_cases_and_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_PRIVATE_SEED", "123456")
    out = tmp_path / "out"
    assert invoke("--example", "-e", "layers", "--out", str(out)).exit_code == 0
    assert json.loads((out / "results.json").read_text())["extra_data"]["seed_kind"] == "private"


def test_list_and_starter(tmp_path):
    listed = invoke("list")
    assert listed.exit_code == 0 and "layers" in listed.output and "network" in listed.output
    kit = tmp_path / "kit"
    assert invoke("starter", "--out", str(kit)).exit_code == 0
    text = (kit / "layers.py").read_text()
    assert "def relu_forward(x):" in text and "raise NotImplementedError" in text
    compile(text, "layers.py", "exec")


def test_help_lists_the_grading_options_and_errors_name_only_commands_it_shows():
    text = invoke("--help").output
    for option, help_text in [("--lang", "Language of the feedback"), ("--junit", "JUnit XML"),
                              ("--fail-under", "Exit with status 1"), ("-e, --exercise", "Grade only this exercise"),
                              ("--timing", "time the training workload"), ("--out", "report.html"),
                              ("--assignment", "Assignment file"), ("--example", "bundled example")]:
        assert option in text and help_text in text, option
    assert "  submission " not in text.split("Commands:")[1]  # the hidden command is not offered
    for args in (["--bogus"], ["somewhere", "--lang", "fr"], ["somewhere", "--fail-under", "200"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2 and "grade submission" not in result.output, result.output
        assert "Try 'grade --help'" in result.output


def _zip(path, files: dict[str, str]):
    import zipfile
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def test_a_zip_is_graded_like_a_folder_and_unpacked_as_batch_does(tmp_path):
    from helpers import SOLUTION
    archive = _zip(tmp_path / "alice.zip", {"hw/layers.py": (SOLUTION / "layers.py").read_text()})
    out = tmp_path / "out"
    result = invoke(str(archive), "-e", "layers", "--out", str(out), "--no-color")
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert sum(t["score"] for t in results["tests"]) == sum(t["max_score"] for t in results["tests"]) > 0
    for name in ("results.json", "report.html", "report.md"):
        assert "grade-zip-" not in (out / name).read_text()
    assert "grade-zip-" not in result.output and "alice.zip" in (out / "report.md").read_text()

    evil = _zip(tmp_path / "evil.zip", {"../outside.py": "x = 1\n"})
    refused = CliRunner().invoke(main, [str(evil), "-e", "layers", "--out", str(out)])
    assert refused.exit_code == 2 and "points outside the submission" in refused.output
    assert not (tmp_path / "outside.py").exists()
    empty = _zip(tmp_path / "empty.zip", {"notes.txt": "hello"})
    nothing = CliRunner().invoke(main, [str(empty), "-e", "layers", "--out", str(out)])
    assert nothing.exit_code == 2 and str(empty) in nothing.output and "grade-zip-" not in nothing.output


def test_no_internal_temporary_path_reaches_the_student(tmp_path):
    """Student code that fails with its own path in the message and prints where it runs: every output
    shows paths relative to the submission, never the grader's working copy."""
    import tempfile
    sub = make_submission(tmp_path / "sub", {"layers.py": [(
        "return np.maximum(0, x)",
        "import os; print('running in', os.getcwd(), __file__); raise ValueError('bad ' + __file__)")]})
    out = tmp_path / "out"
    result = invoke(str(sub), "-e", "layers", "--out", str(out), "--junit", str(out / "junit.xml"), "--no-color")
    assert result.exit_code == 0, result.output
    texts = {"terminal": result.output, **{n: (out / n).read_text() for n in (
        "report.html", "report.md", "results.json", "junit.xml")}}
    assert "raised ValueError: bad layers.py" in texts["report.md"]
    for name, text in texts.items():
        assert "grader-sandbox-" not in text, name
        assert f"{tempfile.gettempdir()}/grade" not in text, name


def test_an_empty_or_unrelated_submission_gets_one_sentence(tmp_path):
    (tmp_path / "empty").mkdir()
    unrelated = tmp_path / "unrelated"
    unrelated.mkdir()
    (unrelated / "notes.py").write_text("def hello():\n    return 1\n")
    for folder in (tmp_path / "empty", unrelated):
        result = CliRunner().invoke(main, [str(folder), "--out", str(tmp_path / "out")])
        assert result.exit_code == 2
        [line] = result.output.strip().splitlines()
        assert f"No graded function found in {folder}: expected files that define relu_forward, relu_backward, " \
               f"sigmoid_forward, … (" in line and "see `grade starter`" in line
        assert "softmax_cross_entropy" not in line  # not the whole list


class _Exited(Exception):
    pass


@pytest.mark.parametrize("args, code", [(["list"], 0), (["/no/such/submission"], 2)], ids=["success", "usage error"])
def test_run_exits_with_mains_code_without_tearing_torch_down(monkeypatch, args, code):
    """`grade` is cli.run: once torch is loaded it runs the atexit handlers, flushes and calls os._exit
    with main's status (the teardown of torch takes about a second and frees nothing that matters)."""
    import torch  # noqa: F401 - loaded, as after any grading

    from grader import cli
    calls = []
    monkeypatch.setattr(cli.os, "_exit", lambda status: (calls.append(("exit", status)), _raise()))
    monkeypatch.setattr(cli, "atexit", type("Handlers", (), {"_run_exitfuncs": staticmethod(
        lambda: calls.append(("atexit", None)))}))
    monkeypatch.setattr("sys.argv", ["grade", *args])
    with pytest.raises(_Exited):
        cli.run()
    assert calls == [("atexit", None), ("exit", code)]


def _raise():
    raise _Exited


def test_grade_program_exits_1_under_fail_under_with_the_whole_report_on_a_pipe(tmp_path):
    import subprocess
    import sys
    sub = make_submission(tmp_path / "sub", {"layers.py": [("return np.tanh(x)", "return x")]})
    done = subprocess.run([sys.executable, "-m", "grader.cli", str(sub), "-e", "layers", "--out", str(tmp_path / "out"),
                           "--no-color", "--fail-under", "100"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr
    assert "tanh_forward.forward" in done.stdout and done.stdout.rstrip().endswith("report.html")
    assert "below the required 100%" in done.stderr
    assert json.loads((tmp_path / "out" / "results.json").read_text())["tests"]
