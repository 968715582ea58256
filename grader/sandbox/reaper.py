"""Finding and ending every process a submission started, however it tried to get away (Linux /proc).

The grader is a child subreaper (isolation.become_subreaper), and so is the student's main process: a
process whose parent dies is re-parented to the nearest of those instead of to init, so a double fork
with setsid stays in our tree. A sandbox's processes are then
  - the members of its cgroup and the descendants of its main process,
  - with a uid of its own (root): every process of that uid,
  - without one: the grader's children that live in another session than the grader and are not a
    sandbox's main process (orphans re-parented to us: the main process leads its own session, so whatever
    it forked is in that session or a newer one), and their descendants. A process the grader itself
    started in a new session would be taken for one: the grader starts none but the sandboxes' own.
`end_processes` SIGKILLs that set until nothing of it is alive, then reaps what became our zombies.
"""
from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass

_lock = threading.RLock()  # held while a main process is being started and while orphans are chosen
_main_pids: set[int] = set()  # live sandbox main processes (of every sandbox in this grader process)


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    session: int
    state: str
    start: int  # clock ticks after boot: with the pid, names one process even if the pid is reused
    uid: int | None


def spawning():
    """Hold while starting a main process and registering it, so no close() takes it for an orphan."""
    return _lock


def register(pid: int) -> None:
    with _lock:
        _main_pids.add(pid)


def unregister(pid: int) -> None:
    with _lock:
        _main_pids.discard(pid)


def read_proc(pid: int, with_uid: bool = False) -> Proc | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()  # the name (field 2) may hold spaces and ')'
    try:
        state, ppid, session, start = fields[0].decode(), int(fields[1]), int(fields[3]), int(fields[19])
    except (IndexError, ValueError):
        return None
    uid = None
    if with_uid:  # the real uid from status: /proc/<pid> of a non-dumpable process is owned by root
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"Uid:"):
                        uid = int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            return None
    return Proc(pid, ppid, session, state, start, uid)


def process_table(with_uid: bool = False) -> dict[int, Proc]:
    table = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return table
    for entry in entries:
        if entry.isdigit():
            p = read_proc(int(entry), with_uid)
            if p is not None:
                table[p.pid] = p
    return table


def descendants(roots: set[int], table: dict[int, Proc]) -> set[int]:
    children: dict[int, list[int]] = {}
    for p in table.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found, todo = set(), [r for r in roots if r in table]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def adopted_orphans(table: dict[int, Proc]) -> set[int]:
    """Our children that we did not start as a sandbox's main process and that left our session."""
    me = os.getpid()
    mine = table.get(me)
    session = mine.session if mine else os.getsid(0)
    with _lock:
        return {p.pid for p in table.values() if p.ppid == me and p.session != session and p.pid not in _main_pids}


def sandbox_processes(main_pid: int | None, table: dict[int, Proc], uid: int | None = None,
                      members: set[int] = frozenset()) -> set[int]:
    """With a uid of its own (which no student process can shed), the sandbox is exactly that uid's
    processes; without one, orphans re-parented to the grader count as the sandbox's too."""
    roots = set(members) | ({main_pid} if main_pid is not None else set())
    if uid is not None:
        roots |= {p.pid for p in table.values() if p.uid == uid}
    else:
        roots |= adopted_orphans(table)
    return descendants(roots, table) - {os.getpid()}


def kill(p: Proc) -> None:
    """SIGKILL exactly the process `p` describes: through a pidfd, after checking it is still that one."""
    try:
        fd = os.pidfd_open(p.pid)
    except AttributeError:
        fd = None
    except OSError:
        return  # gone
    try:
        now = read_proc(p.pid)
        if now is None or now.start != p.start:
            return  # exited, and the pid may already be someone else's
        if fd is not None:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
        else:
            os.kill(p.pid, signal.SIGKILL)
    except OSError:
        pass
    finally:
        if fd is not None:
            os.close(fd)


def _reap(pids: set[int], table: dict[int, Proc]) -> None:
    me = os.getpid()
    with _lock:
        ours = {pid for pid in pids if table[pid].ppid == me and pid not in _main_pids}
    for pid in ours:  # never the main processes: their Popen objects reap them and keep the exit status
        try:
            os.waitpid(pid, os.WNOHANG)
        except OSError:
            pass


def end_processes(main_pid: int | None, uid: int | None = None, cgroup=None, max_s: float = 3.0) -> set[int]:
    """Kill the main process and everything the sandbox started; returns the pids still alive at the end
    (only processes stuck in the kernel survive a SIGKILL, and we never wait for them longer than max_s)."""
    end = time.monotonic() + max_s
    delay = 0.0
    while True:
        table = process_table(with_uid=uid is not None)
        members = cgroup.pids() if cgroup is not None else set()
        targets = sandbox_processes(main_pid if main_pid in table else None, table, uid, members)
        _reap(targets, table)
        alive = {pid for pid in targets if table[pid].state not in "ZX"}
        if not alive or time.monotonic() > end:
            return alive
        if cgroup is not None:
            cgroup.kill()
        for pid in alive:
            kill(table[pid])
        time.sleep(delay)
        delay = min(0.05, delay + 0.002)
