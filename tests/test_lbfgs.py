"""L-BFGS-B in the grader's own process (grader/lbfgs.py): the same numbers as in the grading process,
failures that stop the run or fall back to running it here, and a grade that never loads scipy.optimize."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from grader import lbfgs
from grader.reference import scipy_network as ref

SIZES = (6, 5, 3)  # input, hidden, labels
OPTIONS = {"maxiter": 30, "maxfun": 90}


def _problem():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(40, SIZES[0]))
    y = rng.integers(0, SIZES[2], 40)
    x0 = rng.normal(0.0, 0.5, ref.size(ref.shapes(*SIZES, False)))

    def evaluate(theta, _k):
        J, grad = ref.cost_and_grad(theta, *SIZES, X, y, 0.5)
        return np.float32(J) if _k == 1 else J, grad  # any numeric J: both sides read it as float64
    return evaluate, x0


def test_the_process_gives_the_numbers_scipy_gives_here():
    evaluate, x0 = _problem()
    here = lbfgs.minimize(evaluate, x0, OPTIONS)
    there = lbfgs.minimize(evaluate, x0, OPTIONS, lbfgs.LbfgsProcess())
    assert here.nit > 5 and len(here.values) >= here.nit
    assert np.array_equal(there.x, here.x)
    assert (there.fun, there.nit, there.success, there.message) == (here.fun, here.nit, here.success, here.message)
    assert there.values == here.values


def test_an_evaluation_that_raises_stops_the_run_and_the_process():
    evaluate, x0 = _problem()
    calls = []

    def failing(theta, k):
        calls.append(k)
        if k == 3:
            raise ValueError("the student's function failed")
        return evaluate(theta, k)
    process = lbfgs.LbfgsProcess()
    with pytest.raises(ValueError, match="student's function failed"):
        lbfgs.minimize(failing, x0, OPTIONS, process)
    assert calls == [1, 2, 3]  # not started again here
    assert process.proc.poll() is not None


def test_a_process_that_never_answered_is_run_here_instead():
    evaluate, x0 = _problem()
    process = lbfgs.LbfgsProcess()
    process.proc.kill()
    process.proc.wait()
    found = lbfgs.minimize(evaluate, x0, OPTIONS, process)
    assert np.array_equal(found.x, lbfgs.minimize(evaluate, x0, OPTIONS).x)
    assert found.values[0] == float(evaluate(x0, 1)[0])  # counted from the first evaluation made here


def test_a_process_that_fails_midway_is_an_error_not_a_second_run():
    evaluate, x0 = _problem()
    process = lbfgs.LbfgsProcess()
    calls = []

    def dying(theta, k):
        calls.append(k)
        if k == 2:
            process.proc.kill()
            process.proc.wait()
        return evaluate(theta, k)
    with pytest.raises(RuntimeError, match="failed after 2 evaluations"):
        lbfgs.minimize(dying, x0, OPTIONS, process)
    assert calls == [1, 2]


def test_the_ahead_hook_starts_a_process_only_where_scipy_optimize_is_not_loaded(monkeypatch):
    import scipy.optimize  # noqa: F401
    assert lbfgs.start_process(None, None) is None
    monkeypatch.delitem(sys.modules, "scipy.optimize")
    process = lbfgs.start_process(None, None)
    try:
        assert isinstance(process, lbfgs.LbfgsProcess) and process.proc.poll() is None
    finally:
        process.close()
    assert process.proc.poll() is not None


GRADE = ("import json, sys\n"
         "{before}"
         "from grader.assignment import load_assignment\n"
         "from grader.cli import example_path\n"
         "from grader.engine import grade\n"
         "from grader.seeds import Seed\n"
         "r = grade(example_path(), load_assignment(), Seed(11, 'private'), exercise_ids=['scipy_network'])\n"
         "c = next(c for e in r.exercises for c in e.checks if c.kind == 'cost_training')\n"
         "print(json.dumps({{'passed': c.score == c.max_score, 'training': c.extra.get('training'),\n"
         "                  'scipy_optimize': 'scipy.optimize' in sys.modules}}))\n")


def _grade_in_a_fresh_interpreter(before: str = "") -> dict:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, "-c", GRADE.format(before=before)], capture_output=True, text=True,
                         env=env, timeout=180)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_single_grade_trains_in_the_process_with_the_numbers_of_a_run_made_here():
    """The example's SciPy exercise graded as `grade` does, in a fresh interpreter: the grading process never
    imports scipy.optimize, and the training check's figures are those of a grade in a process that has it
    loaded (as a batch worker has), which runs L-BFGS-B itself."""
    there = _grade_in_a_fresh_interpreter()
    here = _grade_in_a_fresh_interpreter("import scipy.optimize\n")
    assert there["passed"] and not there["scipy_optimize"]
    assert here["passed"] and here["scipy_optimize"]
    assert there["training"]["evaluations"] > 10 and there["training"]["accuracy"] >= 0.95
    assert there["training"] == here["training"]


def test_the_lbfgs_process_ends_with_a_killed_grader(tmp_path):
    """A grader killed with SIGKILL cannot close it: its standard input closes with the grader, and it exits."""
    script = ("import sys, time\n"
              "from grader import lbfgs\n"
              "p = lbfgs.LbfgsProcess()\n"
              "print(p.proc.pid, flush=True)\n"
              "time.sleep(60)\n")
    grader = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    pid = int(grader.stdout.readline())
    grader.kill()
    grader.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.05)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
