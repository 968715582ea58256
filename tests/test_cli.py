"""The `grade` command: default action, subcommands, outputs and exit codes."""
from __future__ import annotations

import json

from click.testing import CliRunner
from helpers import make_submission

from grader.cli import main


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
    # tanh's backward is no longer the derivative of the student's own forward: gradcheck says so.
    assert sorted(t["tags"][1] for t in lost) == ["forward", "gradcheck"]
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
