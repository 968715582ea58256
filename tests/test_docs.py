"""The guides' commands run, so the guides cannot rot.

Every ```bash block of docs/instructors.md, docs/students.md and docs/ci.md runs, and every ```bash test
block of README.md: each guide in a fresh folder holding a copy of docs/examples/ (the guides say they
run from the repository's root and use the example course there), its blocks in order, as written.
A block's commands must exit 0, or N for a block fenced ```bash exit=N (one command). A line holding
`# doc-test: skip` is not run: that marker is for `pip install` lines, which need the network.
Blocks that show a file (```python file=PATH, ```toml file=PATH) must equal that file, and ```yaml
blocks must parse.

A plain `grade ...` line runs in this process through click's test runner (the `grade` entry point is
grader.cli:main), which spares a PyTorch import per command; a line with shell syntax (pipes,
redirections, &&, $) or another program runs in bash.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from grader import i18n
from grader.cli import main

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
GUIDES = ("docs/instructors.md", "docs/students.md", "docs/ci.md")
SKIP = "# doc-test: skip"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)
SHELL_SYNTAX = re.compile(r"[|&;<>$`(){}*]")


@dataclass
class Block:
    source: str  # file:line, for messages
    lang: str
    options: dict[str, str]  # `exit=1`, `file=PATH`; a bare word maps to ""
    text: str


def blocks(path: Path) -> list[Block]:
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        lang, *words = match.group(1).split() or [""]
        options = dict(w.split("=", 1) if "=" in w else (w, "") for w in words)
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(f"{path.name}:{line}", lang, options, match.group(2)))
    return found


def runnable(path: Path) -> list[Block]:
    """The blocks a guide runs: every bash block; in the README, those fenced ```bash test."""
    readme = path.name == "README.md"
    return [b for b in blocks(path) if b.lang == "bash" and ("test" in b.options or not readme)]


def commands(block: Block) -> list[str]:
    """One command per line (a trailing backslash continues it), without the skipped ones."""
    joined = block.text.replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines()
            if line.strip() and not line.strip().startswith("#") and SKIP not in line]


def run_command(line: str, cwd: Path) -> tuple[int, str]:
    """(exit status, output) of one line, run as written from `cwd`."""
    code = line.split(" #", 1)[0]
    words = [] if SHELL_SYNTAX.search(code) else shlex.split(code)
    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):  # VAR=value grade ...
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    if words and words[0] == "grade":
        saved = os.getcwd()
        os.chdir(cwd)
        try:
            result = CliRunner().invoke(main, words[1:], env=env)
        finally:
            os.chdir(saved)
            i18n.set_language("en")  # --lang es must not outlive its command
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output
    bin_dir = str(Path(sys.executable).parent)  # the environment's python, grade and pytest
    environ = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", line], cwd=cwd, env=environ,
                          capture_output=True, text=True, timeout=300)
    return done.returncode, done.stdout + done.stderr


def run_guide(path: Path, cwd: Path, examples: Path | None = ROOT / "docs" / "examples") -> int:
    """Run a guide's blocks in order in `cwd`, beside a copy of `examples`; returns how many commands ran."""
    if examples is not None:
        shutil.copytree(examples, cwd / "docs" / "examples")
    ran = 0
    for block in runnable(path):
        lines = commands(block)
        expected = int(block.options.get("exit", 0))
        assert expected == 0 or len(lines) == 1, f"{block.source}: a block with exit={expected} holds one command"
        for line in lines:
            status, output = run_command(line, cwd)
            assert status == expected, f"{block.source}: `{line}` exited {status}, expected {expected}:\n{output}"
            ran += 1
    return ran


@pytest.mark.parametrize("guide", GUIDES)
def test_every_command_of_the_guide_runs(guide, tmp_path):
    ran = run_guide(ROOT / guide, tmp_path)
    assert ran >= 3  # the extraction found the guide's commands


def test_the_readme_commands_marked_for_testing_run(tmp_path):
    assert run_guide(ROOT / "README.md", tmp_path) >= 1


def test_a_failing_command_fails_the_guide(tmp_path):
    """The runner is not a test that cannot fail: a wrong command or a wrong exit status is reported."""
    guide = tmp_path / "guide.md"
    guide.write_text("```bash\ngrade list --assignment no-such-file.toml\n```\n")
    with pytest.raises(AssertionError, match="exited 2, expected 0"):
        run_guide(guide, tmp_path, examples=None)
    guide.write_text("```bash exit=1\nmkdir -p made && test -d made\n```\n")
    with pytest.raises(AssertionError, match="exited 0, expected 1"):
        run_guide(guide, tmp_path, examples=None)
    guide.write_text("```bash\npip install nothing-at-all  # doc-test: skip (network)\ngrade --help\n```\n")
    assert run_guide(guide, tmp_path, examples=None) == 1


@pytest.mark.parametrize("guide", GUIDES)
def test_files_shown_in_the_guide_are_the_shipped_files(guide):
    shown = [b for b in blocks(ROOT / guide) if "file" in b.options]
    for block in shown:
        assert block.text == (ROOT / block.options["file"]).read_text(encoding="utf-8"), (
            f"{block.source} differs from {block.options['file']}: copy the file into the guide")
    for block in blocks(ROOT / guide):
        if block.lang == "yaml":
            assert isinstance(yaml.safe_load(block.text), dict), block.source


def test_the_instructor_guide_shows_the_whole_worked_example():
    files = {b.options.get("file") for b in blocks(ROOT / "docs" / "instructors.md")}
    assert {"docs/examples/layernorm/layernorm.py", "docs/examples/layernorm/assignment.toml",
            "docs/examples/layernorm/solution/layernorm.py"} <= files
