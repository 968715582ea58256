"""A control group per sandbox, where the grader may make one (usually root; cgroup v1 or v2).

It bounds what rlimits cannot: the number of tasks of all the submission's processes together
(pids.max; RLIMIT_NPROC does not bind root and counts per user, not per sandbox) and their total memory
(memory.max; RLIMIT_AS is per process). It also names the submission's processes in a way they cannot
leave: only root may move a process out, so cgroup.procs lists every one of them for the final kill.
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

PREFIX = "nn-grader-"  # groups are named nn-grader-<grader pid>-<sandbox folder>
# v1 limit file names -> v2 names
_V1 = {"pids": "pids.max", "memory": "memory.limit_in_bytes"}
_V2 = {"pids": "pids.max", "memory": "memory.max"}


def _mounts() -> tuple[dict[str, tuple[str, str]], tuple[str, str] | None]:
    """v1 controller -> (mount point, mount root), and the v2 (mount point, mount root) if any."""
    v1, v2 = {}, None
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return v1, v2
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, point, fstype, options = fields[3], fields[4], tail[0], tail[2].split(",")
        if fstype == "cgroup2":
            v2 = (point, root)
        elif fstype == "cgroup":
            for name in _V1:
                if name in options:
                    v1[name] = (point, root)
    return v1, v2


def _own_paths() -> dict[str, str]:
    """controller ("" for v2) -> this process's cgroup path."""
    out = {}
    try:
        with open("/proc/self/cgroup") as f:
            for line in f:
                _id, controllers, path = line.rstrip("\n").split(":", 2)
                for c in controllers.split(",") if controllers else [""]:
                    out[c] = path
    except (OSError, ValueError):
        pass
    return out


def _join(point: str, mount_root: str, path: str) -> Path:
    if mount_root != "/" and path.startswith(mount_root):
        path = path[len(mount_root):]
    return Path(point) / path.lstrip("/")


def _write(path: Path, text: str) -> bool:
    try:
        path.write_text(text)
        return True
    except OSError:
        return False


def _remove_stale(parent: Path) -> list[Path]:
    """Groups left by a grader that was killed (named nn-grader-<its pid>-...): their processes are killed
    and the groups removed. A group whose grader still runs is left alone. Returns the groups removed."""
    try:
        entries = [e for e in parent.iterdir() if e.name.startswith(PREFIX)]
    except OSError:
        return []
    removed = []
    for entry in entries:
        pid = entry.name[len(PREFIX):].partition("-")[0]
        if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
            group = SandboxCgroup([entry], {"pids": False, "memory": False})
            group.kill()
            group.remove(wait_s=0.5)
            if not entry.exists():
                removed.append(entry)
    return removed


class SandboxCgroup:
    """The groups made for one sandbox. `limited` says which limits hold: {"pids": bool, "memory": bool}."""

    def __init__(self, dirs: list[Path], limited: dict[str, bool]):
        self.dirs, self.limited = dirs, limited

    @classmethod
    def create(cls, name: str, pids_max: int, memory_max: int) -> SandboxCgroup | None:
        if not hasattr(os, "geteuid") or not os.path.exists("/proc/self/cgroup"):
            return None
        v1, v2 = _mounts()
        own = _own_paths()
        wanted = {"pids": str(int(pids_max)), "memory": str(int(memory_max))}
        dirs, limited = [], {"pids": False, "memory": False}
        for controller, (point, root) in v1.items():
            folder = _join(point, root, own.get(controller, "/")) / name
            _remove_stale(folder.parent)
            try:
                folder.mkdir()
            except OSError:
                continue
            dirs.append(folder)
            limited[controller] = _write(folder / _V1[controller], wanted[controller])
        if v2 is not None:
            base = _join(v2[0], v2[1], own.get("", "/"))
            folder = base / name
            _remove_stale(base)
            try:
                folder.mkdir()
            except OSError:
                folder = None
            if folder is not None:
                dirs.append(folder)  # membership alone lets us list and kill every process
                for controller, limit_file in _V2.items():
                    if not limited[controller]:
                        if not (folder / limit_file).exists():
                            _write(base / "cgroup.subtree_control", f"+{controller}")  # refused if base has tasks
                        limited[controller] = (folder / limit_file).exists() and _write(folder / limit_file,
                                                                                          wanted[controller])
                if memory_max and limited["memory"]:
                    _write(folder / "memory.swap.max", "0")
        return cls(dirs, limited) if dirs else None

    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs]

    def pids(self) -> set[int]:
        found = set()
        for d in self.dirs:
            try:
                found.update(int(x) for x in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                pass
        return found

    def kill(self) -> None:
        for d in self.dirs:
            if (d / "cgroup.kill").exists() and _write(d / "cgroup.kill", "1"):  # v2, Linux >= 5.14: atomic
                return
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def remove(self, wait_s: float = 1.0) -> None:
        """Remove the groups (they must be empty: call after every process is gone)."""
        end = time.monotonic() + wait_s
        for d in self.dirs:
            while True:
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # tasks still leaving
                    if time.monotonic() > end:
                        break
                    time.sleep(0.005)
