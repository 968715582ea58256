"""One unprivileged user id per sandbox, for a grader running as root.

Each sandbox borrows a uid from a pool no account uses and holds it (an exclusive lock on a file in a
root-only folder) until every process of that sandbox is gone. Student code then runs as that uid: it
cannot write the grader's files or reports, read root's files, signal or trace the grader, or touch
another student's sandbox (another uid), and RLIMIT_NPROC binds again (it does not bind root). When no
pool uid can be used (not root, ids not mapped in a user namespace) the caller runs without one.
"""
from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass

try:
    import fcntl
    import pwd
except ImportError:  # Windows
    fcntl = pwd = None

POOL_BASE = 1_769_000_000  # far above any account's id, below 2**31 (some tools treat ids as signed)
POOL_SIZE = 4096  # sandboxes that may run at once on one machine
LOCK_DIRS = ("/run/nn-autograder-uids", os.path.join(tempfile.gettempdir(), "nn-autograder-uids-root"))


@dataclass
class SandboxUser:
    uid: int
    gid: int
    _lock_fd: int

    def release(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # closing the file drops the lock
            self._lock_fd = -1


def _mapped(uid: int) -> bool:
    """Whether uid exists in this (possibly user-namespaced) system: setuid to an unmapped id fails."""
    try:
        with open("/proc/self/uid_map") as f:
            for line in f:
                inside, _outside, count = (int(x) for x in line.split())
                if inside <= uid < inside + count:
                    return True
        return False
    except (OSError, ValueError):
        return True  # no user namespaces here: every id is valid


def _lock_dir() -> str | None:
    """A folder only root can write, so no student can pre-create or swap the lock files."""
    for folder in LOCK_DIRS:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)
            st = os.lstat(folder)
        except OSError:
            continue
        if stat.S_ISDIR(st.st_mode) and st.st_uid == 0 and not st.st_mode & 0o022:
            return folder
    return None


def _in_use_by_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def acquire_user() -> SandboxUser | None:
    """A pool uid locked for this sandbox, or None (not root, no lock folder, nothing free)."""
    if fcntl is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    folder = _lock_dir()
    if folder is None:
        return None
    start = (os.getpid() * 7) % POOL_SIZE  # concurrent workers start probing at different places
    for k in range(POOL_SIZE):
        uid = POOL_BASE + (start + k) % POOL_SIZE
        if not _mapped(uid) or _in_use_by_account(uid):
            continue
        try:
            fd = os.open(os.path.join(folder, str(uid)), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        return SandboxUser(uid, uid, fd)
    return None


def abandoned_uids(uids: set[int]) -> set[int]:
    """Those of `uids` that are pool uids no sandbox holds (their lock is free): what processes still run
    under them were left by a grader that was killed."""
    folder = _lock_dir() if fcntl is not None and hasattr(os, "geteuid") and os.geteuid() == 0 else None
    if folder is None:
        return set()
    free = set()
    for uid in uids:
        if not POOL_BASE <= uid < POOL_BASE + POOL_SIZE:
            continue
        try:
            fd = os.open(os.path.join(folder, str(uid)), os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            free.add(uid)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            free.add(uid)
        except OSError:
            pass
        finally:
            os.close(fd)
    return free
