"""Conversion of a notebook's code cells into the source of an importable module, statement by statement
on the syntax tree, in the modes `defs`, `tagged` and `all` (see the package's docstring)."""
from __future__ import annotations

import ast
import builtins
import importlib.util
import symtable
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from ..i18n import _, ngettext
from ..results import Location
from ..sources import LoadIssue
from .cells import PYTHON_CELL_MAGICS, Cell, strip_magics

MODES = ("defs", "tagged", "all")
DEFAULT_MODE = "defs"
DEFAULT_TAG = "grade"
TORCH_MODULES = frozenset({"torch", "torchvision", "torchaudio"})
TORCH_POLICY = "torch is not available to graded code in this NumPy assignment"
BUILTINS = frozenset(dir(builtins))
# Builtins an assignment kept in `defs` mode must not call: input/output, dynamic code, process exit.
DENIED_CALLS = frozenset({"open", "input", "exec", "eval", "compile", "__import__", "exit", "quit", "breakpoint",
                          "help", "globals", "locals", "vars", "setattr", "delattr"})
GUARD = "except Exception: pass"
_STATEMENT_KINDS = {
    ast.Expr: "an expression", ast.For: "a for loop", ast.AsyncFor: "a for loop", ast.While: "a while loop",
    ast.With: "a with block", ast.AsyncWith: "a with block", ast.If: "an if block", ast.Try: "a try block",
    ast.Delete: "a del statement", ast.Assert: "an assert", ast.Raise: "a raise",
}




@dataclass(frozen=True)
class NotebookOptions:
    mode: str = DEFAULT_MODE
    tag: str = DEFAULT_TAG
    allow_torch: bool = False

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> NotebookOptions:
        options = options or {}
        mode = options.get("notebook_mode", DEFAULT_MODE)
        if mode not in MODES:
            from .assignment import AssignmentError
            raise AssignmentError(f"notebook_mode must be one of {', '.join(MODES)}, not {mode!r}.")
        tag = options.get("notebook_tag", DEFAULT_TAG)
        if not isinstance(tag, str) or not tag:
            from .assignment import AssignmentError
            raise AssignmentError(f"notebook_tag must be a non-empty string, not {tag!r}.")
        return cls(mode, tag, bool(options.get("allow_torch", False)))


# -------------------------------------------------------------------------------------- syntax tree


