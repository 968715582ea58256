"""Find what a submission defines, on the syntax tree, without running any of it.

The plan says which student file defines each required name, which modules the sandbox child must
import (only those defining a graded name, so a `train.py` that trains at import never runs), and what
is wrong with the files: syntax errors, duplicate definitions, files that shadow libraries.

Files are read through `SourceFile` (grader/sources.py), whose `location(line)` turns a line of the
(Python) text into a `Location`. `READERS` maps a suffix to its reader: .py files here, notebooks in
grader/notebook/ (a `SourceFile` whose text is the converted source and whose `location` reports cells).
"""
from __future__ import annotations

import ast
import io
import os
import pkgutil
import stat
import sys
import tokenize
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from grader.i18n import _
from grader.results import Location
from grader.sources import FileIssue, LoadIssue, SourceFile, module_name
from grader.notebook import MAX_NOTEBOOK_BYTES, read_notebook

MAX_FILE_BYTES = 1_000_000
MAX_FILES = 500
SKIP_DIRS = {"__pycache__", "__MACOSX", "node_modules", "site-packages"}
# Always treated as libraries, installed here or not: what coursework imports, plus the grader itself
# (a student `grader.py` must not capture the child's own imports).
KNOWN_LIBRARIES = {
    "numpy", "scipy", "torch", "torchvision", "matplotlib", "sklearn", "pandas", "jax", "tensorflow",
    "keras", "PIL", "cv2", "tqdm", "pytest", "IPython", "jinja2", "click", "nbformat", "grader",
}


class SubmissionError(Exception):
    """The submission can't be graded at all (missing path, wrong kind of file, no Python files)."""


@dataclass
class Definition:
    name: str
    module: str
    file: str
    line: int
    kind: str  # function | class | assignment
    methods: dict[str, int]  # classes: method (or class attribute) name -> line
    location: Location
    source: SourceFile | None = field(default=None, repr=False, compare=False)  # locates methods (cells)
    stub: bool = False  # a function whose body only raises NotImplementedError (the starter kit's stubs)


@dataclass
class LoadPlan:
    root: Path
    files: list[SourceFile]
    definitions: dict[str, Definition]
    missing: list[str]
    modules: list[str]
    errors: list[LoadIssue]
    notes: list[str]
    # Folders to put on the child's sys.path, in this order: the root, then the folders (without
    # __init__.py) of imported nested modules, so `from layers import x` between siblings works.
    search_path: list[Path] = field(default_factory=list)
    # Files the sandbox writes into its copy before importing (converted notebooks): relative path -> source.
    generated: dict[str, str] = field(default_factory=dict)
    # Every absolute module an import statement of the submission names, function-level ones included
    # (`from a.b import c` names a.b and a.b.c): what its process may load of the machine's libraries.
    imports: frozenset[str] = frozenset()

    def locate(self, name: str) -> Location | None:
        """Location of `relu_forward` or `NeuralNetwork.backward` (the class when the method is inherited)."""
        top, _, method = name.partition(".")
        d = self.definitions.get(top)
        if d is None:
            return None
        if method in d.methods:
            source = next(f for f in self.files if f.rel == d.file)
            return source.location(d.methods[method])
        return d.location


def _read_python(path: Path, rel: str, data: bytes, options: dict | None = None, required=()) -> SourceFile:
    # Decode like the import system does: BOM or PEP 263 coding cookie, else UTF-8.
    try:
        encoding, _lines = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise FileIssue(LoadIssue(
            "encoding", _("{file}:{line}: this file is not valid {encoding} text (byte 0x{byte}); save it as "
                          "UTF-8.").format(file=rel, line=line, encoding=e.encoding, byte=f"{data[e.start]:02x}"),
            rel, line, [Location(rel, line)]))
    except (SyntaxError, LookupError) as e:  # bad or unknown coding cookie
        raise FileIssue(LoadIssue("encoding", _("{file}: can't read this file: {error}; save it as UTF-8.").format(
            file=rel, error=e), rel))
    return SourceFile(path, rel, module_name(rel), text)


# Suffix -> reader(path, rel, data, options, required names).
READERS: dict[str, Callable[..., SourceFile]] = {".py": _read_python, ".ipynb": read_notebook}
# Suffix -> largest file read (notebooks carry their outputs, which are never kept).
MAX_BYTES_BY_SUFFIX: dict[str, int] = {".ipynb": MAX_NOTEBOOK_BYTES}


@lru_cache(maxsize=1)
def _library_names() -> frozenset[str]:
    site_dirs = [p for p in sys.path if os.path.basename(p) in ("site-packages", "dist-packages")]
    installed = {m.name for m in pkgutil.iter_modules(site_dirs)}
    return frozenset(KNOWN_LIBRARIES | set(sys.stdlib_module_names) | set(sys.builtin_module_names) | installed)


