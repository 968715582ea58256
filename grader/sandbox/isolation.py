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
import struct
import sys

PR_SET_PDEATHSIG = 1
PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NAMESPACES = 0x7E020080  # NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_NOATIME, MS_NODIRATIME, MS_BIND, MS_MOVE, MS_REC = 1024, 2048, 4096, 8192, 16384
MS_PRIVATE, MS_RELATIME = 1 << 18, 1 << 21
MNT_DETACH = 2
# statvfs f_flag bit -> the mount flag a read-only remount of a bind must keep (locked in a user namespace)
_KEPT_FLAGS = ((2, MS_NOSUID), (4, MS_NODEV), (8, MS_NOEXEC), (1024, MS_NOATIME), (2048, MS_NODIRATIME),
               (4096, MS_RELATIME))

# Per architecture: audit arch, and the system calls student code may not make (namespaces, mounts).
_ARCH = {
    "x86_64": (0xC000003E, {"unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
                            "chroot": 161, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
                            "fsmount": 432, "fspick": 433, "mount_setattr": 442, "clone": 56, "clone3": 435}),
    "aarch64": (0xC00000B7, {"unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41,
                             "chroot": 51, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
                             "fsmount": 432, "fspick": 433, "mount_setattr": 442, "clone": 220, "clone3": 435}),
}

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


# ------------------------------------------------------------------------------------- child side

def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _point(target: str, folder: bool) -> None:
    """A mount point at target: a folder, or an empty file for a file to be bound there."""
    if folder:
        os.makedirs(target, exist_ok=True)
    elif not os.path.lexists(target):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))


def _bind_read_only(source: str, target: str) -> None:
    _point(target, os.path.isdir(source))
    _mount(source, target, None, MS_BIND | MS_REC)
    kept = 0
    try:
        flags = os.statvfs(source).f_flag
        kept = sum(ms for st, ms in _KEPT_FLAGS if flags & st)
    except OSError:
        pass
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept)


def _copy_tree(source: str, target: str, uid, gid) -> None:
    """The working copy into the child's tmpfs: regular files and folders (workdir.py made it so)."""
    for folder, dirs, names in os.walk(source):
        here = os.path.join(target, os.path.relpath(folder, source))
        os.makedirs(here, 0o755, exist_ok=True)
        for name in names:
            src, dst = os.path.join(folder, name), os.path.join(here, name)
            fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            try:
                mode = os.fstat(fd).st_mode
                if not stat.S_ISREG(mode):
                    continue
                out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, stat.S_IMODE(mode))
                try:
                    while True:
                        chunk = os.read(fd, 1 << 20)
                        if not chunk:
                            break
                        os.write(out, chunk)
                finally:
                    os.close(out)
            finally:
                os.close(fd)
    if uid is not None:
        for folder, dirs, names in os.walk(target):
            for name in [folder, *(os.path.join(folder, n) for n in dirs + names)]:
                os.lchown(name, uid, gid)


def _pivot(new_root: str) -> None:
    """Make new_root the root: pivot_root (the old root detached), else move it over / and chroot."""
    os.chdir(new_root)
    numbers = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "ppc64": 203, "s390x": 217}
    number = numbers.get(os.uname().machine)
    libc = _libc()
    if number is not None and libc.syscall(ctypes.c_long(number), b".", b".") == 0:
        _check(libc.umount2(b".", ctypes.c_int(MNT_DETACH)), "umount2")
    else:
        _mount(new_root, "/", None, MS_MOVE)
        os.chroot(".")
    os.chdir("/")


