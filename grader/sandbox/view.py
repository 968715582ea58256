"""What the student's process may see: an allow-list of the machine, planned on the grader's side.

The child builds its file system from nothing (isolation.build_root): a tmpfs root holding, read-only,
  - the interpreter, the standard library and the shared libraries the interpreter and the grader load
    (the folders of the system's libraries, found in /proc/self/maps, never a Python package folder);
  - the allowed distributions, file by file of their top level: NumPy, SciPy and matplotlib with what
    they require (BASE), and more only where the assignment allows them (`Sandbox(..., allow=("torch",))`);
    every other package of every site-packages stays out of sight;
  - a minimal /etc (passwd, group, hosts), a few devices, /proc;
and, writable, the sandbox folder (its copy of the submission, home, temp) and /tmp, /var/tmp, /dev/shm,
all on one tmpfs of `disk_bytes`. Paths are those of the host, so nothing else changes in the child.

Paths come from the running interpreter and the distributions' own files (importlib.metadata), never from
a hard-coded list. The parts that depend only on the machine are computed once per grader process.
"""
from __future__ import annotations

import os
import re
import site
import struct
import sys
import sysconfig
from functools import lru_cache
from importlib import metadata

BASE = ("numpy", "scipy", "matplotlib")  # a NumPy course's scientific stack; correct homework imports it
DEVICES = ("null", "zero", "full", "random", "urandom")
SYSTEM_LIBRARY_ROOTS = ("/usr/", "/lib", "/opt/", "/nix/store/", "/gnu/store/")
WRITABLE = ("/tmp", "/var/tmp", "/dev/shm")


def _real(path: str) -> str:
    return os.path.realpath(path)


@lru_cache(maxsize=1)
def site_dirs() -> tuple[str, ...]:
    """Every folder packages are installed in (each is covered; only allowed entries are shown)."""
    found = set()
    try:
        found.update(site.getsitepackages())
    except AttributeError:
        pass
    user = getattr(site, "USER_SITE", None)
    found.update(p for p in (user, *[sysconfig.get_paths().get(k) for k in ("purelib", "platlib")]) if p)
    found.update(p for p in sys.path if p.rstrip("/").endswith(("site-packages", "dist-packages")))
    return tuple(sorted({_real(p) for p in found if p and os.path.isdir(p)}))


def _distribution(name: str) -> metadata.Distribution | None:
    """The installed distribution called `name`, or else the one whose top-level module it is (read from
    top_level.txt only: importlib's packages_distributions() parses every RECORD, seconds on a big install)."""
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        pass
    for dist in metadata.distributions():
        if name in (dist.read_text("top_level.txt") or "").split():
            return dist
    return None


_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _requirements(dist: metadata.Distribution) -> list[str]:
    """Names of what `dist` requires, extras left out. Other markers are not evaluated: a requirement of
    another platform is simply not installed (and `packaging` would cost more to import than all this)."""
    names = []
    for text in dist.requires or []:
        requirement, _, marker = text.partition(";")
        match = _NAME.match(requirement)
        if match and "extra" not in marker:
            names.append(match.group(1))
    return names


@lru_cache(maxsize=16)
def distributions(allow: tuple[str, ...]) -> tuple[metadata.Distribution, ...]:
    """BASE and `allow` (distribution or module names) with everything they require, as installed."""
    todo = [*BASE, *allow]
    seen: dict[str, metadata.Distribution] = {}
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        dist = _distribution(name)
        if dist is not None and dist not in seen.values():
            seen[name] = dist
            todo.extend(_requirements(dist))
    return tuple(seen.values())


def _top_level(dist: metadata.Distribution) -> set[str]:
    """The entries a distribution installed at the top of its site-packages (packages, modules, .libs,
    its .dist-info), as real paths. Read from RECORD's text: building its path objects is slow."""
    base = _real(str(dist.locate_file("")))
    firsts = {line.partition("/")[0].partition(",")[0] for line in (dist.read_text("RECORD") or "").splitlines()}
    found = {os.path.join(base, first) for first in firsts
             if first and first not in ("..", "__pycache__") and not first.endswith(".pth")}
    info = getattr(dist, "_path", None)  # the .dist-info folder itself
    if info is not None:
        found.add(_real(str(info)))
    return {p for p in found if os.path.lexists(p)}


