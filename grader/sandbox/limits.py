"""Resource limits of the student's process: applying them (child side) and measuring them (parent side).

Stdlib only and free of package-relative imports: child.py loads this file by path, without importing
the `grader` package, so a student's files can neither shadow it nor make start-up expensive.
"""
from __future__ import annotations

import os
import sys

try:
    import resource
except ImportError:  # Windows: no rlimits at all; every protection that needs them reports False
    resource = None

# The variables that set how many threads BLAS and OpenMP libraries start (NumPy's, SciPy's, torch's): one
# list for the child's environment, batch workers and the timing's report.
BLAS_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                         "VECLIB_MAXIMUM_THREADS")

# Limit names as the parent sends them -> RLIMIT constants. A platform missing one simply skips it.
RLIMITS = {
    "as": "RLIMIT_AS",
    "cpu": "RLIMIT_CPU",
    "fsize": "RLIMIT_FSIZE",
    "nofile": "RLIMIT_NOFILE",
    "core": "RLIMIT_CORE",
    "nproc": "RLIMIT_NPROC",
}


def apply_rlimits(wanted: dict[str, int]) -> dict[str, bool]:
    """Set soft = hard = value for each limit (so student code cannot raise it again); report which held.

    A value above the current hard limit is lowered to it (an unprivileged process cannot raise a hard
    limit). `nproc` is skipped for root, for whom the kernel ignores it.
    """
    applied = {}
    for name, value in wanted.items():
        const = getattr(resource, RLIMITS.get(name, ""), None) if resource else None
        if const is None or value is None or (name == "nproc" and os.geteuid() == 0):
            applied[name] = False
            continue
        try:
            _soft, hard = resource.getrlimit(const)
            value = int(value)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(const, (value, value))
            applied[name] = True
        except (OSError, ValueError):
            applied[name] = False
    return applied


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") and "SC_CLK_TCK" in os.sysconf_names else 100


class CpuClock:
    """User + system CPU seconds of a running (or zombie, not yet reaped) process, all its threads, read
    many times (a few thousand per grade of the whole default assignment): its /proc/<pid>/stat stays open
    and each reading is one pread. The open file belongs to that process, not to its pid: once the process
    is reaped, reading fails (None) instead of measuring whoever gets the pid next. None also where /proc is
    missing (macOS, Windows); callers then fall back to wall time."""

    def __init__(self, pid: int):
        try:
            self.fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except (OSError, AttributeError):
            self.fd = -1

    def seconds(self) -> float | None:
        if self.fd < 0:
            return None
        try:
            data = os.pread(self.fd, 4096, 0)
        except OSError:
            return None
        # The command name (field 2) is in parentheses and may hold spaces or ')': split after the last ')'.
        fields = data[data.rfind(b")") + 2:].split()
        try:
            return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15 of stat(5)
        except (IndexError, ValueError):
            return None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def user_task_count(uid: int) -> int:
    """Processes + threads that `uid` runs now: RLIMIT_NPROC counts these, so a limit must start above it."""
    count = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status", "rb") as f:
                status = f.read()
        except OSError:
            continue
        fields = dict(line.split(b":", 1) for line in status.splitlines() if b":" in line)
        try:
            if int(fields.get(b"Uid", b"-1").split()[0]) == uid:
                count += int(fields.get(b"Threads", b"1").strip())
        except (ValueError, IndexError):
            continue
    return count


def platform_protections() -> dict[str, bool]:
    """Which protections this platform can give, before the child confirms the rlimits it set."""
    posix = os.name == "posix"
    out = {f"rlimit_{name}": bool(resource) and hasattr(resource, const) for name, const in RLIMITS.items()}
    if posix and hasattr(os, "geteuid") and os.geteuid() == 0:
        out["rlimit_nproc"] = False  # root ignores RLIMIT_NPROC
    out.update(
        cpu_time_per_call=os.path.exists(f"/proc/{os.getpid()}/stat"),
        wall_time_per_call=True,
        output_capture=True,
        process_group=posix and hasattr(os, "killpg"),
        minimal_env=True,
        temp_copy=True,
        separate_process=True,
        no_pickle=True,
    )
    return out


if __name__ == "__main__":  # handy when porting: python limits.py
    print(platform_protections(), CpuClock(os.getpid()).seconds(), file=sys.stdout)
