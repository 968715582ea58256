"""Cost of one round trip to the student's process: the grader's own CPU and the wall time per call, for a
call with small arrays (a layer's forward on an 8x5 batch: most of the ~800 calls of a whole-assignment
grade) and one sending the digits training set (1437x64 float64, 735 KB: the training check's calls).

Each round runs, in a fresh process per variant, CALLS calls of each kind after a warm-up, and a bare
`python -c "import torch"`; variants take turns round by round. Printed: medians per call in
microseconds, and how many calls cost as much wall time as the bare import (the import is the floor a
single grade is measured against).

    python benchmarks/bench_calls.py --rounds 5 [--baseline /path/to/older/checkout]
"""
from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from _common import bare_import, baseline_arguments, probe

CALLS = 1000
PROBE = r"""
import json, sys, time
import numpy as np
from pathlib import Path
from grader.sandbox.session import Limits, Sandbox
rng = np.random.default_rng(0)
small = (rng.normal(size=(8, 5)), rng.normal(size=(5, 3)), rng.normal(size=(3,)))
large = (rng.normal(size=(1437, 64)), rng.normal(size=(64, 3)), rng.normal(size=(3,)))
n = int(sys.argv[2])
out = {}
with Sandbox(Path(sys.argv[1]), ["m"], Limits()) as sb:
    sb.start()
    for kind, args, count in (("small", small, n), ("large", large, max(1, n // 4))):
        for _ in range(20):
            assert sb.call("affine", *args, return_args=False).ok
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in range(count):
            sb.call("affine", *args, return_args=False)
        out[kind] = {"wall": (time.perf_counter() - wall) / count, "cpu": (time.thread_time() - cpu) / count}
print(json.dumps(out))
"""
SUBMISSION = "def affine(x, w, b):\n    return x @ w + b\n"


def main() -> None:
    args = baseline_arguments(__doc__, rounds=5)
    python = sys.executable
    variants = {"this checkout": None, **({"baseline": args.baseline} if args.baseline else {})}
    rows: dict[str, list[dict]] = {name: [] for name in variants}
    bare = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "m.py").write_text(SUBMISSION)
        for r in range(args.rounds):
            bare.append(bare_import(python, "torch"))
            for name, path in variants.items():
                rows[name].append(probe(python, path, PROBE, tmp, str(CALLS)))
            print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    floor = statistics.median(bare)
    print(f"bench_calls: {args.rounds} rounds, {CALLS} small and {CALLS // 4} large calls per round; "
          f"bare import torch {floor:.2f} s")
    print(f"{'variant':22s} {'call':6s} {'grader CPU':>12s} {'wall':>10s} {'calls per bare import':>22s}")
    for name, results in rows.items():
        for kind in ("small", "large"):
            cpu = statistics.median(r[kind]["cpu"] for r in results)
            wall = statistics.median(r[kind]["wall"] for r in results)
            print(f"{name:22s} {kind:6s} {cpu * 1e6:9.0f} us {wall * 1e6:7.0f} us {floor / wall:22.0f}")


if __name__ == "__main__":
    main()
