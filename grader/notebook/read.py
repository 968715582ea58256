"""The loader's reader for .ipynb files: a notebook as a SourceFile whose text is the converted module and
whose locations name cells."""
from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ..results import Location
from ..sources import SourceFile, module_name
from .cells import read_cells
from .convert import DEFAULT_MODE, Converter, Dropped, NotebookOptions

MAX_NOTEBOOK_BYTES = 50_000_000  # outputs (plots) make notebooks large; they are parsed, never kept


# ------------------------------------------------------------------------------------ source file


@dataclass
class NotebookFile(SourceFile):
    """A notebook as the loader sees it: `text` is the converted module, `location` reports cells."""

    mode: str = DEFAULT_MODE
    line_map: list = field(default_factory=list, repr=False)
    dropped: dict[str, Dropped] = field(default_factory=dict, repr=False)
    guarded: dict[str, int] = field(default_factory=dict, repr=False)
    export_rel: str | None = None  # the .py file Jupyter would export this notebook to

    def location(self, line: int) -> Location:
        where = self.line_map[line - 1] if 1 <= line <= len(self.line_map) else None
        if where is None:
            return Location(self.rel, line)
        cell, cell_id, cell_line = where
        return Location(self.rel, line, cell, cell_id, cell_line)

    def supersedes(self, rel: str) -> bool:
        return rel == self.export_rel

    def explain_missing(self, name: str) -> str | None:
        """Why `name` is not defined in the converted module, for a NameError's message."""
        if name in self.dropped:
            return self.dropped[name].explain(name)
        if name in self.guarded:
            return (f"{name} is not defined: its assignment in cell {self.guarded[name]} failed when the notebook "
                    "was loaded")
        return None


def _generated_module(path: Path, rel: str) -> str:
    stem = path.name[: -len(".ipynb")]
    name = stem if stem.isidentifier() and stem.isascii() else (
        re.sub(r"[^A-Za-z0-9_]", "_", stem) + f"_{zlib.crc32(stem.encode()):08x}")
    name = "_nb_" + name
    while os.path.lexists(path.parent / f"{name}.py") or os.path.lexists(path.parent / name):
        name += "_"
    folder = rel.rpartition("/")[0]
    return (folder + "/" if folder else "") + name + ".py"


def read_notebook(path: Path, rel: str, data: bytes, options: dict[str, Any] | None = None,
                  required: Iterable[str] = ()) -> NotebookFile:
    """The loader's reader for .ipynb files (grader.loader.READERS)."""
    opts = NotebookOptions.from_options(options)
    cells = read_cells(data, rel)
    conversion = Converter(rel, path.parent, opts, required).run(cells)
    generated = _generated_module(path, rel)
    folder, _sep, _name = rel.rpartition("/")
    return NotebookFile(
        path, rel, module_name(generated), conversion.source, generated=generated, issues=conversion.issues,
        notes=conversion.notes, mode=opts.mode, line_map=conversion.line_map, dropped=conversion.dropped,
        guarded=conversion.guarded, export_rel=(folder + "/" if folder else "") + path.name[: -len(".ipynb")] + ".py")



