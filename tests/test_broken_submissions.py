"""Broken submissions each get a complete report with a clear message; the grader never crashes."""
from __future__ import annotations

import time

import pytest
from helpers import SOLUTION, check, make_submission

from grader.loader import SubmissionError
from grader.report import write_reports
from grader.results import ERROR, FAILED, NOT_ATTEMPTED, PASSED

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

EXPECTED_CHECKS = None


def _expected_names(grade_it):
    global EXPECTED_CHECKS
    if EXPECTED_CHECKS is None:
        EXPECTED_CHECKS = sorted(c.name for c in grade_it(SOLUTION, exercises=["network"]).checks())
    return EXPECTED_CHECKS


def _complete(result, grade_it, tmp_path):
    """Every check of the exercise is present and the reports render."""
    assert sorted(c.name for c in result.checks()) == _expected_names(grade_it)
    written = write_reports(result, tmp_path / "out")
    assert written["html"].read_text().strip().endswith("</html>")
    return result


def network_with(body_edit: tuple[str, str] | None = None, header: str = "") -> dict:
    edits = [("import numpy as np\n", "import numpy as np\n" + header)]
    if body_edit:
        edits.append(body_edit)
    return {"network.py": edits}


BROKEN = {
    "syntax error": (network_with(("    def predict(self, X):", "    def predict(self, X)")),
                     "network.py:48: syntax error", ERROR),
    "import error": (network_with(header="import does_not_exist\n"), "does_not_exist", ERROR),
    "sys.exit at import": (network_with(header="import sys\nsys.exit(3)\n"), "exit", ERROR),
    "os._exit at import": (network_with(header="import os\nos._exit(1)\n"), "exit", ERROR),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_module_fails_cleanly(grade_it, tmp_path, case):
    edits, words, status = BROKEN[case]
    result = _complete(grade_it(make_submission(tmp_path / "sub", edits), exercises=["network"]), grade_it, tmp_path)
    assert result.score == 0
    assert {c.status for c in result.checks()} == {status}
    text = " ".join(result.errors + [c.message for c in result.checks()]).lower()
    assert words in text, text


def test_missing_names_are_not_attempted(grade_it, tmp_path):
    sub = make_submission(tmp_path / "sub", drop=("network.py",))
    result = grade_it(sub, exercises=["network", "layers"])
    network = [c for c in result.checks() if c.exercise == "network"]
    assert network and {c.status for c in network} == {NOT_ATTEMPTED}
    assert "NeuralNetwork is not defined" in network[0].message
    assert write_reports(result, tmp_path / "out")["html"].read_text().strip().endswith("</html>")
    # Nothing graded defined at all: one sentence instead of a list of checks not attempted.
    with pytest.raises(SubmissionError, match=r"No graded function found in .*: expected files that define "
                                              r"NeuralNetwork \(1 in all\); see `grade starter`"):
        grade_it(sub, exercises=["network"])


METHOD_BUGS = {
    "exception in a method": (("        return np.argmax(self.forward(X), axis=1)", "        raise ValueError('boom')"),
                              "ValueError: boom"),
    "wrong return type": (("        return np.argmax(self.forward(X), axis=1)", "        return 'labels'"),
                          "str"),
    "wrong shape": (("        return np.argmax(self.forward(X), axis=1)", "        return np.argmax(self.forward(X), axis=0)"),
                    "shape"),
    "infinite loop": (("        return np.argmax(self.forward(X), axis=1)", "        while True:\n            pass"),
                      "did not return within"),
    "memory exhaustion": (("        return np.argmax(self.forward(X), axis=1)",
                           "        hog = []\n        while True:\n            hog.append(np.empty(10**8))"),
                          "memory"),
    "flood of output": (("        return np.argmax(self.forward(X), axis=1)",
                         "        for i in range(200000):\n            print('spam' * 50)\n"
                         "        return np.argmax(self.forward(X), axis=1)"), None),
}


@pytest.mark.parametrize("case", list(METHOD_BUGS))
def test_broken_method_costs_only_its_check(grade_it, tmp_path, case):
    edit, words = METHOD_BUGS[case]
    result = _complete(grade_it(make_submission(tmp_path / "sub", network_with(edit)), exercises=["network"],
                                limits={"memory_bytes": 2 * 2**30}), grade_it, tmp_path)
    predict = check(result, "network", "NeuralNetwork.predict.predict")
    others = [c for c in result.checks() if c is not predict and c.kind != "training"]
    assert all(c.status == PASSED for c in others), [(c.name, c.message) for c in others if c.status != PASSED]
    if words is None:  # output is captured and truncated; the check itself passes
        assert predict.status == PASSED and len(predict.stdout) <= 10_000 and "spam" in predict.stdout
    else:
        assert predict.status in (FAILED, ERROR) and predict.score == 0
        assert words.lower() in (predict.message + " ".join(c.message for c in predict.cases)).lower()


def test_every_method_hanging_is_graded_within_the_budget(grade_it, tmp_path):
    hang = "\n".join(f"    def {m}(self, *args):\n        while True:\n            pass\n" for m in
                     ("forward", "cross_entropy_loss", "backward", "update_params", "train_step", "predict"))
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "network.py").write_text(
        "import numpy as np\n\nclass NeuralNetwork:\n    def __init__(self, i, h, o):\n"
        "        self.W1 = np.zeros((i, h)); self.b1 = np.zeros(h)\n"
        "        self.W2 = np.zeros((h, o)); self.b2 = np.zeros(o)\n\n" + hang)
    started = time.monotonic()
    result = grade_it(sub, exercises=["network"], limits={"cpu_s_per_call": 0.5, "wall_s_per_call": 2.0,
                                                          "total_cpu_s": 6.0})
    assert time.monotonic() - started < 30
    assert result.score == 0
    messages = " ".join(c.message for c in result.checks())
    assert "did not return within" in messages and ("budget" in messages or "not run again" in messages)
