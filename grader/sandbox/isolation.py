"""Confinement of the student's process, and the grader's own two process flags (Linux).

The child applies `confine()` in its bootstrap, before NumPy or any student code is imported: join the
sandbox's cgroups, leave the grader's network and mount namespaces, replace what it must not see with
empty file systems, become an unprivileged user (when the grader is root), and set the process flags
that keep it in the grader's reach. The parent uses `set_dumpable` and `become_subreaper` on itself.

Stdlib only and free of package-relative imports: child.py loads this file by path (like limits.py),
and the parent imports it as grader.sandbox.isolation. Every step reports whether it held; a step the
platform refuses is skipped, never fatal, and the parent says in the report which protections were on.
"""
from __future__ import annotations

import ctypes
import os
import signal
import stat
import sys

PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000

MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
MNT_DETACH = 2

LINUX = sys.platform.startswith("linux")
_LIBC: list = []


def _libc():
    if not _LIBC:
        try:
            _LIBC.append(ctypes.CDLL(None, use_errno=True) if LINUX else None)
        except OSError:
            _LIBC.append(None)
    return _LIBC[0]


def _check(result: int, what: str) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def prctl(option: int, arg: int = 0) -> int:
    libc = _libc()
    if libc is None:
        raise OSError(38, "prctl is not available on this platform")
    ul = ctypes.c_ulong
    return _check(libc.prctl(option, ul(arg), ul(0), ul(0), ul(0)), f"prctl({option})")


def _unshare(flags: int) -> None:
    libc = _libc()
    if libc is None:
        raise OSError(38, "unshare is not available on this platform")
    _check(libc.unshare(ctypes.c_int(flags)), "unshare")


