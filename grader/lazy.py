"""PyTorch, imported when first used rather than when a file is read.

Exercise files and reference modules are read by every command (`grade list`, `grade starter`, the
grading of a NumPy exercise, the student's child being started) but most of them only need torch
once a reference runs. They write `from grader.lazy import torch, F` instead of `import torch` and
`import torch.nn.functional as F`: the names below are stand-ins whose first attribute access imports
the real module (2 s or more) and returns its attribute. Nothing may use torch at import time in such
a file (a base class `torch.nn.Module`, a decorator `@torch.no_grad()`): that belongs in a module the
grader imports only when it grades with it. tests/test_import_budget.py holds the built-in files to it.
"""
from __future__ import annotations

import importlib
import types


class LazyModule(types.ModuleType):
    """Stands for the module `name`; imports it on the first attribute that is not its own."""

    def __getattr__(self, attr: str):
        return getattr(importlib.import_module(self.__name__), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__name__!r}>"


torch = LazyModule("torch")
F = LazyModule("torch.nn.functional")
optim = LazyModule("grader.optim")  # torch.optim's classes without the compiler import
