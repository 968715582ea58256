"""Errors from converted notebooks, rewritten in the grading process so they point at cells and say why a
name is missing (torch policy, dropped experiment code): a proxy of the sandbox with the same methods."""
from __future__ import annotations

import dataclasses
import re

from .read import NotebookFile

# ------------------------------------------------------------------------------ errors in the child


_FRAME = re.compile(r'File "([^"]+)", line (\d+)')
_NAME_ERROR = re.compile(r"name '(\w+)' is not defined")


class ErrorMapper:
    """Rewrite the sandbox's errors from converted notebooks so they point at cells and say why a name is
    missing (torch policy, dropped experiment code)."""

    def __init__(self, notebooks: dict[str, NotebookFile]):
        self.notebooks = notebooks  # generated file (relative to the submission copy) -> notebook

    def error(self, error):
        if error is None or not self.notebooks:
            return error
        notebook = self.notebooks.get(error.file or "")
        message, traceback, file, line = error.message or "", error.traceback, error.file, error.line
        if notebook is not None and error.type == "NameError":
            match = _NAME_ERROR.search(message)
            why = notebook.explain_missing(match.group(1)) if match else None
            if why:
                message = message.replace(match.group(0), why, 1)
                traceback = traceback.replace(match.group(0), why) if traceback else traceback
        if notebook is not None and line:
            message = f"{message} ({notebook.location(line).describe()})"
            file, line = notebook.rel, None
        if traceback:
            traceback = _FRAME.sub(self._frame, traceback)
        for generated, nb in self.notebooks.items():
            message = message.replace(generated, nb.rel)
            traceback = traceback.replace(generated, nb.rel) if traceback else traceback
        return dataclasses.replace(error, message=message, traceback=traceback, file=file, line=line)

    def _frame(self, match: re.Match) -> str:
        notebook = self.notebooks.get(match.group(1))
        if notebook is None:
            return match.group(0)
        loc = notebook.location(int(match.group(2)))
        if loc.cell is None:
            return f'File "{notebook.rel}", line {loc.line}'
        return f'File "{notebook.rel}", cell {loc.cell}, line {loc.cell_line}'

    def fix(self, value):
        from ..sandbox.session import ErrorInfo, Outcome
        if isinstance(value, Outcome):
            return dataclasses.replace(value, error=self.error(value.error)) if value.error else value
        if isinstance(value, ErrorInfo):
            return self.error(value)
        if isinstance(value, dict) and any(isinstance(v, ErrorInfo) for v in value.values()):
            return {k: self.error(v) if isinstance(v, ErrorInfo) else v for k, v in value.items()}
        return value


class MappedSandbox:
    """The sandbox seen through an ErrorMapper: same methods, errors rewritten (see ErrorMapper)."""

    def __init__(self, sandbox, mapper: ErrorMapper):
        self._sandbox, self._mapper = sandbox, mapper

    def __getattr__(self, name: str):
        value = getattr(self._sandbox, name)
        if name.startswith("_") or not callable(value):
            return value

        def call(*args, **kwargs):
            return self._mapper.fix(value(*args, **kwargs))
        call.__name__ = name
        return call

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._sandbox.__exit__(*exc)


def map_errors(sandbox, plan):
    """The sandbox itself for a plan without notebooks; otherwise a MappedSandbox."""
    notebooks = {f.generated: f for f in plan.files if isinstance(f, NotebookFile) and f.generated in plan.generated}
    return MappedSandbox(sandbox, ErrorMapper(notebooks)) if notebooks else sandbox