def _mount(source, target, fstype, flags: int, data=None) -> None:
    enc = (lambda s: None if s is None else os.fsencode(s))
    _check(_libc().mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


# ------------------------------------------------------------------------------------ parent side

def is_dumpable() -> bool | None:
    try:
        return prctl(PR_GET_DUMPABLE) == 1
    except OSError:
        return None


def set_dumpable(on: bool) -> bool:
    """PR_SET_DUMPABLE: a non-dumpable process's /proc/<pid>/mem, environ, maps... are closed to every
    process without CAP_SYS_PTRACE, even one running as the same user."""
    try:
        prctl(PR_SET_DUMPABLE, 1 if on else 0)
        return True
    except OSError:
        return False


def become_subreaper() -> bool:
    """PR_SET_CHILD_SUBREAPER: orphaned descendants are re-parented to us instead of to init, so a
    double fork with setsid stays in our process tree, where we can find and kill it."""
    try:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        return True
    except OSError:
        return False


def can_traverse(st: os.stat_result, uid: int, gid: int) -> bool:
    """Whether uid:gid (no supplementary groups) may search the directory `st` describes."""
    if st.st_uid == uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def plan_view(needed: list[str], hidden: list[str], uid: int | None, gid: int | None,
              scratch: dict[str, str] | None = None) -> dict:
    """The mount plan that shows the child what it needs and nothing of what is hidden.

    A cover is a tmpfs laid over a directory; `expose` names the entries of the original that are bound
    back on top of it. Hidden directories get an empty cover; scratch directories (/tmp, /dev/shm) a
    private writable one of bounded size, so nothing written there outlives the child or reaches another
    student. So does every directory on the way to a needed path that `uid` could not search (Python
    installed under /root, mode 0700), with that path exposed: an unprivileged child still imports NumPy
    while the rest of that directory stays out of sight. A hidden path that is a needed one is not hidden; hidden files are
    replaced by an empty one. `needs_view` says whether the child could not start as `uid` without it.
    """
    needed = sorted({os.path.realpath(p) for p in needed if p and os.path.exists(p)})
    covers: dict[str, set[str]] = {}
    options: dict[str, str] = {}
    files: list[str] = []
    for h in sorted({os.path.realpath(p) for p in hidden if p}):
        if h == os.sep or not os.path.exists(h) or h in needed:
            continue
        if os.path.isdir(h):
            covers.setdefault(h, set())
        elif os.path.isfile(h):
            files.append(h)
    for path, size in (scratch or {}).items():
        path = os.path.realpath(path)
        if os.path.isdir(path) and path != os.sep and path not in needed:
            covers.setdefault(path, set())
            options[path] = f"size={size},mode=1777"
    blocked = False
    for path in needed:
        current = os.sep
        for part in path.split(os.sep)[1:]:
            if current in covers:
                covers[current].add(part)
            elif uid is not None and not can_traverse(os.stat(current), uid, gid):
                covers[current], blocked = {part}, True
            current = os.path.join(current, part)
    ordered = sorted(covers, key=lambda p: (p.count(os.sep), p))
    kept = []
    for path in ordered:  # a cover inside another one is only reachable through an exposed entry
        outer = next((c for c in reversed(kept) if _within(path, c) and path != c), None)
        if outer is None or path[len(outer):].lstrip(os.sep).split(os.sep)[0] in covers[outer]:
            kept.append(path)
    return {"covers": [{"path": p, "expose": sorted(covers[p]), "options": options.get(p, "size=64k,mode=0755")}
                       for p in kept],
            "files": sorted(files),
            "needs_view": blocked}


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


# ------------------------------------------------------------------------------------- child side

def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _apply_view(view: dict, proc: bool) -> bool:
    """Lay the covers of plan_view() (private mounts: nothing propagates back to the grader's namespace).
    All or nothing: if one step fails, the covers laid so far are lifted again and OSError is raised."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    laid: list[str] = []
    try:
        _lay_covers(view, proc, laid)
    except OSError:
        for target in reversed(laid):
            _libc().umount2(os.fsencode(target), ctypes.c_int(MNT_DETACH))
        raise
    return True


def _lay_covers(view: dict, proc: bool, laid: list[str]) -> None:
    for cover in view.get("covers", []):
        path = cover["path"]
        if not os.path.isdir(path):  # under a cover laid before it, outside what that one exposes
            continue
        keep = {}
        for name in cover.get("expose", []):  # opened before the cover hides them
            keep[name] = os.open(os.path.join(path, name), getattr(os, "O_PATH", 0o10000000) | os.O_CLOEXEC)
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, cover.get("options", "size=64k,mode=0755"))
        laid.append(path)
        for name, fd in keep.items():
            target = os.path.join(path, name)
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.mkdir(target)
            else:
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
            _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
            laid.append(target)
            os.close(fd)
    for path in view.get("files", []):
        if os.path.isfile(path):
            _mount("/dev/null", path, None, MS_BIND)
            laid.append(path)
    if proc:  # other users' processes (the grader among them) vanish from /proc
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities() -> None:
    """Give up every capability (held inside a new user namespace), so the covers cannot be unmounted."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc().capset(ctypes.byref(header), data), "capset")


def confine(cfg: dict) -> dict[str, bool]:
    """Apply the confinement described by cfg (Confinement.child_config); returns which steps held."""
    done = {k: False for k in ("cgroup", "network_namespace", "mount_namespace", "hidden_paths", "proc_hidepid",
                               "unprivileged_user", "no_new_privs", "parent_death_signal", "child_subreaper")}
    if not LINUX or _libc() is None:
        return done
    parent = os.getppid()
    procs = cfg.get("cgroups") or []
    joined = 0
    for path in procs:  # as root, before dropping privileges: afterwards the files are not ours to write
        try:
            _write(path, str(os.getpid()))
            joined += 1
        except OSError:
            pass
    done["cgroup"] = bool(procs) and joined == len(procs)

    root = os.geteuid() == 0
    view = cfg.get("view")
    flags = (CLONE_NEWNET if cfg.get("netns") else 0) | (CLONE_NEWNS if view else 0)
    in_userns = False
    if flags and not root:
        flags |= CLONE_NEWUSER  # an unprivileged process may make namespaces inside its own user namespace
    if flags:
        try:
            _unshare(flags)
            in_userns = bool(flags & CLONE_NEWUSER)
        except OSError:
            flags = 0
    if in_userns:  # keep our own ids inside the new user namespace (they read as 65534 until mapped)
        try:
            _write("/proc/self/uid_map", f"{cfg['outer_uid']} {cfg['outer_uid']} 1")
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/gid_map", f"{cfg['outer_gid']} {cfg['outer_gid']} 1")
        except (OSError, KeyError):
            pass
    done["network_namespace"] = bool(flags & CLONE_NEWNET)
    done["mount_namespace"] = bool(flags & CLONE_NEWNS)
    view_ok = False
    if done["mount_namespace"]:
        try:
            view_ok = _apply_view(view, proc=root and cfg.get("hidepid", True))
        except OSError as e:
            print(f"grader sandbox: could not hide files: {e}", file=sys.stderr)
    done["hidden_paths"] = view_ok
    done["proc_hidepid"] = view_ok and root and cfg.get("hidepid", True)

    target = cfg.get("uid")
    # Dropping to a user that cannot read Python's files would make the child unable to start: only when the
    # view that re-exposes them held, or nothing needed re-exposing.
    if root and target is not None and (view_ok or not (view or {}).get("needs_view")):
        try:
            gid = int(cfg.get("gid", target))
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(target, target, target)
            done["unprivileged_user"] = os.getuid() == target and os.geteuid() == target
            prctl(PR_SET_DUMPABLE, 1)  # the uid change cleared it; the student's own processes may see each other
        except OSError as e:
            print(f"grader sandbox: could not switch to uid {target}: {e}", file=sys.stderr)
    if in_userns:
        try:
            _drop_capabilities()
        except OSError:
            os._exit(71)  # holding capabilities over the covers would make them undoable: never run like that
    try:
        prctl(PR_SET_NO_NEW_PRIVS, 1)  # setuid programs cannot give student code privileges back
        done["no_new_privs"] = True
    except OSError:
        pass
    try:
        prctl(PR_SET_CHILD_SUBREAPER, 1)  # orphans of the student's processes stay under this process
        done["child_subreaper"] = True
    except OSError:
        pass
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # after the uid change, which clears it
        done["parent_death_signal"] = True
    except OSError:
        pass
    if os.getppid() != parent:  # the grader died before the signal was armed
        os._exit(0)
    return done
