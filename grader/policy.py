"""Framework policy: a NumPy exercise may not have PyTorch, JAX, TensorFlow or another autodiff library
do the work.

Enforced from both sides of the sandbox. Inside, the child installs an import hook before any student
code loads, so `import torch` fails (and an attempt made by the student's own code is reported). Outside,
after every exchange and during long calls, the grader reads /proc/<pid>/maps of the student's processes:
a framework's native libraries appear there however they were loaded (an obfuscated import, a removed
hook, ctypes), and that is never taken from the child's word. A violation makes the exercise it happened
in score 0 with a plain message. The assignment allows modules with `allow_modules = ["torch"]`.
Pure-Python libraries (HIPS autograd, tinygrad) have no native library to see: only the hook stops them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .i18n import _
from .results import FAILED, ExerciseResult

# family -> (top-level modules, fragments of the paths of its native libraries)
FRAMEWORKS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "torch": (("torch", "torchvision", "torchaudio", "functorch", "lightning", "pytorch_lightning"),
              ("/libtorch", "/libc10", "/torch/_C", "/torch/lib/")),
    "jax": (("jax", "jaxlib", "flax", "optax", "haiku", "equinox"), ("/jaxlib/", "xla_extension", "/libjax")),
    "tensorflow": (("tensorflow", "keras", "tf_keras", "tensorflow_core"),
                   ("libtensorflow", "_pywrap_tensorflow", "/tensorflow/python/")),
    "mxnet": (("mxnet",), ("libmxnet",)),
    "paddle": (("paddle", "paddlepaddle"), ("libpaddle", "/paddle/base/", "/paddle/fluid/")),
    "mlx": (("mlx",), ("libmlx", "/mlx/core")),
    "oneflow": (("oneflow",), ("liboneflow",)),
    "mindspore": (("mindspore",), ("/mindspore/",)),
    "autograd": (("autograd",), ()),
    "tinygrad": (("tinygrad",), ()),
    "theano": (("theano", "aesara", "pytensor"), ()),
    "chainer": (("chainer",), ()),
}

# Families that a student's module may import and not use in NumPy exercises: the course's bridge notebook
# holds its NumPy class and its PyTorch class in one module that starts with `import torch`.
STANDIN = ("torch",)


@dataclass(frozen=True)
class Violation:
    label: str  # what was running: "relu_forward()", "importing layers.py"
    frameworks: tuple[str, ...]
    module: str | None = None  # set when it happened while a module was imported: every exercise using it
    how: str = "native"  # native: its libraries were loaded | import: the student's code tried to import it
    #                      | use: the student's code touched the framework's stand-in during a graded call
    #                      | unverifiable: the process made itself unreadable to the grader

    def message(self) -> str:
        names = ", ".join(self.frameworks)
        if self.how == "unverifiable":
            return _("{label} made the student's process unreadable to the grader, so it could not check that no "
                     "framework such as PyTorch was used. This exercise scores 0.").format(label=self.label)
        if self.how == "use":
            return _("{label} used {names}. This is a NumPy exercise: write the computation with NumPy; {names} "
                     "is only for the assignment's PyTorch exercises. This exercise scores 0.").format(
                label=self.label, names=names)
        if self.how == "import":
            return _("{label} tried to import {names}. This is a NumPy exercise: write the computation with NumPy; "
                     "the assignment does not allow {names}. This exercise scores 0.").format(label=self.label,
                                                                                             names=names)
        return _("{label} used {names} (its libraries were loaded into the student's process). This is a NumPy "
                 "exercise: write the computation with NumPy; the assignment does not allow {names}. This exercise "
                 "scores 0.").format(label=self.label, names=names)


class FrameworkPolicy:
    """Which frameworks are off limits, and how to recognise them from outside."""

    def __init__(self, allowed=(), standin=()):
        """allowed: families (or their modules) the child may load. standin: blocked families whose import
        gives the student's code an inert stand-in (grader/sandbox/standin.py) instead of an ImportError:
        a module that imports torch for its PyTorch exercises still loads, and its NumPy code is judged on
        whether it uses torch."""
        allowed = {str(a) for a in allowed}
        self.allowed = tuple(sorted(allowed))  # the sandbox's view shows these too (grader/sandbox/view.py)
        self.families = {f: spec for f, spec in FRAMEWORKS.items()
                         if f not in allowed and not allowed.intersection(spec[0])}
        self.standin = sorted(m for f in standin if f in self.families for m in self.families[f][0])
        self.blocked = sorted(m for modules, _markers in self.families.values() for m in modules)
        self._markers = [(f, m.encode()) for f, (_mods, ms) in self.families.items() for m in ms]
        self._family_of_module = {m: f for f, (mods, _ms) in self.families.items() for m in mods}

    @classmethod
    def from_options(cls, options: dict[str, Any], standin=STANDIN) -> FrameworkPolicy:
        allowed = options.get("allow_modules") or []
        if isinstance(allowed, str):
            allowed = [allowed]
        return cls(allowed, standin)

    def child_config(self) -> list[str]:
        return list(self.blocked)

    def standin_config(self) -> list[str]:
        return list(self.standin)

    def allowing(self, frameworks) -> FrameworkPolicy:
        """The policy of a child that grades exercises allowed to use `frameworks` as well."""
        allowed = [f for f in FRAMEWORKS if f not in self.families] + list(frameworks)
        return FrameworkPolicy(allowed)

    def family(self, module: str) -> str | None:
        return self._family_of_module.get(str(module).partition(".")[0])

    def scan(self, pids) -> tuple[set[str], bool]:
        """Frameworks whose native libraries are mapped into any of `pids`, and whether a live process
        could not be read (a process that made itself non-dumpable, when the grader is not root)."""
        found, unreadable = set(), False
        if not self._markers:
            return found, unreadable
        for pid in pids:
            try:
                with open(f"/proc/{pid}/maps", "rb") as f:
                    data = f.read()
            except FileNotFoundError:
                continue
            except PermissionError:
                unreadable = True
                continue
            except OSError:
                continue
            found.update(self._mapped(data))
        return found, unreadable

    def _mapped(self, data: bytes) -> set[str]:
        """The families whose libraries one process's maps (its /proc/<pid>/maps) show: by a marker in a
        mapped file's path, or by the (device, inode) of an installed library under another name (a link,
        a bind mount). A plain search of the whole text first: when nothing matches (the common case) the
        lines need no parsing."""
        identities = self._identities()
        if not any(marker in data for _family, marker in self._markers) and not any(
                b" %b %b " % key in data for key in identities):
            return set()
        mapped = set(_FILE_MAPPING.findall(data))  # distinct (device, inode, path)
        found = {family for _dev, _inode, path in mapped for family, marker in self._markers if marker in path}
        found.update(family for dev, inode, _path in mapped
                     if inode != b"0" and (family := identities.get((dev, inode))) is not None)
        return found

    def _identities(self) -> dict[tuple[bytes, bytes], str]:
        """(device as /proc/<pid>/maps writes it, inode) of every native library of the blocked families
        installed on this machine -> family."""
        return _library_identities(tuple(sorted(self.families)))


LIBRARY_DEPTH = 2
# A line of /proc/<pid>/maps with a path: "start-end perms offset dev inode   path".
_FILE_MAPPING = re.compile(rb"^[0-9a-f]+-[0-9a-f]+ \S+ \S+ (\S+) ([0-9]+) +(/[^\n]*)$", re.MULTILINE)


@lru_cache(maxsize=8)
def _library_identities(families: tuple[str, ...]) -> dict[tuple[bytes, bytes], str]:
    """Found from the installed packages' folders (importlib's finder: nothing is imported)."""
    import importlib.util
    import os
    found = {}
    for family in families:
        for module in FRAMEWORKS[family][0]:
            try:
                spec = importlib.util.find_spec(module)
            except (ImportError, ValueError):
                continue
            for folder in (spec.submodule_search_locations or []) if spec else []:
                for root, dirs, names in os.walk(folder):
                    # Native libraries sit at the top or in a "lib" folder near it (torch/lib, jaxlib/mlir/_mlir_libs).
                    depth = root[len(folder):].count(os.sep)
                    dirs[:] = [d for d in dirs if depth < LIBRARY_DEPTH and ("lib" in d or d in ("mlir", "python"))]
                    for name in names:
                        if ".so" in name or name.endswith((".dylib", ".pyd")):
                            try:
                                st = os.stat(os.path.join(root, name))
                            except OSError:
                                continue
                            dev = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}".encode()
                            found[(dev, str(st.st_ino).encode())] = family
    return found


def exercise_modules(ctx) -> set[str]:
    """The student modules that define the names an exercise grades."""
    modules = set()
    for name in ctx.exercise.required_names():
        definition = ctx.definitions.get(ctx.student_name(name))
        if definition is not None:
            modules.add(definition.module)
    return modules


def enforce(graded: ExerciseResult, ctx, violations: list[Violation], since: int,
            also: range = range(0)) -> ExerciseResult:
    """Zero an exercise when a violation happened while it was graded, or while importing a module that
    defines one of its names. `since`: how many violations there were when the exercise started; `also`:
    the violations of its work done ahead (grader/ahead.py), before other exercises were graded."""
    modules = exercise_modules(ctx)
    relevant = [v for k, v in enumerate(violations)
                if (v.module in modules) or (v.module is None and (k >= since or k in also))]
    if not relevant:
        return graded
    message = relevant[0].message()
    for check in graded.checks:
        check.score, check.status, check.message, check.hint = 0.0, FAILED, message, None
    graded.notes.append(message)
    return graded
