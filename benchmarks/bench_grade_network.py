"""Wall time of the whole `grade -e network` process against a bare `python -c "import torch"`.

Both are run as fresh processes, alternately, `--repeats` times; the medians and their ratio are
printed (the target is a ratio of about 3 or less: the grade is then dominated by what every PyTorch
program pays at start-up). Run from anywhere:

    python benchmarks/bench_grade_network.py --repeats 7

Figures belong in release notes; nothing here is asserted in tests.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def wall(cmd: list[str], env=None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--submission", default=None, help="default: the bundled model solution (--example)")
    parser.add_argument("--extra", nargs="*", default=[], help="extra arguments for grade, e.g. --timing")
    args = parser.parse_args(argv)
    out = tempfile.mkdtemp(prefix="bench-grade-")
    target = [args.submission] if args.submission else ["--example"]
    grade = [sys.executable, "-m", "grader.cli", *target, "-e", "network", "--out", out, "--no-color", *args.extra]
    bare = [sys.executable, "-c", "import torch"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    wall(bare), wall(grade, env)  # warm the file cache; not counted
    times = {"import torch": [], "grade -e network": []}
    for _ in range(args.repeats):
        times["import torch"].append(wall(bare))
        times["grade -e network"].append(wall(grade, env))
    for name, values in times.items():
        print(f"{name:<18} median {statistics.median(values):6.2f} s   "
              f"min {min(values):6.2f}  max {max(values):6.2f}  (n={len(values)})")
    ratio = statistics.median(times["grade -e network"]) / statistics.median(times["import torch"])
    print(f"ratio grade / import torch: {ratio:.2f}  (target: <= 3)")
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
