"""The submissions of a class folder, and their bytes, read safely.

Every entry of the folder is one submission: a folder, a .py file, a notebook (.ipynb) or a .zip.
A worker grades a copy rebuilt from the bytes read here (a "payload"), never the original path: links
inside a folder are not followed, sizes are capped, and a Dask worker on another machine needs no
shared file system. Zips are unpacked by `unpack_zip`, which refuses paths outside the target, links,
and archives over the size or file-count cap.
"""
from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..i18n import _

SUFFIXES = {".py": "file", ".ipynb": "file", ".zip": "zip"}
METADATA_FILE = "submission_metadata.yml"  # Gradescope's export: submission times and submitters
SKIP_NAMES = {"__pycache__", ".git", ".ipynb_checkpoints", "__MACOSX", ".DS_Store"}
MAX_BYTES = 64 * 2**20  # per submission, unpacked
MAX_FILES = 2000


class PayloadError(Exception):
    """A submission that cannot be read or unpacked safely; the message says why (shown to the student)."""


@dataclass(frozen=True)
class Entry:
    name: str  # the submission's name in the gradebook and its output folder
    path: Path
    kind: str  # folder | file | zip


def discover(folder: Path, exclude: tuple[Path, ...] = ()) -> tuple[list[Entry], list[Path]]:
    """The submissions in `folder`, sorted by name, and the entries that are not submissions."""
    excluded = {p.resolve() for p in exclude}
    entries, skipped = [], []
    for path in sorted(Path(folder).iterdir()):
        if path.name.startswith(".") or path.name in SKIP_NAMES or path.name == METADATA_FILE \
                or path.resolve() in excluded:
            continue
        if path.is_symlink():
            skipped.append(path)  # a link could point anywhere: the instructor copies it in if it is meant
        elif path.is_dir():
            entries.append(Entry(path.name, path, "folder"))
        elif path.suffix.lower() in SUFFIXES:
            entries.append(Entry(path.stem, path, SUFFIXES[path.suffix.lower()]))
        else:
            skipped.append(path)
    # A file's name loses its suffix unless that makes two submissions share a name (alice.py, alice.zip).
    stems = [e.name for e in entries]
    return [Entry(e.path.name, e.path, e.kind) if e.kind != "folder" and stems.count(e.name) > 1 else e
            for e in entries], skipped


def read_payload(entry: Entry, max_bytes: int = MAX_BYTES, max_files: int = MAX_FILES) -> dict:
    """The submission's bytes: {"kind", "filename", "files": {posix path: bytes}, "links": [...]}, or for a
    zip {"kind": "zip", "filename", "data": bytes}. Raises PayloadError when it is too big."""
    if entry.kind != "folder":
        size = entry.path.stat().st_size
        if size > max_bytes:
            raise PayloadError(_("{name} is {size} bytes; the limit is {limit}.").format(
                name=entry.path.name, size=size, limit=max_bytes))
        data = entry.path.read_bytes()
        if entry.kind == "zip":
            return {"kind": "zip", "filename": entry.path.name, "data": data}
        return {"kind": "file", "filename": entry.path.name, "files": {entry.path.name: data}, "links": []}
    files, links, total = {}, [], 0
    for root, dirs, names in os.walk(entry.path, followlinks=False):
        kept = []
        for name in sorted(dirs):
            if os.path.islink(os.path.join(root, name)):
                links.append(Path(root, name).relative_to(entry.path).as_posix())
            elif name not in SKIP_NAMES:
                kept.append(name)
        dirs[:] = kept  # os.walk descends only into these
        for name in sorted(names):
            path = Path(root, name)
            rel = path.relative_to(entry.path).as_posix()
            if name in SKIP_NAMES or name.endswith(".pyc"):
                continue
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                links.append(rel)
                continue
            total += info.st_size
            if total > max_bytes or len(files) >= max_files:
                raise PayloadError(_("the submission is larger than {limit} bytes or {files} files.").format(
                    limit=max_bytes, files=max_files))
            files[rel] = path.read_bytes()
    return {"kind": "folder", "filename": entry.path.name, "files": files, "links": links}


def payload_digest(payload: dict) -> str:
    """A digest of the submission's content (names and bytes), for the resume cache."""
    h = hashlib.sha256()
    h.update(f"{payload['kind']}\0{payload['filename']}\0".encode())
    if payload["kind"] == "zip":
        h.update(payload["data"])
    else:
        for rel in sorted(payload["files"]):
            data = payload["files"][rel]
            h.update(f"{rel}\0{len(data)}\0".encode())
            h.update(data)
        h.update("\0".join(sorted(payload["links"])).encode())
    return h.hexdigest()


def materialize(payload: dict, target: Path, max_bytes: int = MAX_BYTES, max_files: int = MAX_FILES) -> Path:
    """Rebuild the submission under `target` (an empty folder); returns the path to grade."""
    target = Path(target)
    if payload["kind"] == "error":  # unreadable in the parent (too big): reported like any other problem
        raise PayloadError(payload["message"])
    if payload["kind"] == "zip":
        root = target / Path(payload["filename"]).stem
        unpack_zip(payload["data"], root, max_bytes, max_files)
        return root
    root = target / payload["filename"] if payload["kind"] == "folder" else target
    for rel, data in payload["files"].items():
        path = root / _safe_relative(rel)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    root.mkdir(parents=True, exist_ok=True)
    return root if payload["kind"] == "folder" else root / payload["filename"]


def _safe_relative(name: str) -> PurePosixPath:
    """`name` as a relative path that stays inside its folder; PayloadError otherwise."""
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or ".." in posix.parts or (posix.parts and ":" in posix.parts[0]) or not posix.parts:
        raise PayloadError(_("the archive entry {name!r} points outside the submission; the archive is refused.")
                           .format(name=name))
    return posix


def unpack_zip(data: bytes, target: Path, max_bytes: int = MAX_BYTES, max_files: int = MAX_FILES) -> None:
    """Unpack a zip into `target`: no entry outside it, no links, at most max_bytes and max_files.
    Raises PayloadError before writing anything if an entry is unsafe."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError) as error:
        raise PayloadError(_("the file is not a valid zip archive ({error}).").format(error=error)) from None
    wanted = []
    for info in infos:
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if any(p in SKIP_NAMES for p in parts):
            continue
        relative = _safe_relative(info.filename)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise PayloadError(_("the archive entry {name!r} is a link; the archive is refused.").format(
                name=info.filename))
        wanted.append((info, relative))
    files = [(i, r) for i, r in wanted if not i.is_dir()]
    if len(files) > max_files or sum(i.file_size for i, _r in files) > max_bytes:
        raise PayloadError(_("the archive unpacks to more than {limit} bytes or {files} files.").format(
            limit=max_bytes, files=max_files))
    target.mkdir(parents=True, exist_ok=True)
    total = 0
    try:
        for info, relative in wanted:
            path = target.joinpath(*relative.parts)
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(path, "xb") as sink:
                while chunk := source.read(1 << 16):  # count what is really inflated, not what is declared
                    total += len(chunk)
                    if total > max_bytes:
                        raise PayloadError(_("the archive unpacks to more than {limit} bytes.").format(limit=max_bytes))
                    sink.write(chunk)
    except PayloadError:
        raise
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, ValueError) as error:
        # corrupt data, encryption, unknown compression, duplicate or clashing names
        raise PayloadError(_("the zip archive could not be unpacked ({error}).").format(error=error)) from None
