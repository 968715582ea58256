"""The grading process never touches the student's tree after the initial copy (docs/security.md).

The copy takes regular files and folders only; every file operation a check needs runs in the child. The
attacks plant links for the grader to follow: shipped in the upload, or made at run time by save_model
(to the grader's environment, a classmate's results, a read that blocks). None is followed by the
grader, nothing outside is read or written, and grading finishes."""
from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import check, make_submission

import grader
from grader.results import PASSED
from grader.sandbox import workdir
from grader.sandbox.session import Sandbox

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(sys.platform != "linux", reason="links, FIFOs and /proc are Linux's here")]

HOSTILE = Path(__file__).parent / "hostile"


def planted(tmp_path: Path, **attack) -> Path:
    """The model solution whose utils.py takes save_model/load_model from tests/hostile/planted_links.py."""
    sub = make_submission(tmp_path / "sub")
    shutil.copy(HOSTILE / "planted_links.py", sub / "planted_links.py")
    (sub / "attack.json").write_text(json.dumps(attack))
    with open(sub / "utils.py", "a") as f:
        f.write("\nfrom planted_links import load_model, save_model  # noqa: E402,F401\n")
    return sub


def save_load(result):
    return check(result, "utils", "save_model.save_load")


def test_a_link_to_the_graders_environment_is_not_followed_by_the_grader(tmp_path):
    """The grader runs in a process of its own, with the private seed in its environment."""
    sub = planted(tmp_path, mode="read", target="parent-environ", pattern="GRADER_PRIVATE_SEED")
    script = ("import json, sys; from pathlib import Path; from grader.assignment import load_assignment; "
              "from grader.engine import grade; from grader.seeds import resolve_seed; a = load_assignment(None); "
              "r = grade(Path(sys.argv[1]), a, resolve_seed(a.practice_seed), exercise_ids=['utils']); "
              "print(json.dumps(r.to_dict()))")
    env = {**os.environ, "GRADER_PRIVATE_SEED": "SEED-" + "7" * 40}
    out = subprocess.run([sys.executable, "-c", script, str(sub)], env=env, capture_output=True, text=True,
                         timeout=300)
    result = json.loads(out.stdout)
    checks = {c["function"] + "." + c["kind"]: c for e in result["exercises"] for c in e["checks"]}
    assert checks["save_model.save_load"]["status"] != PASSED
    assert "7777777777" not in out.stdout


def test_a_link_to_a_private_file_is_not_followed_by_the_grader(grade_it, tmp_path):
    secret = tmp_path / "private" / "model_solution.txt"
    secret.parent.mkdir()
    secret.write_text("SOLUTION-" + "4" * 40)
    secret.chmod(0o600)
    result = grade_it(planted(tmp_path, mode="read", target=str(secret), pattern="SOLUTION"), exercises=["utils"])
    assert save_load(result).status != PASSED
    assert "4444444444" not in json.dumps(result.to_dict())


def test_a_link_to_a_classmates_results_is_not_written_through(grade_it, tmp_path):
    victim = tmp_path / "graded" / "classmate" / "results.json"
    victim.parent.mkdir(parents=True)
    victim.write_text('{"score": 176.5}')
    result = grade_it(planted(tmp_path, mode="write", target=str(victim)), exercises=["utils"])
    assert victim.read_text() == '{"score": 176.5}' and not victim.is_symlink()
    assert save_load(result).status == PASSED  # the honest save/load pair still earns its points


def test_a_read_that_blocks_costs_the_check_not_the_grade(grade_it, tmp_path):
    started = time.monotonic()
    result = grade_it(planted(tmp_path, mode="block"), exercises=["utils"])
    assert save_load(result).status != PASSED
    assert check(result, "utils", "shuffle_data.shuffle").status == PASSED  # grading went on
    assert time.monotonic() - started < 60


def test_links_and_special_files_in_the_upload_are_not_copied(grade_it, tmp_path):
    victim = tmp_path / "classmate.json"
    victim.write_text("untouched")
    sub = make_submission(tmp_path / "sub")
    os.symlink(victim, sub / "_grader_roundtrip_copy.npz")  # where the grader's copy goes
    os.symlink("/etc/passwd", sub / "data.txt")
    os.mkfifo(sub / "pipe")
    (sub / "nested").mkdir()
    os.symlink("/", sub / "nested" / "root")
    result = grade_it(sub, exercises=["utils"])
    notes = "\n".join(result.notes)
    for name in ("_grader_roundtrip_copy.npz", "data.txt", "nested/root"):
        assert f"{name} is a symbolic link; it was not copied" in notes
    assert "pipe is a FIFO (named pipe); it was not copied" in notes
    assert save_load(result).status == PASSED and victim.read_text() == "untouched"


