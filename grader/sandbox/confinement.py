"""Everything one sandbox holds to confine its processes, on the grader's side.

A Confinement is made with the sandbox and closed with it. It owns the sandbox's uid (root), its cgroup,
the mount plan of what the child may see, and the grader's own flags while any sandbox is open (not
dumpable, child subreaper). It tells the child what to apply (`child_config`), checks from outside what
the child really got (`verify`: /proc/<pid>/status, ns/, mountinfo, cgroup), and ends every process of
the sandbox (`end`). docs/security.md lists each promise with the test that shows it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from . import isolation, reaper, users, view
from .cgroups import PREFIX, SandboxCgroup

LINUX = sys.platform.startswith("linux")


@dataclass
class Isolation:
    """Which confinement to attempt; each step is used only where the platform allows it, and
    GradeResult.protections says which held."""

    unprivileged_user: bool = True  # as root: run student code as a uid of its own
    network: bool = False  # False: a new network namespace (loopback only, and down)
    hide_files: bool = True  # a mount namespace with an allow-list view of the machine (view.py)
    cgroup: bool = True  # pids.max and memory.max over all the submission's processes (root)
    scratch_bytes: int = 256 * 2**20  # one tmpfs for the child's working copy, home, /tmp, /var/tmp, /dev/shm
    allow: tuple[str, ...] = ()  # distributions or modules shown beyond view.BASE (NumPy, SciPy, matplotlib)


class _GraderFlags:
    """The grader is non-dumpable while any sandbox is open, and a child subreaper from the first one on."""

    lock = threading.Lock()
    open = 0
    saved: bool | None = None
    subreaper = False

    @classmethod
    def acquire(cls) -> dict[str, bool]:
        with cls.lock:
            if cls.open == 0:
                cls.saved = isolation.is_dumpable()
                isolation.set_dumpable(False)
            cls.open += 1
            if not cls.subreaper:
                cls.subreaper = isolation.become_subreaper()
            return {"grader_not_dumpable": isolation.is_dumpable() is False, "grader_subreaper": cls.subreaper}

    @classmethod
    def release(cls) -> None:
        with cls.lock:
            cls.open -= 1
            if cls.open == 0 and cls.saved:
                isolation.set_dumpable(True)


def _grader_paths() -> list[str]:
    """Where the grader, its exercises (model solutions among them), references and templates live."""
    import grader
    found = []
    for name in ("grader", "grader.exercises", "grader.reference", "grader.templates"):
        try:
            module = sys.modules.get(name) or __import__(name, fromlist=["_"])
        except ImportError:
            continue
        found.extend(getattr(module, "__path__", []) or [])
    return found or [os.path.dirname(grader.__file__)]


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _ns(pid: int | str, name: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{name}")
    except OSError:
        return None


_swept: list[bool] = []


def end_abandoned_processes() -> set[int]:
    """Kill what still runs under a pool uid that no sandbox holds (a grader killed mid-run left it);
    returns those uids. Done once per grader process, before its first sandbox."""
    table = reaper.process_table(with_uid=True)
    abandoned = users.abandoned_uids({p.uid for p in table.values() if p.uid is not None})
    for uid in abandoned:
        reaper.end_processes(None, uid=uid)
    return abandoned


class Confinement:
    def __init__(self, options: Isolation, copy, original: Path, hide=(), pids_max: int = 20,
                 memory_max: int = 0):
        self.options = options
        self.user = self.cgroup = self.view = None
        self.runs_as_user = False  # the child was seen running as self.user (not only asked to)
        self.protections = _GraderFlags.acquire() if LINUX else {"grader_not_dumpable": False,
                                                                  "grader_subreaper": False}
        self._released = False
        try:
            self._set_up(copy, original, hide, pids_max, memory_max)
        except BaseException:
            self.close()
            raise

    def _set_up(self, copy, original, hide, pids_max, memory_max) -> None:
        """copy: the sandbox's WorkingCopy (its folder is handed to the sandbox user, never read here)."""
        tmp = copy.folder
        self.cwd = str(copy.root)
        options = self.options
        if not _swept and LINUX:
            _swept.append(True)
            end_abandoned_processes()
        self.user = users.acquire_user() if options.unprivileged_user and LINUX else None
        if self.user is not None:
            reaper.end_processes(None, uid=self.user.uid)  # leftovers of a grader that was killed mid-run
            copy.hand_over(self.user)
        if options.cgroup and LINUX:
            self.cgroup = SandboxCgroup.create(f"{PREFIX}{os.getpid()}-{tmp.name}", pids_max, memory_max)
        if (options.hide_files or self.user is not None) and LINUX:  # the uid may need Python's folders shown
            hidden = [*_grader_paths(), str(Path(original).resolve().parent), *map(str, hide)]
            if os.environ.get("GRADER_SEED_FILE"):
                hidden.append(os.environ["GRADER_SEED_FILE"])
            uid = self.user.uid if self.user else None
            self.view = view.plan(str(tmp), allow=tuple(options.allow), hide=hidden, uid=uid, gid=uid,
                                  disk_bytes=options.scratch_bytes,
                                  proc="hidepid" if os.geteuid() == 0 else "bind")
            self.view["staging"] = str(copy.staging)

    def child_config(self) -> dict:
        return {
            "cgroups": self.cgroup.procs_files() if self.cgroup else [],
            "netns": not self.options.network,
            "view": self.view,
            "root": self.cwd,  # the working copy, where the child works once its view is built
            "uid": self.user.uid if self.user else None,
            "gid": self.user.gid if self.user else None,
            "outer_uid": os.geteuid() if hasattr(os, "geteuid") else None,
            "outer_gid": os.getegid() if hasattr(os, "getegid") else None,
        }

    def nproc(self, extra: int) -> int | None:
        """RLIMIT_NPROC for the child: counts every task of its uid, so only meaningful for a uid of its own
        (root) or an ordinary user (counted from what it runs already); root itself ignores it."""
        if self.user is not None:
            return extra + 4
        if hasattr(os, "geteuid") and os.geteuid() != 0:
            from .limits import user_task_count
            return user_task_count(os.geteuid()) + extra
        return None

    def verify(self, pid: int, confined: dict) -> dict[str, bool]:
        """What the child got, seen from outside where /proc shows it; the rest as the child said before any
        student code ran (a student cannot have changed those answers)."""
        confined = confined if isinstance(confined, dict) else {}
        said = {k: confined.get(k) is True for k in ("child_subreaper", "parent_death_signal", "allow_list_view")}
        out = dict(self.protections, **said)
        me = reaper.read_proc(pid, with_uid=True)
        out["unprivileged_user"] = self.runs_as_user = bool(self.user and me and me.uid == self.user.uid)
        out["network_namespace"] = _ns(pid, "net") not in (None, _ns("self", "net"))
        out["mount_namespace"] = _ns(pid, "mnt") not in (None, _ns("self", "mnt"))
        status, mountinfo, cgroups = (_read(f"/proc/{pid}/{name}") for name in ("status", "mountinfo", "cgroup"))
        out["no_new_privs"] = "NoNewPrivs:\t1" in status
        mounts = {line.split(" - ")[0].split()[4]: line for line in mountinfo.splitlines() if " - " in line}
        out["ipc_namespace"] = _ns(pid, "ipc") not in (None, _ns("self", "ipc"))
        out["seccomp_filter"] = "Seccomp:\t2" in status
        out["allow_list_view"] = out["hidden_paths"] = bool(self.view) and out["mount_namespace"] \
            and said["allow_list_view"] and " - tmpfs " in mounts.get("/", "")
        out["proc_hidepid"] = "hidepid=" in mounts.get("/proc", "") and ("hidepid=2" in mounts["/proc"]
                                                                         or "invisible" in mounts["/proc"])
        in_group = bool(self.cgroup) and all(f"/{d.name}" in cgroups for d in self.cgroup.dirs)
        out["cgroup"] = in_group
        out["pids_cgroup"] = in_group and self.cgroup.limited["pids"]
        out["memory_cgroup"] = in_group and self.cgroup.limited["memory"]
        out["process_tree_kill"] = LINUX and os.path.isdir("/proc")
        return out

    def processes(self, main_pid: int, walk: bool = True) -> set[int]:
        """The sandbox's live processes: its cgroup's members (one read), else the main process and, with
        `walk`, its descendants (a walk over /proc: a few milliseconds)."""
        if self.cgroup is not None:
            return self.cgroup.pids() | {main_pid}
        if walk:
            return reaper.descendants({main_pid}, reaper.process_table()) | {main_pid}
        return {main_pid}

    def end(self, proc: subprocess.Popen | None) -> set[int]:
        """Kill the main process and every process of the sandbox; wait for the main one. Returns the pids
        that would not die (processes stuck in the kernel)."""
        if proc is not None and proc.returncode is None:
            try:  # the child leads its own session: its group first (the only step without /proc)
                os.killpg(proc.pid, signal.SIGKILL)
            except (OSError, AttributeError):
                pass
        left = reaper.end_processes(proc.pid if proc is not None else None,
                                    uid=self.user.uid if self.runs_as_user else None, cgroup=self.cgroup)
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # unkillable (D state): leave it, never hang the grader
                pass
            reaper.unregister(proc.pid)
        return left

    def close(self) -> None:
        if self._released:
            return
        self._released = True
        self.end(None)  # anything that started after the main process ended
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.user is not None:
            self.user.release()
        if LINUX:
            _GraderFlags.release()
