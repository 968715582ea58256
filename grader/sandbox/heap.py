"""A steady heap for timing: glibc keeps freed memory instead of giving it back to the kernel.

Why: a train step allocates temporaries the size of the batch (1437 x 64 doubles is 735 KB). With
glibc's defaults, freeing one can trim the top of the heap or unmap it, and the next step faults the
same pages in again, zeroed by the kernel. Whether that happens depends on where earlier requests'
arrays happen to lie, so the same code measured 0.82 ms per step in one run and 1.15 ms in the next
(3,600 page faults against under 200), alternating from call to call. With the trim threshold and the mmap
threshold raised, a step's time is its arithmetic, and repeated runs agree.

Stdlib only and free of package-relative imports: child.py loads this file by path (like limits.py),
and grader/timing.py uses it for PyTorch in the grader: both backends are timed under one heap policy.
Elsewhere than glibc (macOS, musl, Windows) it does nothing and says so.
"""
from __future__ import annotations

import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
TRIM_THRESHOLD = 256 * 2**20  # keep up to this much free memory at the top of the heap
MMAP_THRESHOLD = 32 * 2**20  # glibc's largest allowed value: smaller blocks come from the heap


def _mallopt():
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: the child loads this module at every start, and uses it only when timed

    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl's mallopt is a no-op)
        return libc.mallopt
    except (OSError, AttributeError):
        return None


def keep_freed_memory() -> str:
    """Raise glibc's trim and mmap thresholds for the rest of this process; returns what was done.

    For the rest of the process, because glibc cannot be put back: setting a threshold ends its own
    adjustment of them. The cost is that the process keeps what it freed, up to its peak use."""
    mallopt = _mallopt()
    if mallopt is None:
        return "unchanged (not glibc)"
    ok = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1 and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    return "glibc keeps freed memory (trim 256 MiB, mmap 32 MiB)" if ok else "unchanged (mallopt refused)"
