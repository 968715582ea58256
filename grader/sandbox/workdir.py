"""The submission's working copy: the one module of the grader that handles files inside it.

It is made once, before any student code runs, from the submission folder: regular files and folders
only (a symbolic link, device, FIFO or socket is left out with a note naming it), within MAX_FILES files
and MAX_BYTES bytes. From then on the grading process never opens a path inside it: every file operation
a check needs runs in the student's process (`Sandbox.files`), as the sandbox's user and under the call's
time limit, and only plain values come back. When the child has a mount namespace it does not even work
in this folder: it copies it into a size-capped tmpfs of its own (isolation.py), so what student code
writes never reaches the grader's file system. At the end the folder is removed without following links
(shutil.rmtree's descriptor-based walk).

Every sandbox folder holds an owner lock. A grader killed mid-run leaves its folders behind; the next
grader to start removes those whose lock is free (its owner is dead), never one whose owner still runs.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

from ..i18n import _

PREFIX = "grader-sandbox-"
OWNER = ".owner"  # the lock file inside each sandbox folder
MAX_FILES = 2000  # as a batch's payload (grader.batch.discover)
MAX_BYTES = 64 * 2**20
SKIPPED_DIRS = {"__pycache__", ".git", ".ipynb_checkpoints", ".hg", ".svn", ".mypy_cache", ".pytest_cache"}
SKIPPED_SUFFIXES = (".pyc",)
UNOWNED_AGE_S = 3600  # a folder without an owner file (an older grader's) is removed once this old
_swept: list[bool] = []


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return _("a symbolic link")
    if stat.S_ISFIFO(mode):
        return _("a FIFO (named pipe)")
    if stat.S_ISSOCK(mode):
        return _("a socket")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return _("a device")
    return _("not a regular file")


def _copy_file(src: str, dst: str, limit: int) -> int:
    """Copy one regular file; refuses anything else even if it was swapped in after the listing."""
    fd = os.open(src, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
                 | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Refused(_kind(st.st_mode))
        if st.st_size > limit:
            raise _TooBig()
        out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                      | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0),
                      0o755 if st.st_mode & 0o111 else 0o644)
        try:
            copied = 0
            while copied <= limit:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return copied
                os.write(out, chunk)
                copied += len(chunk)
            raise _TooBig()  # it grew while being copied
        finally:
            os.close(out)
    finally:
        os.close(fd)


class _Refused(Exception):
    pass


class _TooBig(Exception):
    pass


def copy_tree(source: Path, dest: Path, max_files: int = MAX_FILES, max_bytes: int = MAX_BYTES) -> list[str]:
    """Copy the regular files and folders of `source` into the new folder `dest`; returns notes that name
    what was left out (links, special files, what is over the caps, virtual environments)."""
    notes: list[str] = []
    over: list[str] = []
    count = total = 0
    os.mkdir(dest, 0o755)
    todo = [("", Path(source))]
    while todo:
        rel_dir, folder = todo.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as e:
            notes.append(_("{file} could not be read ({error}); it was not copied.").format(
                file=rel_dir or ".", error=e.strerror))
            continue
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            target = dest / rel
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue
            if stat.S_ISDIR(mode):
                if entry.name in SKIPPED_DIRS:
                    continue
                if os.path.lexists(os.path.join(entry.path, "pyvenv.cfg")):
                    notes.append(_("{file}/ looks like a virtual environment; it was not copied.").format(file=rel))
                    continue
                os.mkdir(target, 0o755)
                todo.append((rel, Path(entry.path)))
                continue
            if entry.name.endswith(SKIPPED_SUFFIXES):
                continue
            if not stat.S_ISREG(mode):
                notes.append(_("{file} is {kind}; it was not copied (only regular files and folders are).").format(
                    file=rel, kind=_kind(mode)))
                continue
            if count >= max_files:
                over.append(rel)
                continue
            try:
                total += _copy_file(entry.path, str(target), max_bytes - total)
                count += 1
            except _Refused as e:
                notes.append(_("{file} is {kind}; it was not copied (only regular files and folders are).").format(
                    file=rel, kind=e.args[0]))
            except _TooBig:
                over.append(rel)
                try:
                    os.unlink(target)
                except OSError:
                    pass
            except OSError as e:
                notes.append(_("{file} could not be read ({error}); it was not copied.").format(
                    file=rel, error=e.strerror))
    if over:
        shown = ", ".join(over[:5]) + (", ..." if len(over) > 5 else "")
        notes.append(_("{n} files were not copied because the submission is over {mb} MB or {files} files: "
                       "{names}.").format(n=len(over), mb=f"{max_bytes / 2**20:g}", files=max_files, names=shown))
    return notes


def _lock(path: Path) -> int | None:
    """An exclusive lock held for this process's lifetime of the sandbox: created under another name and
    renamed once locked, so another grader never finds the file unlocked while its owner lives."""
    if fcntl is None:
        return None
    temp = path.with_name(f"{OWNER}.{os.getpid()}")
    fd = os.open(temp, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, f"{os.getpid()}\n".encode())
    os.rename(temp, path)
    return fd


def remove_stale(base: str | None = None) -> list[str]:
    """Remove the sandbox folders of graders that died (their owner lock is free); returns their paths.
    A folder whose owner still runs is left alone, whoever it belongs to."""
    base = base or tempfile.gettempdir()
    removed = []
    try:
        entries = [e for e in os.scandir(base) if e.name.startswith(PREFIX)]
    except OSError:
        return removed
    me = os.geteuid() if hasattr(os, "geteuid") else None
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or (me is not None and st.st_uid != me):
            continue
        owner = os.path.join(entry.path, OWNER)
        try:
            fd = os.open(owner, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:  # an older grader's folder, or one being made right now
            if time.time() - st.st_mtime > UNOWNED_AGE_S:
                shutil.rmtree(entry.path, ignore_errors=True)
                removed.append(entry.path)
            continue
        except OSError:
            continue
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # fails while its owner is alive
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
        except OSError:
            pass
        finally:
            os.close(fd)
    return removed


class WorkingCopy:
    """A sandbox's folder: the copy of the submission (`submission/`), the child's home and temp folders,
    and the owner lock. `notes` name what the copy left out."""

    def __init__(self, source: Path, files: dict[str, str] | None = None):
        if not _swept:
            _swept.append(True)
            remove_stale()
        self.folder = Path(tempfile.mkdtemp(prefix=PREFIX))
        self._lock_fd: int | None = None
        try:
            self._lock_fd = _lock(self.folder / OWNER)
            self.root = self.folder / "submission"
            self.notes = copy_tree(Path(source), self.root)
            for rel, text in (files or {}).items():
                self._write_generated(rel, text)
            for d in ("home", "tmp", "view"):
                (self.folder / d).mkdir()
            os.chmod(self.staging, 0o700)
        except BaseException:
            self.remove()
            raise

    def _write_generated(self, rel: str, text: str) -> None:
        target = self.root / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts or os.path.lexists(target) \
                or not target.parent.resolve().is_relative_to(self.root.resolve()):
            raise ValueError(f"generated file {rel!r} must be a new file inside the submission copy")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    @property
    def staging(self) -> Path:
        """Where the child builds its allow-list view before making it its root (isolation.build_root)."""
        return self.folder / "view"

    @property
    def home(self) -> Path:
        return self.folder / "home"

    @property
    def temp(self) -> Path:
        return self.folder / "tmp"

    def hand_over(self, user) -> None:
        """Make the copy, home and temp folder the sandbox user's own (before any student code ran)."""
        os.chmod(self.folder, 0o711)  # the child may pass through, but not list, the sandbox folder
        for path in (self.root, self.home, self.temp):
            for folder, dirs, names in os.walk(path):
                for name in [folder, *(os.path.join(folder, n) for n in dirs + names)]:
                    try:
                        os.lchown(name, user.uid, user.gid)
                    except OSError:
                        pass

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)  # does not follow links (rmtree.avoids_symlink_attacks)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