def test_the_copy_is_capped_and_leaves_out_what_does_not_fit(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(5):
        (src / f"f{i}.bin").write_bytes(b"x" * 1000)
    notes = workdir.copy_tree(src, tmp_path / "dest", max_files=3, max_bytes=10**6)
    assert len(list((tmp_path / "dest").iterdir())) == 3 and "2 files were not copied" in notes[-1]
    notes = workdir.copy_tree(src, tmp_path / "dest2", max_files=100, max_bytes=2500)
    assert len(list((tmp_path / "dest2").iterdir())) == 2 and "3 files were not copied" in notes[-1]


def test_files_read_what_the_child_wrote_and_refuse_paths_outside(tmp_path):
    (tmp_path / "m.py").write_text(
        "import os\ndef write():\n    open('out.txt', 'w').write('hi')\n    os.mkfifo('fifo')\n")
    with Sandbox(tmp_path, ["m"]) as sb:
        assert sb.call("write").ok
        out = sb.files(("is_file", "out.txt"), ("read", "out.txt"), ("read", "fifo"), ("copy", "fifo", "x"),
                       ("remove", "out.txt"), ("is_file", "out.txt"))
        assert out.ok and bytes(out.value[1]) == b"hi"
        assert out.value[0] is True and out.value[2:] == [None, False, True, False]
        assert not sb.files(("read", "../.owner")).ok and not sb.files(("read", "/etc/passwd")).ok


def _sandbox_attribute_uses(tree: ast.AST) -> list[str]:
    """`x.sandbox.cwd`, `sandbox._copy`, `sandbox.root`... : a path of the working copy reached from a sandbox."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("cwd", "root", "_copy"):
            inner = node.value
            name = inner.attr if isinstance(inner, ast.Attribute) else getattr(inner, "id", "")
            if "sandbox" in name.lower() or name in ("sb", "self") and node.attr == "_copy":
                found.append(f"{name}.{node.attr}")
    return found


def test_only_the_working_copy_module_handles_the_working_copy():
    """Structural: outside grader/sandbox/workdir.py (which makes it) and session.py (which hands its path to
    the child as a string), no module of the grader imports the working copy or reaches its path."""
    package = Path(grader.__file__).parent
    owners = {package / "sandbox" / "workdir.py", package / "sandbox" / "session.py"}
    offenders = []
    for path in package.rglob("*.py"):
        if path in owners:
            continue
        text = path.read_text()
        tree = ast.parse(text)
        imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
        for node in imports:
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            if any("workdir" in n or n == "WorkingCopy" for n in names):
                offenders.append(f"{path.relative_to(package)} imports the working copy")
        offenders += [f"{path.relative_to(package)}: {use}" for use in _sandbox_attribute_uses(tree)]
    assert offenders == []
    assert not hasattr(Sandbox, "root")


def test_a_killed_graders_folder_is_removed_and_a_live_one_kept(tmp_path):
    code = ("import sys, time; from pathlib import Path; from grader.sandbox.workdir import WorkingCopy; "
            "w = WorkingCopy(Path(sys.argv[1])); print(w.folder, flush=True); time.sleep(60)")
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text("x = 1\n")
    dead = subprocess.Popen([sys.executable, "-c", code, str(src)], stdout=subprocess.PIPE, text=True)
    live = subprocess.Popen([sys.executable, "-c", code, str(src)], stdout=subprocess.PIPE, text=True)
    try:
        dead_folder, live_folder = Path(dead.stdout.readline().strip()), Path(live.stdout.readline().strip())
        dead.kill()
        dead.wait()
        assert dead_folder.is_dir() and live_folder.is_dir()
        removed = workdir.remove_stale()
        assert str(dead_folder) in removed and not dead_folder.exists()
        assert live_folder.is_dir() and str(live_folder) not in removed
    finally:
        live.kill()
        live.wait()
    workdir.remove_stale()
    assert not live_folder.exists()