def _target_names(target: ast.expr) -> list[str] | None:
    """Names bound by an assignment target; None when it assigns to an attribute or an item."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        names = [_target_names(t) for t in target.elts]
        return None if any(n is None for n in names) else [x for n in names for x in n]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return None


def bound_names(node: ast.AST) -> set[str]:
    """Names a statement binds in the module namespace (not inside functions, classes or lambdas)."""
    out: set[str] = set()

    def visit(n: ast.AST) -> None:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(n.name)
            return
        if isinstance(n, (ast.Import, ast.ImportFrom)):
            out.update(a.asname or a.name.split(".")[0] for a in n.names if a.name != "*")
            return
        if isinstance(n, ast.Lambda):
            return
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
            out.add(n.id)
        elif isinstance(n, ast.ExceptHandler) and n.name:
            out.add(n.name)
        for child in ast.iter_child_nodes(n):
            visit(child)
    visit(node)
    return out


def _root(expr: ast.expr) -> str | None:
    while isinstance(expr, (ast.Attribute, ast.Call, ast.Subscript)):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr.id if isinstance(expr, ast.Name) else None


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and len(test.comparators) == 1 and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value == "__main__")


def _is_plain(value: ast.expr) -> bool:
    """A value that cannot fail to evaluate: a literal, a lambda (without defaults) or a name."""
    if isinstance(value, ast.Name) or (isinstance(value, ast.Lambda) and not value.args.defaults
                                       and not any(value.args.kw_defaults)):
        return True
    try:
        ast.literal_eval(value)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def _and(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    return _("{first} and {last}").format(first=", ".join(items[:-1]), last=items[-1])


def _cells(numbers: Iterable[int]) -> str:
    numbers = sorted(set(numbers))
    return ngettext("cell {cells}", "cells {cells}", len(numbers)).format(cells=_and([str(n) for n in numbers]))


@lru_cache(maxsize=256)
def _installed(top: str) -> bool:
    if top in sys.stdlib_module_names or top in sys.builtin_module_names:
        return True
    try:
        return importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


# ------------------------------------------------------------------------------------- conversion


@dataclass
class Dropped:
    """Why a name the notebook binds is not bound in the converted module."""

    cell: int
    why: str  # clause: "it calls train(), which your notebook defines; ..."
    torch: str | None = None  # the torch module it came from, when the torch policy dropped it

    def explain(self, name: str) -> str:
        if self.torch:
            if name == "torch":
                return f"{TORCH_POLICY}; the notebook's `import torch` in cell {self.cell} is not run"
            return f"{name} comes from {self.torch}, and {TORCH_POLICY}; its import in cell {self.cell} is not run"
        return f"{name} is not defined: cell {self.cell} sets it in code the grader does not run, as {self.why}"


@dataclass
class Conversion:
    source: str
    line_map: list[tuple[int, str | None, int] | None]  # converted line - 1 -> (cell, cell id, cell line)
    dropped: dict[str, Dropped]
    guarded: dict[str, int]  # name -> cell of an assignment kept inside try/except
    notes: list[str]
    issues: list[LoadIssue]
    kept_cells: int
    code_cells: int


class Converter:
    """Build the module source from the cells, statement by statement, remembering where each line came from."""

    def __init__(self, rel: str, folder: Path, options: NotebookOptions, required: Iterable[str] = ()):
        self.rel, self.folder, self.options = rel, folder, options
        self.required = list(required)
        self.lines: list[str] = []
        self.line_map: list[tuple[int, str | None, int] | None] = []
        self.future: list[tuple[str, tuple[int, str | None, int]]] = []
        self.available: dict[str, str] = {}  # name -> import | def | class | value
        self.def_cells: dict[str, int] = {}
        self.owners: list[tuple[int, int, set[str]]] = []  # converted line range of a kept statement -> names
        self.dropped: dict[str, Dropped] = {}
        self.guarded: dict[str, int] = {}
        self.star = False
        self.future_annotations = False
        self.torch_imports: dict[str, set[int]] = {}  # statement text -> cells
        self.missing_imports: dict[str, set[int]] = {}  # module -> cells
        self.issues: list[LoadIssue] = []
        self.kept_cells: set[int] = set()

    # ---------------------------------------------------------------- emitting

    def emit(self, lines: list[str], cell: Cell, first_line: int, names: Iterable[str] = ()) -> None:
        start = len(self.lines) + 1
        for offset, text in enumerate(lines):
            self.lines.append(text)
            self.line_map.append((cell.number, cell.id, first_line + offset))
        self.owners.append((start, len(self.lines), set(names)))
        self.kept_cells.add(cell.number)

    def statement_lines(self, stmt: ast.stmt, body: list[ast.stmt], index: int, text: str,
                        lines: list[str]) -> tuple[int, list[str]]:
        """(first cell line, source lines) of a top-level statement, decorators included."""
        start = min([stmt.lineno] + [d.lineno for d in getattr(stmt, "decorator_list", [])])
        end = stmt.end_lineno or stmt.lineno
        shares = (index > 0 and (body[index - 1].end_lineno or 0) >= start) or (
            index + 1 < len(body) and body[index + 1].lineno <= end)
        if shares:  # `a = 1; b = f()`: take just this statement's text
            segment = ast.get_source_segment(text, stmt)
            if segment is not None:
                return stmt.lineno, segment.split("\n")
        return start, lines[start - 1: end]

    def keep(self, stmt: ast.stmt, cell: Cell, body, index, text, lines, *, guard: bool = False,
             replacement: str | None = None) -> None:
        names = bound_names(stmt)
        if replacement is not None:
            first, source = stmt.lineno, [replacement]
        else:
            first, source = self.statement_lines(stmt, body, index, text, lines)
        if guard:
            self.emit(["try: " + source[0], *source[1:]], cell, first, names)
            self.emit([GUARD], cell, first + len(source) - 1)
            self.guarded.update({n: cell.number for n in names})
        else:
            self.emit(source, cell, first, names)
        kind = "def" if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) else (
            "class" if isinstance(stmt, ast.ClassDef) else "value")
        for name in names:
            self.available[name] = "import" if isinstance(stmt, (ast.Import, ast.ImportFrom)) else kind
            self.dropped.pop(name, None)
            if kind in ("def", "class"):
                self.def_cells[name] = cell.number

    def drop(self, names: Iterable[str], cell: Cell, why: str, torch: str | None = None) -> None:
        for name in names:
            if name not in self.available:  # a kept earlier binding is what graded code sees
                self.dropped[name] = Dropped(cell.number, why, torch)

    # ---------------------------------------------------------------- deciding

    def name_problem(self, name: str, local: Iterable[str] = ()) -> str | None:
        if name in local or name in self.available or name in BUILTINS:
            return None
        if name in self.dropped:
            d = self.dropped[name]
            return (f"it uses {name}, but {TORCH_POLICY}" if d.torch else
                    f"it uses {name}, which cell {d.cell} sets in code the grader does not run")
        if self.star:
            return None
        return f"it uses {name}, which is not defined before it"

    def expr_problem(self, expr: ast.AST, local: frozenset[str] = frozenset()) -> str | None:
        """Why a value can't be evaluated when the module is imported, or None when it can."""
        if isinstance(expr, ast.Constant):
            return None
        if isinstance(expr, ast.Name):
            return self.name_problem(expr.id, local)
        if isinstance(expr, ast.Lambda):  # the body runs only when called; defaults run now
            defaults = expr.args.defaults + [d for d in expr.args.kw_defaults if d is not None]
            return next((p for p in (self.expr_problem(d, local) for d in defaults) if p), None)
        if isinstance(expr, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            inner = set(local)
            for gen in expr.generators:
                problem = self.expr_problem(gen.iter, frozenset(inner))
                if problem:
                    return problem
                inner |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
                problem = next((p for p in (self.expr_problem(c, frozenset(inner)) for c in gen.ifs) if p), None)
                if problem:
                    return problem
            parts = [expr.key, expr.value] if isinstance(expr, ast.DictComp) else [expr.elt]
            return next((p for p in (self.expr_problem(c, frozenset(inner)) for c in parts) if p), None)
        if isinstance(expr, ast.Call):
            root = _root(expr.func)
            if root is not None and root not in local:
                if self.available.get(root) in ("def", "class"):
                    return (f"it calls {root}(), which your notebook defines, and the grader does not run your "
                            "experiments")
                if root in DENIED_CALLS and root not in self.available:
                    return f"it calls {root}()"
        elif not isinstance(expr, (ast.Attribute, ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Set, ast.Dict,
                                   ast.UnaryOp, ast.BinOp, ast.BoolOp, ast.Compare, ast.IfExp, ast.Starred,
                                   ast.JoinedStr, ast.FormattedValue, ast.keyword)):
            return "it is not a plain value"
        for child in ast.iter_child_nodes(expr):
            if isinstance(child, (ast.expr, ast.keyword)):
                problem = self.expr_problem(child, local)
                if problem:
                    return problem
        return None

    def deftime_problem(self, node: ast.AST) -> str | None:
        """Why a def or class would fail when defined: its decorators, defaults, annotations, bases or
        class body use a name that is not kept."""
        exprs: list[ast.AST] = list(getattr(node, "decorator_list", []))
        local: set[str] = set()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            exprs += a.defaults + [d for d in a.kw_defaults if d is not None]
            if not self.future_annotations:
                args = a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]
                exprs += [x.annotation for x in args if x.annotation is not None]
                exprs += [node.returns] if node.returns is not None else []
        elif isinstance(node, ast.ClassDef):
            exprs += node.bases + [k.value for k in node.keywords]
            for stmt in node.body:  # the class body runs when the class is defined
                if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    problem = self.deftime_problem(stmt)
                    if problem:
                        return problem
                else:
                    exprs.append(stmt)
                local |= bound_names(stmt)
        for expr in exprs:
            for n in ast.walk(expr):
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                    problem = self.name_problem(n.id, local)
                    if problem:
                        return problem
        return None

    def import_parts(self, stmt: ast.Import | ast.ImportFrom, cell: Cell) -> tuple[list[ast.alias], str | None]:
        """The aliases to keep; drops the others (recording why). Second value: a replacement text, when only
        some aliases are kept."""
        kept = []
        level = getattr(stmt, "level", 0)
        for alias in stmt.names:
            module = alias.name if isinstance(stmt, ast.Import) else (stmt.module or "")
            top = module.split(".")[0] if not level else None
            bound = [] if alias.name == "*" else [alias.asname or alias.name.split(".")[0]]
            if top in TORCH_MODULES and not self.options.allow_torch and self.options.mode != "all":
                self.drop(bound, cell, TORCH_POLICY, torch=top)
                self.torch_imports.setdefault(ast.unparse(stmt), set()).add(cell.number)
            elif self.options.mode == "defs" and top and not self.local_module(top) and not _installed(top):
                self.drop(bound, cell, f"{top} is not installed where your code is graded")
                self.missing_imports.setdefault(top, set()).add(cell.number)
            else:
                kept.append(alias)
                self.star = self.star or alias.name == "*"
        if kept and len(kept) < len(stmt.names):
            return kept, ast.unparse(_with_names(stmt, kept))
        return kept, None

    def local_module(self, top: str) -> bool:
        return (self.folder / f"{top}.py").is_file() or (self.folder / top).is_dir()

    def definitional(self, stmts: list[ast.stmt], local: set[str]) -> str | None:
        """Why an if/try block can't be kept whole in `defs` mode (None: it only defines things)."""
        for stmt in stmts:
            if isinstance(stmt, (ast.Import, ast.ImportFrom)):
                level = getattr(stmt, "level", 0)
                mods = [a.name for a in stmt.names] if isinstance(stmt, ast.Import) else [stmt.module or ""]
                if not level and any(m.split(".")[0] in TORCH_MODULES for m in mods) and not self.options.allow_torch:
                    return TORCH_POLICY
            elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                problem = self.deftime_problem(stmt)
                if problem:
                    return problem
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                if stmt.value is None or any(_target_names(t) is None for t in targets):
                    return "it assigns to an attribute or an item"
                problem = self.expr_problem(stmt.value, frozenset(local))
                if problem:
                    return problem
            elif isinstance(stmt, ast.If):
                problem = (self.expr_problem(stmt.test, frozenset(local)) or self.definitional(stmt.body, local)
                           or self.definitional(stmt.orelse, local))
                if problem:
                    return problem
            elif isinstance(stmt, ast.Try):
                for handler in stmt.handlers:
                    if handler.type is not None and self.expr_problem(handler.type, frozenset(local)):
                        return self.expr_problem(handler.type, frozenset(local))
                for part in (stmt.body, *[h.body for h in stmt.handlers], stmt.orelse, stmt.finalbody):
                    problem = self.definitional(part, local)
                    if problem:
                        return problem
            elif isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
                pass
            else:
                return f"it contains {_STATEMENT_KINDS.get(type(stmt), 'other code')}"
            local |= bound_names(stmt)
        return None

    def defs_statement(self, stmt: ast.stmt, cell: Cell, body, index, text, lines) -> None:
        keep = dict(body=body, index=index, text=text, lines=lines)
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            kept, replacement = self.import_parts(stmt, cell)
            if kept:
                self.keep(stmt if replacement is None else _with_names(stmt, kept), cell, **keep,
                          replacement=replacement)
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            problem = self.deftime_problem(stmt)
            if problem:
                self.drop([stmt.name], cell, problem.replace("it uses", "its definition uses", 1))
            else:
                self.keep(stmt, cell, **keep)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names = [_target_names(t) for t in targets]
            if stmt.value is None or any(n is None for n in names):
                return  # `x: int`, `obj.attr = ...`, `d[k] = ...`: nothing kept code could need by name
            flat = [x for n in names for x in n]
            problem = self.expr_problem(stmt.value)
            if isinstance(stmt, ast.AugAssign) and not problem:
                problem = self.name_problem(flat[0])
            if problem:
                self.drop(flat, cell, problem)
            else:
                self.keep(stmt, cell, **keep, guard=not _is_plain(stmt.value) or isinstance(stmt, ast.AugAssign))
        elif isinstance(stmt, (ast.If, ast.Try)) and not (isinstance(stmt, ast.If) and _is_main_guard(stmt.test)):
            problem = self.definitional([stmt], set())
            if problem:
                self.drop(bound_names(stmt), cell, f"it is inside {_STATEMENT_KINDS[type(stmt)]}, and {problem}")
            else:
                self.keep(stmt, cell, **keep)
        elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            return  # a docstring or a stray literal
        else:
            what = "the `if __name__ == \"__main__\":` block" if isinstance(stmt, ast.If) else (
                _STATEMENT_KINDS.get(type(stmt), "a statement that is not a definition"))
            self.drop(bound_names(stmt), cell, f"it is in {what}")

    # ---------------------------------------------------------------- cells

    def parse(self, cell: Cell, lines: list[str]) -> ast.Module | None:
        text = "\n".join(lines)
        try:
            tree = ast.parse(text, filename=self.rel)
            # `return` outside a function and the like; top-level `await` (IPython) is only an error if it is run.
            flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if self.options.mode == "defs" else 0
            compile(tree, self.rel, "exec", flags=flags, dont_inherit=True)
            return tree
        except SyntaxError as e:
            line = min(max(e.lineno or 1, 1), max(len(lines), 1))
            loc = Location(self.rel, line, cell.number, cell.id, line)
            self.issues.append(LoadIssue(
                "syntax", _("{where}: syntax error: {error}. This cell is not graded until it is fixed; the rest "
                            "of the notebook is.").format(where=loc.describe(), error=e.msg), self.rel, line, [loc]))
        except (ValueError, RecursionError, MemoryError) as e:
            loc = Location(self.rel, 1, cell.number, cell.id, 1)
            self.issues.append(LoadIssue(
                "syntax", _("{file}, cell {cell}: can't parse this cell ({error}). This cell is not graded; the rest "
                            "of the notebook is.").format(file=self.rel, cell=cell.number, error=e),
                self.rel, 1, [loc]))
        return None

    def note_unrun(self, cell: Cell, lines: list[str], why: str) -> None:
        """Remember the names a cell that is not run would have bound (for notes), ignoring syntax errors."""
        try:
            tree = ast.parse("\n".join(lines))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return
        for stmt in tree.body:
            self.drop(bound_names(stmt), cell, why)

    def cell(self, cell: Cell) -> None:
        lines, magic, _cell_kind = strip_magics(cell.source)
        mode = self.options.mode
        if magic is not None and (mode != "all" or magic not in PYTHON_CELL_MAGICS):
            self.note_unrun(cell, lines, f"its cell is a %%{magic} cell")
            return
        if mode == "tagged" and self.options.tag not in cell.tags:
            self.note_unrun(cell, lines, f"its cell is not tagged `{self.options.tag}`")
            return
        tree = self.parse(cell, lines)
        if tree is None:
            return
        text = "\n".join(lines)
        for index, stmt in enumerate(tree.body):
            if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
                # Only valid at the top of a module: hoisted there (each cell may start with one).
                self.future.append((ast.unparse(stmt), (cell.number, cell.id, stmt.lineno)))
                self.future_annotations |= any(a.name == "annotations" for a in stmt.names)
                continue
            if mode == "defs":
                self.defs_statement(stmt, cell, tree.body, index, text, lines)
            elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
                kept, replacement = self.import_parts(stmt, cell)
                if kept:
                    self.keep(stmt if replacement is None else _with_names(stmt, kept), cell, body=tree.body,
                              index=index, text=text, lines=lines, replacement=replacement)
            else:
                self.keep(stmt, cell, body=tree.body, index=index, text=text, lines=lines)

    def run(self, cells: list[Cell]) -> Conversion:
        code = [c for c in cells if c.kind == "code" and c.source.strip()]
        for cell in code:
            self.cell(cell)
        header = f"# Generated by the grader from {self.rel} (notebook mode {self.options.mode}); do not edit."
        lines = [header] + [text for text, _ in self.future] + self.lines
        line_map = [None] + [where for _, where in self.future] + self.line_map
        source = "\n".join(lines) + "\n"
        shift = 1 + len(self.future)
        self.owners = [(a + shift, b + shift, names) for a, b, names in self.owners]
        return Conversion(source, line_map, dict(self.dropped), dict(self.guarded), self.notes(source, cells, code),
                          self.issues, len(self.kept_cells), len(code))

    # ---------------------------------------------------------------- notes

    def notes(self, source: str, cells: list[Cell], code: list[Cell]) -> list[str]:
        rel, options = self.rel, self.options
        notes = []
        if not code:
            self.issues.append(LoadIssue(
                "empty", _("{file} has no code cells: there is nothing in it to grade.").format(file=rel), rel))
        elif options.mode == "tagged" and not any(options.tag in c.tags for c in code):
            self.issues.append(LoadIssue(
                "empty", _("{file} has no code cell tagged `{tag}`: in this assignment only tagged cells are "
                           "graded. Add the tag `{tag}` to the cells that hold your solution.").format(
                    file=rel, tag=options.tag), rel))
        elif options.mode == "defs":
            notes.append(_("{file}: graded the imports, functions, classes and simple assignments of its code "
                           "cells; the rest (experiments, plots, training runs, magics and shell commands) is not "
                           "run.").format(file=rel))
        elif options.mode == "tagged":
            tagged = [c.number for c in code if options.tag in c.tags]
            notes.append(_("{file}: graded the code in {cells} (tagged `{tag}`); the other cells are not run.").format(
                file=rel, cells=_cells(tagged), tag=options.tag))
        else:
            notes.append(_("{file}: every code cell is run in order, as a script (magics and shell commands "
                           "removed).").format(file=rel))
        if self.torch_imports:
            where = set().union(*self.torch_imports.values())
            statements = _and([f"`{s}`" for s in self.torch_imports])
            notes.append(ngettext(
                "{file}, {cells}: {statements} is not run: torch is not available to graded code in this NumPy "
                "assignment. Keep your PyTorch comparisons; graded code must use NumPy only.",
                "{file}, {cells}: {statements} are not run: torch is not available to graded code in this NumPy "
                "assignment. Keep your PyTorch comparisons; graded code must use NumPy only.",
                len(self.torch_imports)).format(file=rel, cells=_cells(where), statements=statements))
        for module, where in self.missing_imports.items():
            notes.append(_("{file}, {cells}: `import {module}` is not run: {module} is not installed where your code "
                           "is graded.").format(file=rel, cells=_cells(where), module=module))
        notes += self.reference_notes(source)
        return notes

    def reference_notes(self, source: str) -> list[str]:
        """Notes for names that kept code (reachable from the graded names) uses but that were dropped."""
        try:
            table = symtable.symtable(source, self.rel, "exec")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return []

        def refs(t: symtable.SymbolTable) -> set[str]:
            out = {s.get_name() for s in t.get_symbols() if s.is_global() and s.is_referenced()}
            for child in t.get_children():
                out |= refs(child)
            return out

        uses: dict[str, set[str]] = {}
        for child in table.get_children():
            line = child.get_lineno()
            for start, end, names in self.owners:
                if start <= line <= end:
                    for name in names:
                        uses.setdefault(name, set()).update(refs(child))
        defined = [n for n in self.def_cells if n in self.available]
        roots = [n for n in self.required if n in uses or n in self.available] if self.required else defined
        seen, queue, found = set(roots), list(roots), {}
        while queue:
            name = queue.pop(0)
            for ref in sorted(uses.get(name, ())):
                if ref in self.dropped and ref not in self.available:
                    found.setdefault(ref, []).append(name)
                elif ref in uses and ref not in seen:
                    seen.add(ref)
                    queue.append(ref)
        notes = []
        for ref, users in found.items():
            who = _and([f"{u} (cell {self.def_cells[u]})" if u in self.def_cells else u for u in users])
            d = self.dropped[ref]
            if d.torch:
                notes.append(f"{self.rel}: {who} {'uses' if len(users) == 1 else 'use'} {ref}, but {TORCH_POLICY} "
                             f"(its import in cell {d.cell} is not run); calling it will fail.")
            else:
                notes.append(f"{self.rel}: {who} {'uses' if len(users) == 1 else 'use'} {ref}, which cell {d.cell} "
                             f"sets in code the grader does not run ({d.why}); calling it will fail with a NameError.")
        return notes


def _with_names(stmt: ast.Import | ast.ImportFrom, names: list[ast.alias]) -> ast.stmt:
    if isinstance(stmt, ast.Import):
        new: ast.stmt = ast.Import(names=names)
    else:
        new = ast.ImportFrom(module=stmt.module, names=names, level=stmt.level)
    return ast.copy_location(new, stmt)