@lru_cache(maxsize=1)
def _mapped_files() -> tuple[str, ...]:
    files = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                fields = line.split(maxsplit=5)
                if len(fields) == 6 and fields[5].startswith("/") and not fields[5].endswith(" (deleted)\n"):
                    files.add(fields[5].strip())
    except OSError:
        pass
    return tuple(sorted(files))


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _elf_interpreter(path: str) -> str | None:
    """PT_INTERP of an ELF executable (the dynamic loader a new process of it needs)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
                return None
            end = "<" if head[5] == 1 else ">"
            phoff, = struct.unpack(end + "Q", head[32:40])
            phentsize, phnum = struct.unpack(end + "HH", head[54:58])
            for i in range(min(phnum, 64)):
                f.seek(phoff + i * phentsize)
                ptype, _flags, offset, _vaddr, _paddr, size = struct.unpack(end + "IIQQQQ", f.read(40))
                if ptype == 3:
                    f.seek(offset)
                    return f.read(min(size, 4096)).rstrip(b"\0").decode()
    except (OSError, struct.error, UnicodeDecodeError):
        pass
    return None


@lru_cache(maxsize=1)
def python_paths() -> tuple[str, ...]:
    """The interpreter, its standard library (lib-dynload included) and the native libraries it and the
    grader load: the folders of system libraries, single files elsewhere (libpython under a prefix)."""
    paths = {sys.executable, os.path.dirname(os.__file__)}
    dynload = sysconfig.get_config_var("DESTSHARED")
    if dynload:
        paths.add(dynload)
    interp = _elf_interpreter(_real(sys.executable))
    if interp:
        paths.add(interp)
    sites = site_dirs()
    for path in _mapped_files():
        if any(_within(path, s) for s in sites):
            continue
        if path.startswith(SYSTEM_LIBRARY_ROOTS) and ".so" in os.path.basename(path) or "/locale/" in path:
            paths.add(os.path.dirname(path))
        elif ".so" in os.path.basename(path):
            paths.add(path)
    for name in ("ld.so.cache",):
        if os.path.exists(f"/etc/{name}"):
            paths.add(f"/etc/{name}")
    venv_cfg = os.path.join(sys.prefix, "pyvenv.cfg")
    if os.path.exists(venv_cfg):
        paths.add(venv_cfg)
    return tuple(sorted(p for p in paths if os.path.exists(p)))


def _expose(path: str, binds: set, links: dict, depth: int = 0) -> None:
    """Show `path`: each symbolic link on the way is recreated, and the real file or folder bound."""
    current = "/"
    parts = [p for p in path.split("/") if p]
    for i, part in enumerate(parts):
        following = os.path.join(current, part)
        if os.path.islink(following) and depth < 20:
            links[following] = text = os.readlink(following)
            # Walked as written, so that links inside the link's target (/lib -> usr/lib) are made too.
            target = os.path.normpath(os.path.join(os.path.dirname(following), text))
            _expose(os.path.join(target, *parts[i + 1:]), binds, links, depth + 1)
            return
        current = following
    if os.path.exists(current):
        binds.add(current)


def _nearest(path: str, marks: dict[str, str]) -> str | None:
    """The kind ("bind" | "cover") of the closest strict ancestor of path among marks."""
    best = None
    for other, kind in marks.items():
        if other != path and _within(path, other) and (best is None or len(other) > len(best[0])):
            best = (other, kind)
    return best[1] if best else None


def _traversable(path: str, uid: int, gid: int) -> bool:
    from .isolation import can_traverse
    current = "/"
    for part in [p for p in os.path.dirname(path).split("/") if p]:
        current = os.path.join(current, part)
        try:
            if not can_traverse(os.stat(current), uid, gid):
                return False
        except OSError:
            return False
    return True


@lru_cache(maxsize=16)
def _shown(allow: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """What the machine shows for `allow`, the same for every sandbox of this grader process:
    path -> "bind" | "cover", and the symbolic links to recreate (path -> link text)."""
    binds: set[str] = set()
    links: dict[str, str] = {}
    for path in python_paths():
        _expose(path, binds, links)
    for dist in distributions(allow):
        for path in _top_level(dist):
            _expose(path, binds, links)
    # A package folder inside a shown tree is covered, and only its allowed entries are shown in it.
    marks: dict[str, str] = {s: "cover" for s in site_dirs() if any(_within(s, b) and s != b for b in binds)}
    for path in sorted(binds, key=lambda p: p.count("/")):
        if _nearest(path, marks) != "bind" and path not in marks:
            marks[path] = "bind"
    return marks, {path: text for path, text in links.items() if _nearest(path, marks) != "bind"}


@lru_cache(maxsize=64)
def _blocked(allow: tuple[str, ...], uid: int, gid: int) -> bool:
    return not all(_traversable(p, uid, gid) for p in _shown(allow)[0])


def plan(folder: str, *, allow: tuple[str, ...] = (), hide=(), uid: int | None = None, gid: int | None = None,
         disk_bytes: int = 256 * 2**20, proc: str = "bind") -> dict:
    """The child's mount plan (isolation.build_root). folder: the sandbox folder (its copy of the
    submission, home and temp folders); proc: "hidepid" (mount a /proc that hides other users' processes,
    as root) or "bind" (the host's, inside a user namespace). `needs_view`: whether `uid` could not even
    start Python without the view (Python installed under /root, say)."""
    allow = tuple(sorted(set(allow)))
    marks, links = _shown(allow)
    folder = _real(folder)
    work = os.path.dirname(folder)  # a tmpfs here holds the sandbox folder at its own path
    ops = [{"op": kind, "path": path} for path, kind in marks.items()]
    for path in (_real(str(h)) for h in hide if h):
        if os.path.exists(path) and _nearest(path, marks) == "bind" and not _within(folder, path):
            ops.append({"op": "hide", "path": path, "dir": os.path.isdir(path)})
    ops += [{"op": "symlink", "path": path, "target": target} for path, target in links.items()]
    ops.append({"op": "work", "path": work, "folder": folder, "size": int(disk_bytes)})
    ops += [{"op": "scratch", "path": d, "source": work} for d in WRITABLE if d != work]
    ops += [{"op": "device", "path": f"/dev/{name}"} for name in DEVICES if os.path.exists(f"/dev/{name}")]
    ops += [{"op": "symlink", "path": f"/dev/{name}", "target": target} for name, target in
            (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
             ("stderr", "/proc/self/fd/2"))]
    ops.append({"op": "proc", "path": "/proc", "hidepid": proc == "hidepid"})
    user = f"student:x:{uid}:{gid}:student:{folder}/home:/bin/false\n" if uid is not None else ""
    ops += [{"op": "file", "path": "/etc/passwd", "text": "root:x:0:0:root:/root:/bin/false\n"
             "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n" + user},
            {"op": "file", "path": "/etc/group", "text": "root:x:0:\nnogroup:x:65534:\n"
             + (f"student:x:{gid}:\n" if gid is not None else "")},
            {"op": "file", "path": "/etc/hosts", "text": "127.0.0.1 localhost\n::1 localhost\n"}]
    late = {"scratch": 1, "device": 1, "file": 1, "proc": 2}  # after the work tmpfs and every bind
    ops.sort(key=lambda o: (late.get(o["op"], 1 if o["path"].startswith("/dev/") else 0),
                            [p for p in o["path"].split("/") if p]))
    return {"ops": ops, "folder": folder, "needs_view": uid is not None and _blocked(allow, uid, gid)}
