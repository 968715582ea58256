"""What each command imports, checked structurally in a fresh interpreter (not by timing).

Commands that only read the assignment never import torch (it costs seconds), and grading a NumPy
exercise never imports PyTorch's compiler (torch._dynamo: constructing a torch.optim optimizer does),
scipy.stats or scikit-learn's dataset machinery (the digits are read from the bundled file).
"""
import json
import subprocess
import sys

import pytest

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

RUN_CLI = ("import atexit, json, sys\n"
           "atexit.register(lambda: print('\\nMODULES ' + json.dumps(sorted(sys.modules))))\n"
           "from grader.cli import main\nsys.argv[0] = 'grade'\nmain()")


def imported(args: list[str], cwd) -> set[str]:
    """The modules a `grade ARGS` run imported, in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", RUN_CLI, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    line = done.stdout.rsplit("\nMODULES ", 1)[1]
    return set(json.loads(line))


@pytest.mark.parametrize("args", [["list"], ["--help"], ["starter", "--out", "kit"], ["new-exercise", "layer_norm"],
                                  ["init-ci", "--repo", "."], ["batch", "--help"]],
                         ids=["list", "help", "starter", "new-exercise", "init-ci", "batch-help"])
def test_commands_that_read_the_assignment_do_not_import_torch(args, tmp_path):
    modules = imported(args, tmp_path)
    assert "torch" not in modules and "scipy" not in modules and "sklearn" not in modules


@pytest.mark.slow
def test_grading_numpy_exercises_imports_no_compiler_no_sympy_no_scipy_stats_no_sklearn(tmp_path):
    # network (SGD steps, training on digits), optimizers (SGD, RMSprop, Adam, AdamW), layers (sgd_step),
    # init (draws tested against normal and uniform distributions: grader/distributions.py).
    modules = imported(["--example", "-e", "network", "-e", "optimizers", "-e", "layers", "-e", "init",
                        "--out", "out"], tmp_path)
    tests = json.loads((tmp_path / "out" / "results.json").read_text())["tests"]
    assert sum(t["score"] for t in tests) == sum(t["max_score"] for t in tests) > 0  # it really graded
    assert "torch" in modules
    # sympy: torch.autograd.grad imports it to check a tensor grad_outputs (torch_bridge.vjp avoids that).
    assert not {"torch._dynamo", "scipy.stats", "sklearn.datasets", "sklearn", "sympy"} & modules