# ---------------------------------------------------------------------------------------- scanning


@dataclass
class _Scan:
    bindings: dict[str, tuple[int, str, ast.AST]] = field(default_factory=dict)  # name -> (line, kind, node)
    imported: dict[str, int] = field(default_factory=dict)  # names bound by import statements -> line
    imports: list[tuple[int, str, list[str]]] = field(default_factory=list)  # (level, module, names)


def _is_main_guard(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) and any(
        isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for t in target.elts for n in _target_names(t)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []  # attributes and subscripts bind no name


_TRY = (ast.Try, getattr(ast, "TryStar", ast.Try))


def _collect(body: list[ast.stmt], scan: _Scan) -> None:
    """Names bound at import time, in textual order so the last binding wins (Python semantics)."""
    out = scan.bindings
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[node.name] = (node.lineno, "function", node)
        elif isinstance(node, ast.ClassDef):
            out[node.name] = (node.lineno, "class", node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if node.value else []
            for name in (n for t in targets for n in _target_names(t)):
                out[name] = (node.lineno, "assignment", node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            # An import is not a definition, and one after a def rebinds the name to something else.
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                if name != "*":
                    out.pop(name, None)
                    scan.imported[name] = node.lineno
        elif isinstance(node, ast.Delete):
            for name in (n for t in node.targets for n in _target_names(t)):
                out.pop(name, None)
        elif isinstance(node, ast.If):
            if not _is_main_guard(node.test):  # `if __name__ == "__main__":` never runs on import
                _collect(node.body, scan)
            _collect(node.orelse, scan)
        elif isinstance(node, _TRY):
            _collect(node.body, scan)
            for handler in node.handlers:
                _collect(handler.body, scan)
            _collect(node.orelse, scan)
            _collect(node.finalbody, scan)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            _collect(node.body, scan)


def _scan(tree: ast.Module) -> _Scan:
    scan = _Scan()
    _collect(tree.body, scan)
    for node in ast.walk(tree):  # every import, function-level ones included: they run when graded code runs
        if isinstance(node, ast.Import):
            scan.imports += [(0, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            scan.imports.append((node.level, node.module or "", [a.name for a in node.names]))
    return scan


def _is_stub(node: ast.AST) -> bool:
    """A function whose body is (a docstring and) `raise NotImplementedError`: not attempted yet."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    body = node.body[1:] if node.body and isinstance(node.body[0], ast.Expr) \
        and isinstance(node.body[0].value, ast.Constant) and isinstance(node.body[0].value.value, str) else node.body
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    exc = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _methods(node: ast.AST) -> dict[str, int]:
    if not isinstance(node, ast.ClassDef):
        return {}
    inner = _Scan()
    _collect(node.body, inner)
    return {name: line for name, (line, _, _) in inner.bindings.items()}


# -------------------------------------------------------------------------------------- discovery


def _discover(path: Path, required: list[str]) -> tuple[Path, list[Path], list[str]]:
    if required:
        expected = _("Expected a folder of .py files, or a single .py file defining {names}").format(
            names=", ".join(required))
    else:
        expected = _("Expected a folder of .py files, or a single .py file")
    if not path.exists():
        raise SubmissionError(_("Submission not found: {path} does not exist. {expected}.").format(
            path=path, expected=expected))
    if path.is_file():
        if path.suffix not in READERS:
            kind = _("a {suffix} file").format(suffix=path.suffix) if path.suffix else _(
                "a file without the .py extension")
            raise SubmissionError(_("Submission {path} is {kind}, not Python source. {expected}.").format(
                path=path, kind=kind, expected=expected))
        return path.parent, [path], []
    if not path.is_dir():
        raise SubmissionError(_("Submission {path} is neither a file nor a folder. {expected}.").format(
            path=path, expected=expected))

    found: list[Path] = []
    notes: list[str] = []
    for dirpath, dirnames, filenames in os.walk(path):
        here = Path(dirpath)
        kept = []
        for name in sorted(dirnames):
            sub = here / name
            if name.startswith(".") or name in SKIP_DIRS:
                continue
            if (sub / "pyvenv.cfg").exists() or (sub / "conda-meta").is_dir():
                notes.append(_("{folder}/ looks like a virtual environment; its files were not read.").format(
                    folder=sub.relative_to(path).as_posix()))
                continue
            kept.append(name)
        dirnames[:] = kept  # sorted in place: os.walk then visits folders in a deterministic order
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if os.path.splitext(name)[1] in READERS:
                if len(found) == MAX_FILES:
                    notes.append(_("Only the first {n} Python files were read; the others were ignored.").format(
                        n=MAX_FILES))
                    return path, found, notes
                found.append(here / name)
    return path, found, notes


def _read_bytes(path: Path, rel: str, limit: int = MAX_FILE_BYTES) -> bytes | str:
    """The file's bytes, or a note saying why it was skipped."""
    if path.is_symlink():
        return _("{file} is a symbolic link; it was not read.").format(file=rel)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device named *.py would block or never end
            return _("{file} is not a regular file; it was not read.").format(file=rel)
        if st.st_size <= limit:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
            if len(data) <= limit:
                return data
    except OSError as e:
        return _("{file} could not be read ({error}); it was skipped.").format(file=rel, error=e.strerror)
    return _("{file} is larger than {size} MB; it was not read.").format(file=rel, size=f"{limit / 1e6:g}")


def _shadowed_library(source: SourceFile, libraries: frozenset[str]) -> tuple[str, str] | None:
    """(why it is not imported, message) when the file, or the top folder of a nested module, takes a library's name."""
    parts = source.rel.split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    if stem != "__init__" and stem in libraries and not source.generated:  # a notebook imports as _nb_<stem>
        return _("its name clashes with the {library} library").format(library=stem), _(
            "Your file {file} has the same name as the {library} library, so `import {library}` would load your "
            "file instead. Rename it.").format(file=source.rel, library=stem)
    if len(parts) > 1 and parts[0] in libraries:
        return _("its folder {library}/ clashes with the {library} library").format(library=parts[0]), _(
            "Your folder {library}/ has the same name as the {library} library, so `import {library}` would not "
            "find your files reliably. Rename it.").format(library=parts[0])
    return None


def _imported_modules(source: SourceFile, scan: _Scan, known: set[str]) -> set[str]:
    """Student modules that `source` imports (best effort, for notes only)."""
    parts = source.module.split(".") if source.module else []
    package = parts if source.rel.endswith("__init__.py") else parts[:-1]
    out: set[str] = set()
    for level, module, names in scan.imports:
        if level:
            base = package[: len(package) - (level - 1)]
            bases = [".".join(base + ([module] if module else []))]
        else:  # absolute, or a bare sibling name resolved through search_path
            bases = [module] + ([".".join(package + [module])] if package else [])
        for b in bases:
            pieces = b.split(".")
            candidates = {".".join(pieces[:i]) for i in range(1, len(pieces) + 1)} | {f"{b}.{n}" for n in names}
            out |= candidates & known
    return out - {source.module}


def _and(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return _("{first} and {last}").format(first=", ".join(items[:-1]), last=items[-1])


# ------------------------------------------------------------------------------------------ plan


def nothing_graded(path: Path, required: list[str], shown: int = 3) -> str:
    """One sentence for a submission that defines none of the graded functions."""
    names = ", ".join(required[:shown]) + (", …" if len(required) > shown else "")
    return _("No graded function found in {path}: expected files that define {names} ({n} in all); see "
             "`grade starter`.").format(path=Path(path), names=names, n=len(required))


def plan_submission(path: Path, required_names: Iterable[str], options: dict | None = None) -> LoadPlan:
    """`options` are the assignment's (readers use them, e.g. notebook_mode)."""
    required = list(dict.fromkeys(required_names))
    root, paths, notes = _discover(Path(path).resolve(), required)
    errors: list[LoadIssue] = []
    files: list[SourceFile] = []
    for p in paths:
        rel = p.relative_to(root).as_posix()
        data = _read_bytes(p, rel, MAX_BYTES_BY_SUFFIX.get(p.suffix, MAX_FILE_BYTES))
        if isinstance(data, str):
            notes.append(data)
            continue
        try:
            files.append(READERS[p.suffix](p, rel, data, options or {}, required))
        except FileIssue as e:
            if e.issue.kind == "notebook" and Path(path).is_file():  # the whole submission is unreadable
                raise SubmissionError(str(e.issue)) from None
            errors.append(e.issue)
            continue
        errors += files[-1].issues
        notes += files[-1].notes
    if not files and not errors:
        raise SubmissionError(" ".join([nothing_graded(path, required)] + notes))
    files.sort(key=lambda f: (f.rel.count("/"), f.rel))  # shallow files first: they win ties

    scans: dict[str, _Scan] = {}
    for f in files:
        try:
            scans[f.rel] = _scan(ast.parse(f.text, filename=f.rel))
        except SyntaxError as e:
            line = e.lineno or 1
            loc = f.location(line)
            errors.append(LoadIssue(
                "syntax", _("{where}: syntax error: {error}. Nothing in this file can be graded until it is "
                            "fixed.").format(where=loc.describe(), error=e.msg), f.rel, line, [loc]))
        except (ValueError, RecursionError, MemoryError) as e:  # null bytes; absurdly nested code
            errors.append(LoadIssue("syntax", _("{file}: can't parse this file: {error}.").format(file=f.rel, error=e),
                                    f.rel))

    # Files that must never be imported, and why.
    libraries = _library_names()
    excluded: dict[str, tuple[str, str]] = {}  # rel -> (issue kind, why)
    reported: set[str] = set()
    for f in files:
        shadow = _shadowed_library(f, libraries)
        if shadow:
            why, message = shadow
            excluded[f.rel] = ("shadow", why)
            if message not in reported:
                reported.add(message)
                notes.append(message)
        elif f.module is None:
            excluded[f.rel] = ("unimportable", _("the dot in its name stops Python from importing it; rename it"))

    definitions: dict[str, Definition] = {}
    superseded: dict[str, list[str]] = {}  # a notebook's .py export -> names taken from the notebook instead
    missing: list[str] = []
    found_notes: list[str] = []
    for name in required:
        places = [(f, scans[f.rel].bindings[name]) for f in files if f.rel in scans and name in scans[f.rel].bindings]
        usable = []
        for f, (line, kind, node) in places:
            loc = f.location(line)
            if f.rel in excluded:
                issue_kind, why = excluded[f.rel]
                errors.append(LoadIssue(
                    issue_kind, _("{name} is defined in {where}, but that file is not imported: {why}.").format(
                        name=name, where=loc.describe(), why=why),
                    f.rel, line, [loc]))
            else:
                usable.append(Definition(name, f.module, f.rel, line, kind, _methods(node), loc, f, _is_stub(node)))
        exports = [d for d in usable if any(o.source.supersedes(d.file) for o in usable)]
        if exports:  # a notebook and its own .py export: the notebook is graded (see grader/notebook/)
            usable = [d for d in usable if d not in exports]
            for d in exports:
                superseded.setdefault(d.file, []).append(name)
        if not usable:
            missing.append(name)
            imported = [(f, scans[f.rel].imported[name]) for f in files if name in scans.get(f.rel, _Scan()).imported]
            if imported and not places:
                f, line = imported[0]
                found_notes.append(_("{name}: not defined in your files; {where} only imports it.").format(
                    name=name, where=f.location(line).describe()))
            continue
        chosen = definitions[name] = usable[0]
        found_notes.append(_("{name}: defined in {where}").format(name=name, where=chosen.location.describe()))
        if len(usable) > 1:
            where = [d.location.describe() for d in usable]
            if len(usable) == 2:
                message = _("{name} is defined twice: {places}; keep one. The grader uses the one in {first}.")
            else:
                message = _("{name} is defined {n} times: {places}; keep one. The grader uses the one in {first}.")
            errors.append(LoadIssue(
                "duplicate", message.format(name=name, n=len(usable), places=_and(where), first=where[0]),
                chosen.file, chosen.line, [d.location for d in usable]))
    notes += found_notes
    for rel, names in superseded.items():
        exported_from = next(f.rel for f in files if f.supersedes(rel))
        notes.append(_("{file} looks like the .py export of {notebook}: both define {names}. The notebook is "
                       "graded; an export also runs every cell (training, plots) when imported.").format(
            file=rel, notebook=exported_from, names=_and(names)))

    modules = sorted({d.module for d in definitions.values()})
    by_module = {f.module: f for f in files if f.module and f.rel not in excluded}
    search_path = [root]
    for folder in sorted({(root / d.file).parent for d in definitions.values()}):
        if folder != root and folder not in search_path and not (folder / "__init__.py").exists():
            search_path.append(folder)

    # Say why each other file is left alone, and when graded code pulls it in anyway.
    importers: dict[str, str] = {}
    queue = list(modules)
    while queue:
        m = queue.pop(0)
        for target in sorted(_imported_modules(by_module[m], scans[by_module[m].rel], set(by_module))):
            if target not in importers and target not in modules:
                importers[target] = by_module[m].rel
                queue.append(target)
    for f in files:
        if f.rel not in scans or f.rel in excluded or f.module in modules or f.rel in superseded:
            continue
        if f.module in importers:
            notes.append(_("{file} defines nothing graded, but {importer} imports it, so its top-level code runs "
                           "when your code is loaded.").format(file=f.rel, importer=importers[f.module]))
        else:
            notes.append(_("{file} is not imported: it defines nothing graded.").format(file=f.rel))
    for m in modules:
        f = by_module[m]
        if "." not in m and any(level for level, _, _ in scans[f.rel].imports):
            notes.append(_("{file} uses a relative import (`from . import ...`), which fails when the file is "
                           "imported on its own; import your other files by name instead.").format(file=f.rel))

    generated = {f.generated: f.text for f in files if f.generated and f.rel not in excluded}
    imports = frozenset(name for scan in scans.values() for level, module, names in scan.imports if level == 0
                        for name in (module, *(f"{module}.{n}" for n in names if n != "*")))
    return LoadPlan(root, files, definitions, missing, modules, errors, notes, search_path, generated, imports)

