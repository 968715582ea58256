"""Batch processes die with the batch, `kill -9` included (Linux: PR_SET_PDEATHSIG).

The fork server is started by the batch's process and imports this module first (pool.PRELOAD): it asks
the kernel for SIGKILL when its parent dies. Every worker is forked by the fork server and asks the same
in its initializer. So killing the batch kills the fork server, which kills the workers, whose sandbox
children already die with them (isolation.confine); the resource tracker exits once no one holds its pipe.
A parent that died before the request was made is seen by the parent pid having changed: exit at once.
"""
from __future__ import annotations

import os
import signal
import sys

PARENT_ENV = "GRADER_BATCH_PARENT"  # set by the pool for the fork server: the batch process's pid
SERVER_PID: int | None = None  # in the fork server and its forks: the fork server's pid


def die_with_parent(expected_parent: int | None) -> bool:
    """SIGKILL this process when its parent dies; exit now if the parent is no longer `expected_parent`.
    Returns whether the kernel took the request (False off Linux)."""
    try:
        from ..sandbox.isolation import PR_SET_PDEATHSIG, prctl
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except OSError:
        return False
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(1)  # the parent died before the request was armed
    return True


def _in_fork_server() -> None:
    global SERVER_PID
    parent = os.environ.get(PARENT_ENV, "")
    # Only in the fork server itself (its preload), never in a process that merely inherited the variable.
    if parent.isdigit() and os.getppid() == int(parent) and "multiprocessing.forkserver" in sys.modules:
        SERVER_PID = os.getpid()
        die_with_parent(int(parent))


_in_fork_server()
