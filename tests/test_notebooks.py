"""Notebook submissions: graded from their definitions, without running the student's experiments."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import nbformat
import pytest
from helpers import SOLUTION, check, failed
from nbformat import v4

from grader.loader import SubmissionError, plan_submission
from grader.notebook import TORCH_POLICY, strip_magics
from grader.results import ERROR, NOT_ATTEMPTED, PASSED, Location

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

LAYERS = (SOLUTION / "layers.py").read_text()
NETWORK = (SOLUTION / "network.py").read_text()
LAYER_NAMES = [m for m in re.findall(r"^def (\w+)", LAYERS, re.M)]


def split_defs(source: str) -> list[str]:
    """The solution file as cells: its docstring and import, then one cell per top-level definition."""
    return [part.strip("\n") for part in re.split(r"\n(?=def |class )", source) if part.strip()]


def write_notebook(path: Path, cells: list, **metadata) -> Path:
    nb = v4.new_notebook(cells=cells, metadata=metadata)
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def code(source: str, *tags: str, cell_id: str | None = None):
    cell = v4.new_code_cell(source, metadata={"tags": list(tags)} if tags else {})
    if cell_id:
        cell.id = cell_id
    return cell


def course_notebook(path: Path, layers: str = LAYERS, network: str = NETWORK) -> Path:
    """The course's notebook: the solution's functions among what students really put in notebooks."""
    torch_out = v4.new_output("stream", name="stdout", text="tensor(True)\n" * 50_000)  # ~650 kB of output
    plot = v4.new_output("display_data", data={"image/png": "iVBORw0KGgo" * 20_000, "text/plain": "<Figure>"})
    cells = [
        v4.new_markdown_cell("# Práctica 2: redes neuronales desde cero\n¡Implementa cada función con NumPy! "
                             "Ñandú, pingüino, 🚀"),
        code("%matplotlib inline\n!pip install -q numpy\nimport numpy as np\nimport matplotlib.pyplot as plt\n"
             "import time"),
        *[code(part) for part in split_defs(layers)],
        v4.new_markdown_cell("## La red neuronal\n![red](attachment:red.png)",
                             attachments={"red.png": {"image/png": "iVBORw0KGgo" * 1000}}),
        code(network, cell_id="red-neuronal"),
        code("import torch\nimport torch.nn.functional as F\nx = torch.randn(4, 5)\n"
             "print(torch.allclose(F.relu(x), torch.from_numpy(relu_forward(x.numpy()))))"),
        code("%%time\nnet = NeuralNetwork(784, 128, 10)\nfor epoch in range(100_000):\n    pass"),
        code("net = NeuralNetwork(784, 128, 10)\nEPS = np.finfo(float).eps\nprint('entrenando...')\n"
             "time.sleep(600)\nplt.plot([1, 2, 3])"),
    ]
    cells[-3].outputs = [torch_out]
    cells[-1].outputs = [plot]
    return write_notebook(path, cells, kernelspec={"name": "python3", "display_name": "Python 3"})


COURSE = ["layers", "network"]  # the exercises the course notebook holds


@pytest.fixture(scope="module")
def reference(assignment):
    """Grading of the solution as .py files (once for the module)."""
    from helpers import FAST_LIMITS

    from grader.engine import grade
    from grader.sandbox.session import Limits
    from grader.seeds import Seed
    return grade(SOLUTION, assignment, Seed(assignment.practice_seed, "practice"), exercise_ids=COURSE,
                 limits=Limits(**FAST_LIMITS))


def verdicts(result):
    return [(c.exercise, c.name, c.status, c.score) for c in result.checks()]


def with_options(assignment, **options):
    return dataclasses.replace(assignment, options={**assignment.options, **options})


# --------------------------------------------------------------------------------------- end to end


def test_course_notebook_gets_the_same_verdicts_as_the_py_files(grade_it, reference, tmp_path):
    path = course_notebook(tmp_path / "practica2.ipynb")
    assert path.stat().st_size > 1_000_000  # bigger than any .py the loader reads: outputs are skipped
    result = grade_it(path, exercises=COURSE)
    assert verdicts(result) == verdicts(reference)
    assert failed(result) == [] and result.errors == []
    assert result.duration_s < 60  # time.sleep(600) and the training loop never ran
    notes = "\n".join(result.notes)
    assert f"`import torch` and `import torch.nn.functional as F` are not run: {TORCH_POLICY}" in notes
    assert "practica2.ipynb: graded the imports, functions, classes and simple assignments" in notes

    relu = check(result, "layers", "relu_forward.forward").location
    assert (relu.file, relu.cell, relu.cell_line) == ("practica2.ipynb", 4, 1)  # markdown, setup, import, relu
    backward = check(result, "network", "NeuralNetwork.backward.backward").location
    assert (backward.cell, backward.cell_id) == (len(LAYER_NAMES) + 5, "red-neuronal")
    assert backward.cell_line == NETWORK.splitlines().index("    def backward(self, y_true):") + 1
    assert backward.describe().startswith("practica2.ipynb, cell ")


def test_failures_and_errors_point_at_cells(grade_it, tmp_path):
    layers = (LAYERS.replace("return dout * (x > 0)", "return dout * (x >= 0) * 2")
              .replace("    return np.tanh(x)", "    raise ValueError('todavía no')"))
    path = write_notebook(tmp_path / "hw.ipynb", [v4.new_markdown_cell("Capa ReLU"),
                                                  *[code(p) for p in split_defs(layers)]])
    result = grade_it(path, exercises=["layers"])
    lost = check(result, "layers", "relu_backward.backward")
    assert lost.score < lost.max_score
    assert (lost.location.file, lost.location.cell, lost.location.cell_line) == ("hw.ipynb", 4, 1)
    tanh = check(result, "layers", "tanh_forward.forward")
    cell = 3 + LAYER_NAMES.index("tanh_forward")
    assert f"ValueError: todavía no (hw.ipynb, cell {cell} (id " in tanh.message and ", line 2)" in tanh.message
    assert "_nb_" not in tanh.message


def test_graded_function_that_needs_torch_names_the_policy(grade_it, tmp_path):
    layers = LAYERS.replace("return np.maximum(0, x)", "return torch.relu(torch.from_numpy(x)).numpy()")
    path = write_notebook(tmp_path / "hw.ipynb", [code("import numpy as np\nimport torch"), code(layers)])
    result = grade_it(path, exercises=["layers"])
    relu = check(result, "layers", "relu_forward.forward")
    assert relu.score == 0
    assert TORCH_POLICY in relu.message and "cell 1" in relu.message, relu.message
    assert any("relu_forward (cell 2) uses torch" in n for n in result.notes), result.notes
    assert check(result, "layers", "relu_backward.backward").status == PASSED


def test_tagged_mode_grades_only_tagged_cells(grade_it, assignment, tmp_path):
    wrong = "def relu_forward(x):\n    return x  # experimento\n"
    path = write_notebook(tmp_path / "hw.ipynb", [
        code(LAYERS, "grade"), code(wrong), code("import time\ntime.sleep(600)", "other-tag")])
    defs = grade_it(path, exercises=["layers"])
    assert "relu_forward.forward" in failed(defs)  # the later cell's definition wins, as in Jupyter
    tagged = grade_it(path, exercises=["layers"], spec=with_options(assignment, notebook_mode="tagged"))
    assert failed(tagged) == []
    assert "hw.ipynb: graded the code in cell 1 (tagged `grade`); the other cells are not run." in tagged.notes

    untagged = write_notebook(tmp_path / "none" / "hw.ipynb", [code(LAYERS)])
    result = grade_it(untagged, exercises=["layers"], spec=with_options(assignment, notebook_mode="tagged"))
    assert any("has no code cell tagged `grade`" in e for e in result.errors)
    assert check(result, "layers", "relu_forward.forward").status == NOT_ATTEMPTED


def test_all_mode_runs_every_cell_and_defs_mode_explains_what_it_dropped(grade_it, assignment, tmp_path):
    layers = LAYERS.replace("return np.maximum(0, x)", "return np.maximum(FLOOR, x)")
    path = write_notebook(tmp_path / "hw.ipynb", [
        code("%matplotlib inline\nimport numpy as np\n!echo hola"),
        code("def make_floor():\n    return 0.0\n\nFLOOR = make_floor()"),
        code("%%time\nTIMED = 1"),
        code(layers)])
    defs = grade_it(path, exercises=["layers"])
    relu = check(defs, "layers", "relu_forward.forward")
    assert relu.score == 0
    assert "FLOOR is not defined: cell 2 sets it in code the grader does not run, as it calls make_floor()" \
        in relu.message, relu.message
    assert any(n.startswith("hw.ipynb: relu_forward (cell 4) uses FLOOR, which cell 2 sets in code the grader "
                            "does not run (it calls make_floor(), which your notebook defines") for n in defs.notes)

    everything = grade_it(path, exercises=["layers"], spec=with_options(assignment, notebook_mode="all"))
    assert failed(everything) == [] and everything.errors == []
    assert "hw.ipynb: every code cell is run in order, as a script (magics and shell commands removed)." \
        in everything.notes


def test_unparsable_cell_is_reported_and_the_rest_graded(grade_it, tmp_path):
    parts = split_defs(LAYERS)
    broken = LAYER_NAMES.index("tanh_forward") + 1
    parts[broken] = parts[broken].replace("return np.tanh(x)", "return np.tanh(x")
    path = write_notebook(tmp_path / "hw.ipynb", [v4.new_markdown_cell("intro"), *[code(p) for p in parts]])
    result = grade_it(path, exercises=["layers"])
    (error,) = result.errors
    assert error.startswith(f"hw.ipynb, cell {broken + 2} (id ") and ", line 2: syntax error: '(' was never closed" \
        in error and "the rest of the notebook is" in error
    missing = check(result, "layers", "tanh_forward.forward")
    assert missing.status == ERROR and f"cell {broken + 2}" in missing.message
    # tanh_backward's checks call tanh_forward too; nothing else is touched.
    assert {c.function for c in result.checks() if c.score < c.max_score} == {"tanh_forward", "tanh_backward"}
    assert check(result, "layers", "relu_forward.forward").status == PASSED


@pytest.mark.parametrize("content, what", [
    (b'{"cells": [', "it is not valid JSON (Expecting value at line 1, column 12)"),
    (b"[1, 2]", "its JSON holds list, not a notebook object"),
    (b'{"metadata": {}, "nbformat": 4}', 'it has no "cells" list'),
    (b'{"cells": [{"source": "x = 1"}], "nbformat": 4}', "cell 1 is not a cell object with a cell_type"),
    (b"\xff\xfe{}", "it is not UTF-8 text"),
])
def test_invalid_notebook_is_a_clear_error(tmp_path, content, what):
    path = tmp_path / "tarea.ipynb"
    path.write_bytes(content)
    with pytest.raises(SubmissionError, match=re.escape(f"tarea.ipynb is not a valid notebook: {what}")):
        plan_submission(path, ["relu_forward"])
    # In a folder it is one problem among the files; the rest is still graded.
    (tmp_path / "layers.py").write_text(LAYERS)
    plan = plan_submission(tmp_path, ["relu_forward"])
    assert [e.kind for e in plan.errors] == ["notebook"] and what in str(plan.errors[0])
    assert plan.definitions["relu_forward"].file == "layers.py"


def test_empty_notebook_says_so(grade_it, tmp_path):
    for name, cells in {"empty": [], "prose": [v4.new_markdown_cell("Sin código todavía"), code("   \n")]}.items():
        result = grade_it(write_notebook(tmp_path / name / "hw.ipynb", cells), exercises=["layers"])
        assert result.errors == ["hw.ipynb has no code cells: there is nothing in it to grade."]
        assert {c.status for c in result.checks()} == {NOT_ATTEMPTED}


def test_notebook_beside_its_py_export_is_not_a_duplicate(tmp_path):
    write_notebook(tmp_path / "layers.ipynb", [code(LAYERS)])
    (tmp_path / "layers.py").write_text("get_ipython().run_line_magic('matplotlib', 'inline')\n" + LAYERS)
    (tmp_path / "network.py").write_text(NETWORK)
    plan = plan_submission(tmp_path, LAYER_NAMES + ["NeuralNetwork"])
    assert plan.errors == [] and plan.missing == []
    assert plan.definitions["relu_forward"].file == "layers.ipynb"
    assert plan.modules == ["_nb_layers", "network"]
    assert any(n.startswith("layers.py looks like the .py export of layers.ipynb: both define relu_forward, ")
               and "The notebook is graded" in n for n in plan.notes)


def test_cli_notebook_mode_option(tmp_path):
    from click.testing import CliRunner

    from grader.cli import main
    path = write_notebook(tmp_path / "hw.ipynb", [code(LAYERS)])
    run = CliRunner().invoke(main, [str(path), "--notebook-mode", "everything", "--out", str(tmp_path / "out")])
    assert run.exit_code == 2 and "everything" in run.output
    toml = tmp_path / "tagged.toml"
    toml.write_text('exercises = ["layers"]\nnotebook_mode = "tagged"\n')
    from grader.assignment import load_assignment
    assert load_assignment(toml).options["notebook_mode"] == "tagged"
    plan = plan_submission(path, ["relu_forward"], options=load_assignment(toml).options)
    assert plan.missing == ["relu_forward"] and "has no code cell tagged `grade`" in str(plan.errors[0])


# ------------------------------------------------------------------------------------- conversion


def convert(tmp_path, cells, names=(), **options):
    path = write_notebook(tmp_path / "nb.ipynb", cells)
    plan = plan_submission(path, list(names), options=options)
    return plan, plan.files[0]


def test_magics_are_removed_only_where_a_statement_starts():
    source = ("%load_ext autoreload\n!pip install numpy \\\n   scipy\nfiles = !ls\nnp.sum?\n"
              'TEMPLATE = """\n%d items\n!important\n"""\nx = (1\n     % 2)\ndef f():\n    %time g()\n'
              "    return 1")
    lines, magic, blanked = strip_magics(source)
    assert magic is None and blanked == 6
    assert lines[:5] == ["", "", "", "", ""]
    assert lines[6:8] == ["%d items", "!important"]  # inside a string: untouched
    assert lines[10] == "     % 2)" and lines[12] == "    pass"
    assert strip_magics("\n%%time\ntrain()")[1] == "time"


def test_defs_mode_keeps_definitions_and_plain_values(tmp_path):
    plan, nb = convert(tmp_path, [
        code("from __future__ import annotations\nimport numpy as np\nimport seaborn_not_installed as sns\n"
             "import torch, math"),
        code("EPS = np.finfo(float).eps\nSIZES = (784, 128, 10)\nact = lambda x: np.maximum(0, x)\n"
             "rng = np.random.default_rng(0); W = rng.normal(size=SIZES[:2])\ndata = open('x.csv').read()"),
        code("try:\n    from scipy.special import expit\nexcept ImportError:\n    expit = None\n"
             "class Net:\n    depth = len(SIZES)\n    def forward(self, x: torch.Tensor):\n        return x"),
        code("net = Net()\nfor i in range(3):\n    print(i)\nif __name__ == '__main__':\n    main()\n"
             "def uses(x):\n    return x + net.depth + W.sum()"),
    ], ["uses", "EPS", "W", "act", "expit", "Net"])
    text = nb.text
    assert text.splitlines()[1] == "from __future__ import annotations"  # hoisted to the top
    assert "import math" in text and "seaborn" not in text and "torch" not in text.replace("torch.Tensor", "")
    assert "try: EPS = np.finfo(float).eps" in text and "\nSIZES = (784, 128, 10)" in text
    assert "try: W = rng.normal(size=SIZES[:2])" in text and "open(" not in text
    assert "expit = None" in text and "class Net:" in text  # annotations are not evaluated (__future__)
    assert "net = Net()" not in text and "print(i)" not in text and "main()" not in text
    assert plan.missing == [] and plan.errors == []
    notes = "\n".join(plan.notes)
    assert ("nb.ipynb, cell 1: `import seaborn_not_installed` is not run: seaborn_not_installed is not "
            "installed") in notes
    assert "nb.ipynb: uses (cell 4) uses net, which cell 4 sets in code the grader does not run (it calls Net()" \
        in notes
    assert nb.location(text.splitlines().index("def uses(x):") + 1) == plan.definitions["uses"].location
    assert (plan.definitions["uses"].location.cell, plan.definitions["uses"].location.cell_line) == (4, 6)
    compile(text, "nb", "exec")


def test_notebook_without_cell_ids_and_in_a_subfolder(tmp_path):
    raw = {"nbformat": 4, "nbformat_minor": 4, "metadata": {},
           "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 1,
                      "source": ["import numpy as np\n", "\n", "def relu_forward(x):\n",
                                 "    return np.maximum(0, x)"]}]}
    (tmp_path / "parte 1").mkdir()
    (tmp_path / "parte 1" / "Práctica 1.ipynb").write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    plan = plan_submission(tmp_path, ["relu_forward"])
    d = plan.definitions["relu_forward"]
    assert d.location.describe() == "parte 1/Práctica 1.ipynb, cell 1, line 3"
    (generated,) = plan.generated
    assert generated.startswith("parte 1/_nb_Pr_ctica_1_") and d.module == generated[:-3].replace("/", ".")


def test_notebook_named_like_a_library_and_top_level_await(tmp_path):
    path = write_notebook(tmp_path / "numpy.ipynb", [code(LAYERS + "\nawait asyncio.sleep(1)")])
    plan = plan_submission(path, ["relu_forward"])
    assert plan.errors == [] and plan.modules == ["_nb_numpy"]  # it imports as _nb_numpy: no shadowing
    assert not any("same name as the numpy library" in n for n in plan.notes)


def test_old_format_notebook_is_converted(tmp_path):
    from nbformat import v3
    nb = v3.new_notebook(worksheets=[v3.new_worksheet(cells=[
        v3.new_text_cell("markdown", "hola"),
        v3.new_code_cell(input="import numpy as np\r\ndef relu_forward(x):\r\n    return np.maximum(0, x)\r\n")])])
    (tmp_path / "vieja.ipynb").write_text(nbformat.writes(nb, version=3), encoding="utf-8")
    plan = plan_submission(tmp_path / "vieja.ipynb", ["relu_forward"])
    assert plan.errors == []
    assert plan.definitions["relu_forward"].location == Location("vieja.ipynb", 3, 2, None, 2)  # no made-up id
