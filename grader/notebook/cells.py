"""A notebook's cells, read from its JSON (outputs and attachments are never looked at), and IPython
magics and shell escapes stripped from a code cell's source."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from ..i18n import _
from ..results import Location
from ..sources import FileIssue, LoadIssue

PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug"})  # their bodies are Python


# ------------------------------------------------------------------------------------------ reading


@dataclass
class Cell:
    number: int  # position among all cells (markdown included), from 1
    id: str | None
    kind: str  # code | markdown | raw
    source: str
    tags: tuple[str, ...] = ()


def _invalid(rel: str, what: str) -> FileIssue:
    return FileIssue(LoadIssue(
        "notebook", _("{file} is not a valid notebook: {why}. Open it in Jupyter and save it again, or export it "
                      "as a .py file.").format(file=rel, why=what), rel, None, [Location(rel, 1)]))


def read_cells(data: bytes, rel: str) -> list[Cell]:
    """The notebook's cells (outputs and attachments are not looked at); raises FileIssue when invalid."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _invalid(rel, _("it is not UTF-8 text (byte 0x{byte} at offset {offset})").format(
            byte=f"{data[e.start]:02x}", offset=e.start)) from None
    if not text.strip():
        raise _invalid(rel, _("the file is empty"))
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise _invalid(rel, _("it is not valid JSON ({error} at line {line}, column {column})").format(
            error=e.msg, line=e.lineno, column=e.colno)) from None
    except RecursionError:
        raise _invalid(rel, _("its JSON is nested too deeply")) from None
    if not isinstance(raw, dict):
        kind = type(raw).__name__ if raw is not None else "null"
        raise _invalid(rel, _("its JSON holds {kind}, not a notebook object").format(kind=kind))
    version = raw.get("nbformat")
    converted = "cells" not in raw and isinstance(version, int) and version < 4
    if converted:
        import nbformat  # only for the old formats: a tenth of a second to import
        try:  # nbformat 3 and older keep cells in worksheets; nbformat converts them
            raw = nbformat.convert(nbformat.from_dict(raw), 4)
        except Exception as e:  # noqa: BLE001 - whatever the converter trips on, the file is what's wrong
            raise _invalid(rel, _("it uses notebook format {version}, which could not be converted ({error})").format(
                version=version, error=e)) from None
    cells = raw.get("cells")
    if not isinstance(cells, list):
        raise _invalid(rel, _('it has no "cells" list'))
    out = []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or not isinstance(cell.get("cell_type"), str):
            raise _invalid(rel, _("cell {n} is not a cell object with a cell_type").format(n=number))
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        elif not isinstance(source, str):
            raise _invalid(rel, _("the source of cell {n} is not text").format(n=number))
        metadata = cell.get("metadata")
        tags = metadata.get("tags") if isinstance(metadata, dict) else None
        tags = tuple(t for t in tags if isinstance(t, str)) if isinstance(tags, list) else ()
        cell_id = cell.get("id") if isinstance(cell.get("id"), str) and not converted else None  # not made up
        out.append(Cell(number, cell_id, cell["cell_type"], source, tags))
    return out


# ----------------------------------------------------------------------------------------- magics

_MAGIC_ASSIGN = re.compile(r"^\s*[\w.,\s()\[\]*]+?=\s*[!%]")  # files = !ls, t = %timeit -o f()
_HELP = re.compile(r"^\s*(\?{1,2}\s*[\w.*\[\]]+|[\w.*\[\]]+\s*\?{1,2})\s*$")  # np.sum?, ??np.sum
_CELL_MAGIC = re.compile(r"%%\s*(\w+)")


def _scan(line: str, quote: str | None, depth: int) -> tuple[str | None, int, bool]:
    """Python's lexical state after `line`: open string quote, bracket depth, backslash continuation."""
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            i += 1
            continue
        if ch == "#":
            return None, depth, False
        if ch in "'\"":
            quote = ch * 3 if line.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        i += 1
    continued = line.endswith("\\")
    if quote in ("'", '"') and not continued:
        quote = None  # an unterminated one-line string: a syntax error Python will report
    return quote, depth, continued


def strip_magics(source: str) -> tuple[list[str], str | None, int]:
    """The cell's lines with IPython-only lines blanked (line count unchanged, so line numbers still map),
    the name of its cell magic if it has one (`%%time` -> "time"), and how many lines were blanked.

    Only lines where a Python statement could start are looked at, so a `%` or `!` inside a string or a
    bracketed expression is left alone.
    """
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    cell_magic = None
    if first is not None and lines[first].lstrip().startswith("%%"):
        match = _CELL_MAGIC.match(lines[first].lstrip())
        cell_magic = match.group(1) if match else "?"
        lines[first] = ""
    quote, depth, continued, in_magic, blanked = None, 0, False, False, 0
    for i, line in enumerate(lines):
        if in_magic:  # a backslash-continued magic or shell line
            in_magic = line.endswith("\\")
            lines[i] = ""
            blanked += 1
            continue
        if quote is None and depth == 0 and not continued:
            stripped = line.lstrip()
            if stripped[:1] in ("%", "!") or _MAGIC_ASSIGN.match(line) or _HELP.match(line):
                indent = line[: len(line) - len(stripped)]
                lines[i] = indent + "pass" if indent else ""
                in_magic = line.endswith("\\")
                blanked += 1
                continue
        quote, depth, continued = _scan(line, quote, depth)
    return lines, cell_magic, blanked


