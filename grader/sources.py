"""What the loader and the notebook reader share: a student file as read (`SourceFile`), a problem found
in one (`LoadIssue`), and the rule that names a file's module. Neither imports the other: the loader
imports the notebook reader, and both import this."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .results import Location


@dataclass
class SourceFile:
    path: Path  # on disk
    rel: str  # POSIX path relative to the submission root, as shown to students
    module: str | None  # dotted module name; None when the file can't be imported by name
    text: str
    generated: str | None = None  # converted sources (notebooks): the .py path the sandbox writes `text` to
    issues: list[LoadIssue] = field(default_factory=list)  # problems found while reading (bad notebook cells)
    notes: list[str] = field(default_factory=list)

    def location(self, line: int) -> Location:
        return Location(file=self.rel, line=line)

    def supersedes(self, rel: str) -> bool:
        """True when `rel` is this file's own export (a notebook's .py): same names there are no duplicate."""
        return False


@dataclass
class LoadIssue:
    kind: str  # syntax | encoding | duplicate | shadow | unimportable
    message: str  # complete sentence(s) naming the place(s); str(issue) is what students see
    file: str | None = None
    line: int | None = None
    locations: list[Location] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


class FileIssue(Exception):
    """A file that cannot be read; `issue` says why and where."""

    def __init__(self, issue: LoadIssue):
        self.issue = issue


def module_name(path: str) -> str | None:
    """The dotted module name of a file or module: "a/b.py", "a/b" and "a.b" are "a.b", "a/__init__.py" is
    "a"; None for a path a module cannot have (a dot inside a folder or file name)."""
    text = path.replace("\\", "/").strip("/")
    if not text.endswith(".py") and "/" not in text:
        return text  # already a module name
    parts = text.removesuffix(".py").split("/")
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    # importlib accepts hyphens and spaces, but a dot inside a part would read as a package boundary.
    return None if any("." in p for p in parts) else ".".join(parts)
