"""The pytest plugin through pytester, in a fresh interpreter as a student runs it. (In-process runs
only where nothing is graded: pytester drops the modules a run imported, and NumPy's compiled
submodules cannot be imported a second time.)"""
from __future__ import annotations

import re
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from helpers import make_submission

import grader.engine  # noqa: F401  (loaded before the in-process runs below, which then import nothing compiled)
from grader.assignment import load_assignment

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytest_plugins = ["pytester"]

PLUGIN = "grader.pytest_plugin"
PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"
# Installed (pip install -e .) the entry point loads the plugin in every pytest run; a checkout that
# was installed before the entry point existed loads it by name instead, same code.
INSTALLED = any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))
LOAD = [] if INSTALLED else ["-p", PLUGIN]


@pytest.fixture(autouse=True)
def _english_practice_run(monkeypatch):
    monkeypatch.setenv("LANGUAGE", "en")  # the runs below inherit this environment
    for name in ("GRADER_PRIVATE_SEED", "GRADER_SEED_FILE"):
        monkeypatch.delenv(name, raising=False)


def test_plugin_is_declared_as_a_pytest11_entry_point():
    data = tomllib.loads(PYPROJECT.read_text())
    assert data["project"]["entry-points"]["pytest11"] == {"nn_autograder": PLUGIN}


def test_a_plain_run_loads_the_plugin_but_imports_nothing_heavy(pytester):
    pytester.makeconftest(f"""
        import sys
        HEAVY = ("torch", "numpy", "scipy", "jinja2", "grader.engine", "grader.assignment")

        def pytest_collection_finish(session):
            assert session.config.pluginmanager.get_plugin("{PLUGIN}") is not None or \\
                session.config.pluginmanager.has_plugin("nn_autograder"), "the plugin is not loaded"
            loaded = [m for m in HEAVY if m in sys.modules]
            assert not loaded, f"imported by a plain pytest run: {{loaded}}"
    """)
    pytester.makepyfile(test_plain="def test_plain():\n    assert 1 + 1 == 2\n")
    run = pytester.runpytest_subprocess(*LOAD)
    run.assert_outcomes(passed=1)


def _layers_checks() -> int:
    return sum(len(unit.checks) for unit in load_assignment().exercise("layers").units)


def test_one_test_per_check_with_the_feedback_as_failure(pytester):
    good = make_submission(pytester.path / "good")
    bad = make_submission(pytester.path / "bad", {"layers.py": [("param -= lr * grad", "param += lr * grad")]})
    n = _layers_checks()

    run = pytester.runpytest_subprocess(*LOAD, "--grade-submission", str(good), "--grade-exercise", "layers", "-v")
    run.assert_outcomes(passed=n)
    run.stdout.fnmatch_lines(["grade::layers::relu_forward.forward PASSED*"])
    assert re.search(r"Score: ([\d.]+) / \1 =", run.stdout.str())  # full marks

    run = pytester.runpytest_subprocess(*LOAD, "--grade-submission", str(bad), "--grade-exercise", "layers")
    run.assert_outcomes(passed=n - 2, failed=2)  # the update, and its inputs check that waits for it
    run.stdout.fnmatch_lines(["*_ layers: sgd_update.update _*", "Where: layers.py:*",
                              "Hint: *", "(0.0 of * points)",
                              "FAILED grade::layers::sgd_update.update*", "FAILED grade::layers::sgd_update.inputs*"])


def test_unusable_submission_is_one_failing_test_and_a_missing_path_a_usage_error(pytester):
    (pytester.path / "empty").mkdir()
    run = pytester.runpytest_inprocess(*LOAD, "--grade-submission", "empty")
    run.assert_outcomes(failed=1)
    run.stdout.fnmatch_lines(["FAILED grade::submission*"])

    run = pytester.runpytest_inprocess(*LOAD, "--grade-submission", "nowhere")
    assert run.ret == 4  # pytest's usage error
    run.stderr.fnmatch_lines(["*nowhere does not exist*"])


@pytest.mark.slow
def test_a_grading_run_collects_only_the_checks_wherever_it_runs(tmp_path):
    """docs/ci.md's command from the grader's own checkout (500 tests of its own) and from a student
    repository with a test file of its own: only the grading tests run."""
    import subprocess
    root = PYPROJECT.parent
    sub = make_submission(tmp_path / "repo", extra={"test_mine.py": "def test_mine():\n    assert False\n"})
    for cwd in (root, tmp_path / "repo"):
        run = subprocess.run([sys.executable, "-m", "pytest", *LOAD, "-p", "no:cacheprovider", "-q", "-rN",
                              "--grade-submission", str(sub), "--grade-exercise", "layers"],
                             cwd=cwd, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:]
        checks = sum(len(unit.checks) for unit in load_assignment().exercise("layers").units)
        assert re.search(rf"\b{checks} passed", run.stdout), run.stdout[-2000:]  # the checks and nothing else
        assert "tests/test_" not in run.stdout and "test_mine" not in run.stdout and " failed" not in run.stdout