def build_root(view: dict, uid, gid, root: bool) -> None:
    """Build the child's file system from nothing, as view.plan() describes, and make it the root.
    Private mounts only: nothing propagates back to the grader's namespace. Raises OSError on failure."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    staging = view["staging"]
    _mount("tmpfs", staging, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    read_only = [staging]
    folder = view["folder"]
    for op in view["ops"]:
        kind, path = op["op"], op["path"]
        target = staging + path
        if kind == "bind":
            _bind_read_only(path, target)
        elif kind == "cover":  # a package folder: only the allowed entries are bound into it
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=0755")
            read_only.append(target)
        elif kind == "hide":
            if op.get("dir"):
                _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=0755")
            else:
                _mount("/dev/null", target, None, MS_BIND)
        elif kind == "symlink":
            if not os.path.lexists(target):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.symlink(op["target"], target)
        elif kind == "work":  # the sandbox folder, on one tmpfs of the submission's disk size
            _point(target, True)
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={int(op['size'])},mode=1777")
            inside = staging + folder
            os.makedirs(inside, 0o711, exist_ok=True)
            _copy_tree(os.path.join(folder, "submission"), os.path.join(inside, "submission"), uid, gid)
            for name in ("home", "tmp"):
                os.mkdir(os.path.join(inside, name), 0o700)
                if uid is not None:
                    os.chown(os.path.join(inside, name), uid, gid)
        elif kind == "scratch":
            _point(target, True)
            _mount(staging + op["source"], target, None, MS_BIND)
        elif kind == "device":
            _point(target, False)
            _mount(path, target, None, MS_BIND)
        elif kind == "file":
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w") as f:
                f.write(op["text"])
        elif kind == "proc":
            _point(target, True)
            if op.get("hidepid") and root:  # other users' processes (the grader among them) do not exist here
                _mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2")
            else:
                _mount("/proc", target, None, MS_BIND | MS_REC)
    for target in read_only:
        _mount(None, target, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _pivot(staging)


def _seccomp_program(machine: str) -> bytes | None:
    """A classic BPF filter: namespaces and mounts refused (EPERM), clone3 unavailable (ENOSYS: the C
    library falls back to clone, whose flags can be inspected), other ABIs refused. None: unknown arch."""
    if machine not in _ARCH:
        return None
    arch, nr = _ARCH[machine]
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    blocked = [nr[n] for n in ("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "open_tree",
                               "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr")]
    code = [("ld", 4), ("jeq", arch, None, "enosys"), ("ld", 0)]
    if machine == "x86_64":
        code.append(("jge", 0x40000000, "enosys", None))  # the x32 ABI's numbers
    code += [("jeq", n, "eperm", None) for n in blocked]
    code += [("jeq", nr["clone3"], "enosys", None), ("jeq", nr["clone"], None, "allow"), ("ld", 16),
             ("jset", CLONE_NAMESPACES, "eperm", "allow")]
    labels = {"allow": len(code), "eperm": len(code) + 1, "enosys": len(code) + 2}
    ops = {"ld": 0x20, "jeq": 0x15, "jge": 0x35, "jset": 0x45}
    out = bytearray()
    for i, ins in enumerate(code):
        if ins[0] == "ld":
            out += struct.pack("=HBBI", ops["ld"], 0, 0, ins[1])
            continue
        jt, jf = ((0 if t is None else labels[t] - i - 1) for t in ins[2:4])
        out += struct.pack("=HBBI", ops[ins[0]], jt, jf, ins[1])
    for value in (allow, eperm, enosys):
        out += struct.pack("=HBBI", 0x06, 0, 0, value)
    return bytes(out)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp() -> bool:
    """No new namespaces and no mounts for this process and everything it starts (needs no_new_privs)."""
    program = _seccomp_program(os.uname().machine)
    if program is None:
        return False
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    libc = _libc()
    ul = ctypes.c_ulong
    result = libc.prctl(PR_SET_SECCOMP, ul(SECCOMP_MODE_FILTER), ctypes.c_void_p(ctypes.addressof(fprog)), ul(0), ul(0))
    _check(result, "prctl(PR_SET_SECCOMP)")
    return True


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
    done = {k: False for k in ("cgroup", "network_namespace", "mount_namespace", "ipc_namespace", "allow_list_view",
                               "hidden_paths", "proc_hidepid", "unprivileged_user", "no_new_privs",
                               "parent_death_signal", "child_subreaper", "seccomp_filter")}
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
    flags = (CLONE_NEWNET if cfg.get("netns") else 0) | (CLONE_NEWNS if view else 0) | CLONE_NEWIPC
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
    done["ipc_namespace"] = bool(flags & CLONE_NEWIPC)  # SysV objects and POSIX queues die with the sandbox
    view_ok = False
    if done["mount_namespace"]:
        try:
            build_root(view, cfg.get("uid") if root else None, cfg.get("gid") if root else None, root)
            view_ok = True
            os.chdir(cfg["root"])
        except OSError as e:
            print(f"grader sandbox: could not build the allow-list view: {e}", file=sys.stderr)
    done["allow_list_view"] = done["hidden_paths"] = view_ok
    done["proc_hidepid"] = view_ok and root and any(op.get("hidepid") for op in view["ops"])

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
            os._exit(71)  # holding capabilities over the view would make it undoable: never run like that
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
    if done["no_new_privs"] and cfg.get("seccomp", True):
        try:
            done["seccomp_filter"] = install_seccomp()
        except OSError as e:
            print(f"grader sandbox: could not install the system call filter: {e}", file=sys.stderr)
    if os.getppid() != parent:  # the grader died before the signal was armed
        os._exit(0)
    return done
