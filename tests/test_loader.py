"""The loader reads submissions on the syntax tree: nothing here ever runs student code."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader import loader
from grader.loader import LoadPlan, SubmissionError, plan_submission
from grader.results import Location

FIXTURES = Path(__file__).parent / "fixtures" / "loader"
FLAT = FIXTURES / "flat"
NESTED = FIXTURES / "nested"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def messages(plan: LoadPlan) -> list[str]:
    return [str(e) for e in plan.errors]


def test_flat_folder_with_several_modules():
    plan = plan_submission(FLAT, ["relu_forward", "relu_backward", "Linear", "softmax_loss", "sigmoid",
                                  "logsumexp", "NeuralNetwork"])
    assert plan.root == FLAT.resolve()
    assert plan.missing == [] and plan.errors == []
    assert [f.rel for f in plan.files] == ["helpers.py", "layers.py", "losses.py", "model.py", "train.py"]
    assert plan.modules == ["layers", "losses", "model"]
    assert plan.search_path == [FLAT.resolve()]

    relu = plan.definitions["relu_forward"]
    assert (relu.module, relu.file, relu.line, relu.kind) == ("layers", "layers.py", 6, "function")
    assert relu.location == Location("layers.py", 6)
    assert plan.definitions["sigmoid"].kind == "assignment"
    # try/except ImportError: the fallback def counts, once.
    assert plan.definitions["logsumexp"].line == 6
    net = plan.definitions["NeuralNetwork"]
    assert net.kind == "class" and net.methods == {"__init__": 5, "forward": 8, "backward": 11}
    assert plan.locate("NeuralNetwork.backward") == Location("model.py", 11)
    assert plan.locate("NeuralNetwork.train") == Location("model.py", 4)  # unknown method: the class
    assert plan.locate("nothing") is None
    assert "relu_forward: defined in layers.py:6" in plan.notes
    assert "helpers.py defines nothing graded, but layers.py imports it, so its top-level code runs when " \
           "your code is loaded." in plan.notes


def test_main_guard_defines_nothing():
    plan = plan_submission(FLAT, ["demo"])
    assert plan.missing == ["demo"] and plan.modules == []


def test_train_script_is_never_imported():
    plan = plan_submission(FLAT, ["relu_forward", "NeuralNetwork"])
    assert "train" not in plan.modules
    assert "train.py is not imported: it defines nothing graded." in plan.notes
    assert "losses.py is not imported: it defines nothing graded." in plan.notes


def test_single_file():
    path = FIXTURES / "single" / "solution.py"
    plan = plan_submission(path, ["relu_forward", "TwoLayerNet", "sigmoid"])
    assert plan.root == path.parent.resolve()
    assert [f.rel for f in plan.files] == ["solution.py"]  # other.py next to it is not read
    assert plan.modules == ["solution"]
    assert plan.missing == ["sigmoid"]
    # Two defs in one file: the last wins, no error.
    assert plan.definitions["relu_forward"].line == 8 and plan.errors == []
    assert plan.definitions["TwoLayerNet"].methods == {"loss": 14}  # the def line, not the decorator


def test_import_in_another_file_is_not_a_duplicate(tmp_path):
    write(tmp_path, {
        "layers.py": "def relu(x):\n    return x\n",
        "model.py": "from layers import relu\nimport layers\nrelu2 = relu\n",
    })
    plan = plan_submission(tmp_path, ["relu"])
    assert plan.errors == [] and plan.modules == ["layers"]
    assert plan.definitions["relu"].file == "layers.py"


def test_duplicate_across_files_names_both_places(tmp_path):
    write(tmp_path, {
        "layers.py": "import numpy as np\n\n\ndef relu_forward(x):\n    return x\n",
        "utils.py": "\n" * 9 + "relu_forward = lambda x: x\n",
    })
    plan = plan_submission(tmp_path, ["relu_forward"])
    (issue,) = plan.errors
    assert issue.kind == "duplicate"
    assert str(issue).startswith("relu_forward is defined twice: layers.py:4 and utils.py:10; keep one")
    assert issue.locations == [Location("layers.py", 4), Location("utils.py", 10)]
    assert plan.definitions["relu_forward"].file == "layers.py"  # graded anyway, and the message says which
    assert plan.modules == ["layers"]


def test_syntax_error_is_reported_and_other_files_still_used(tmp_path):
    write(tmp_path, {
        "broken.py": "def relu_backward(dout, x):\n    return dout * (x > 0\n\ndef other():\n    pass\n",
        "layers.py": "def relu_forward(x):\n    return x\n",
    })
    plan = plan_submission(tmp_path, ["relu_forward", "relu_backward"])
    (issue,) = plan.errors
    assert issue.kind == "syntax" and issue.file == "broken.py" and issue.line == 2
    assert str(issue).startswith("broken.py:2: syntax error: '(' was never closed")
    assert plan.missing == ["relu_backward"]
    assert plan.modules == ["layers"]
    assert "broken.py" in [f.rel for f in plan.files]


def test_non_utf8_file_is_reported(tmp_path):
    write(tmp_path, {"bad.py": b"x = 1\n# caf\xe9\n", "ok.py": "def f():\n    pass\n",
                     "latin.py": b"# -*- coding: latin-1 -*-\ndef g():\n    return '\xe9'\n"})
    plan = plan_submission(tmp_path, ["f", "g", "x"])
    (issue,) = plan.errors
    assert issue.kind == "encoding" and issue.line == 2
    assert str(issue) == "bad.py:2: this file is not valid utf-8 text (byte 0xe9); save it as UTF-8."
    assert plan.missing == ["x"] and plan.modules == ["latin", "ok"]  # a coding cookie is honoured


@pytest.mark.parametrize("name", ["numpy", "random"])
def test_shadowing_library_is_reported_and_excluded(tmp_path, name):
    write(tmp_path, {f"{name}.py": "def relu_forward(x):\n    return x\n", "layers.py": "def other():\n    pass\n"})
    plan = plan_submission(tmp_path, ["relu_forward", "other"])
    assert (f"Your file {name}.py has the same name as the {name} library, so `import {name}` would load your "
            "file instead. Rename it.") in plan.notes
    assert plan.modules == ["layers"] and plan.missing == ["relu_forward"]
    (issue,) = plan.errors
    assert issue.kind == "shadow" and issue.file == f"{name}.py" and issue.line == 1
    assert "relu_forward is defined in" in str(issue) and "not imported" in str(issue)


def test_shadowing_file_defining_nothing_graded_is_still_reported(tmp_path):
    write(tmp_path, {"torch.py": "x = 1\n", "layers.py": "def f():\n    pass\n"})
    plan = plan_submission(tmp_path, ["f"])
    assert plan.errors == [] and plan.modules == ["layers"]
    assert any(n.startswith("Your file torch.py has the same name as the torch library") for n in plan.notes)
    assert not any(n.startswith("torch.py is not imported") for n in plan.notes)


def test_missing_names(tmp_path):
    write(tmp_path, {"layers.py": "from numpy import tanh\n\ndef relu(x):\n    return x\n"})
    plan = plan_submission(tmp_path, ["tanh", "relu", "sigmoid", "relu"])
    assert plan.missing == ["tanh", "sigmoid"]
    assert list(plan.definitions) == ["relu"]
    assert "tanh: not defined in your files; layers.py:1 only imports it." in plan.notes


def test_nested_folders():
    plan = plan_submission(NESTED, ["relu_forward", "NeuralNetwork", "sgd_step"])
    assert plan.missing == [] and plan.errors == []
    assert plan.modules == ["hw3.layers", "hw3.model", "pkg.optim"]
    assert plan.definitions["NeuralNetwork"].file == "hw3/model.py"
    assert plan.locate("NeuralNetwork.backward") == Location("hw3/model.py", 8)
    # hw3/ has no __init__.py and its files import each other by bare name: it joins the search path.
    # pkg/ is a real package (relative imports), so it does not.
    assert plan.search_path == [NESTED.resolve(), NESTED.resolve() / "hw3"]
    assert "pkg/__init__.py defines nothing graded, but pkg/optim.py imports it, so its top-level code " \
           "runs when your code is loaded." in plan.notes
    assert any(n.startswith("pkg/clipping.py defines nothing graded, but pkg/optim.py") for n in plan.notes)


def test_skipped_folders_and_files(tmp_path, monkeypatch):
    write(tmp_path, {
        "layers.py": "def f():\n    pass\n",
        ".hidden/a.py": "def g():\n    pass\n",
        "__pycache__/b.py": "def g():\n    pass\n",
        ".ipynb_checkpoints/c.py": "def g():\n    pass\n",
        "venv/pyvenv.cfg": "home = /usr/bin\n",
        "venv/lib/d.py": "def g():\n    pass\n",
        "big.py": "def g():\n    pass\n" + "#" * loader.MAX_FILE_BYTES,
        "nb.ipynb": "{}",
    })
    os.symlink(tmp_path / "layers.py", tmp_path / "link.py")
    plan = plan_submission(tmp_path, ["f", "g"])
    assert [f.rel for f in plan.files] == ["layers.py"]
    assert plan.missing == ["g"]
    assert "big.py is larger than 1 MB; it was not read." in plan.notes
    assert "link.py is a symbolic link; it was not read." in plan.notes
    assert "venv/ looks like a virtual environment; its files were not read." in plan.notes
    # Notebooks are read (tests/test_notebooks.py); this one is not a notebook, and says so.
    assert [str(e) for e in plan.errors] == ['nb.ipynb is not a valid notebook: it has no "cells" list. Open it in '
                                             'Jupyter and save it again, or export it as a .py file.']

    monkeypatch.setattr(loader, "MAX_FILES", 2)
    write(tmp_path, {"a1.py": "", "a2.py": ""})
    plan = plan_submission(tmp_path, ["f"])
    assert [f.rel for f in plan.files] == ["a1.py", "a2.py"]
    assert "Only the first 2 Python files were read; the others were ignored." in plan.notes


def test_dotted_file_name_is_not_importable(tmp_path):
    write(tmp_path, {"layers.v2.py": "def f():\n    pass\n"})
    plan = plan_submission(tmp_path, ["f"])
    assert plan.missing == ["f"] and plan.errors[0].kind == "unimportable"


def test_module_order_is_deterministic(tmp_path):
    names = ["zeta", "alpha", "mid"]
    write(tmp_path, {f"{n}.py": f"def {n}_fn():\n    pass\n" for n in names})
    plans = [plan_submission(tmp_path, [f"{n}_fn" for n in order]) for order in (names, names[::-1])]
    assert plans[0].modules == plans[1].modules == ["alpha", "mid", "zeta"]


def test_nonexistent_path(tmp_path):
    with pytest.raises(SubmissionError, match=r"not found: .*nope does not exist\. Expected a folder of \.py "
                                              r"files, or a single \.py file defining relu_forward"):
        plan_submission(tmp_path / "nope", ["relu_forward"])


def test_text_file_path():
    with pytest.raises(SubmissionError, match=r"notes\.txt is a \.txt file, not Python source\. Expected"):
        plan_submission(FIXTURES / "single" / "notes.txt", ["relu_forward"])


def test_folder_without_python_files(tmp_path):
    write(tmp_path, {"README.md": "hi", "big.py": "#" * (loader.MAX_FILE_BYTES + 1)})
    with pytest.raises(SubmissionError, match=r"No graded function found in .*: expected files that define f \(1 in "
                                              r"all\); see `grade starter`\. big\.py is larger than 1 MB"):
        plan_submission(tmp_path, ["f"])


@pytest.mark.parametrize("root", [FLAT, NESTED])
def test_plan_imports_as_described(root):
    """The integrator's contract: append search_path to sys.path, then import modules (in a child)."""
    import subprocess
    import sys

    plan = plan_submission(root, ["relu_forward", "NeuralNetwork", "sgd_step"])
    code = ("import importlib, sys; sys.path += sys.argv[1].split('|'); "
            "[importlib.import_module(m) for m in sys.argv[2:]]; print('ok')")
    run = subprocess.run([sys.executable, "-c", code, "|".join(map(str, plan.search_path)), *plan.modules],
                         capture_output=True, text=True, timeout=60, cwd=root.parent)
    assert run.stdout.strip() == "ok", run.stderr


def test_the_plan_names_every_module_the_submission_imports(tmp_path):
    """What a batch worker's zygote may have loaded for the student's process (grader/sandbox/launch.py)."""
    (tmp_path / "layers.py").write_text(
        "import numpy as np\nimport os.path as osp\nfrom . import helpers\nfrom helpers import *\n"
        "def relu_forward(x):\n    from scipy.special import erf, expit\n    return np.maximum(x, 0)\n")
    (tmp_path / "helpers.py").write_text("from scipy import stats\n")
    plan = plan_submission(tmp_path, ["relu_forward"])
    assert plan.imports == {"numpy", "os.path", "helpers", "scipy.special", "scipy.special.erf",
                            "scipy.special.expit", "scipy", "scipy.stats"}
