"""Write the student starter kit from the exercises themselves, so stubs and grading never drift:
every graded function as a stub with its docstring that raises NotImplementedError."""
from __future__ import annotations

import textwrap
from pathlib import Path

from .assignment import Assignment
from .layout import Layout
from .spec import Exercise, Function, Model, Optimizer, StateInit, TorchLoop, TorchModel

HEADER = '"""{title}\n\n{description}\nFill in every function; the grader checks each one against PyTorch.\n"""\nimport numpy as np\n'
# A PyTorch exercise's kit imports what its stubs use (the course's own three lines).
TORCH_IMPORTS = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def _stub(name: str, params: list[str], doc: str) -> str:
    body = textwrap.indent(f'"""{doc.strip()}\n"""\nraise NotImplementedError\n', "    ")
    return f"\n\ndef {name}({', '.join(params)}):\n{body}"


def _unit_source(unit, names: dict[str, str]) -> str:
    if isinstance(unit, Model):
        return "\n" + unit.doc.strip("\n").replace("class NeuralNetwork", f"class {names.get(unit.class_name, unit.class_name)}") + "\n"
    if isinstance(unit, (TorchModel, TorchLoop)):  # a class or function whose doc is the whole stub
        name = unit.graded_names()[0]
        stub = unit.doc.strip("\n")
        for keyword in ("class", "def"):
            stub = stub.replace(f"{keyword} {name}(", f"{keyword} {names.get(name, name)}(", 1)
        return "\n\n" + stub + "\n"
    if isinstance(unit, (StateInit, Optimizer)):  # one function, no backward
        return _stub(names.get(unit.name, unit.name), list(unit.args), unit.doc)
    assert isinstance(unit, Function)
    keywords = [f"{k}={unit.args[k].value!r}" if isinstance(unit.args[k].value, (int, float, str)) else f"{k}=None"
                for k in unit.keywords]
    source = _stub(names.get(unit.name, unit.name), unit.positional() + keywords, unit.doc)
    if unit.backward is not None:
        source += _stub(names.get(unit.backward.name, unit.backward.name), list(unit.backward.args), unit.backward.doc)
    return source


def first_paragraph(text: str) -> str:
    """The description's first paragraph, whole (the rest of an exercise's docstring is for instructors)."""
    paragraph = text.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines())


def starter_source(exercise: Exercise, names: dict[str, str] | None = None, layout: Layout = Layout()) -> str:
    description = first_paragraph(exercise.description or "")
    description = textwrap.fill(description, width=100) + "\n" if description else ""
    header = HEADER.format(title=exercise.title, description=description + layout.starter_note(exercise))
    if exercise.frameworks:
        header += TORCH_IMPORTS
    return header + "".join(_unit_source(u, names or {}) for u in exercise.units)


def write_starter(assignment: Assignment, out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for exercise in assignment.select(None):
        path = out_dir / (exercise.starter or f"{exercise.id}.py")
        path.write_text(starter_source(exercise, assignment.names, Layout.of(assignment.options)), encoding="utf-8")
        written.append(path)
    return written
