"""Wall time of the whole `grade -e network` process against a bare `python -c "import torch"`.

Both are run as fresh processes, alternately, `--repeats` times; the medians and their ratio are
printed (the target is a ratio of about 3 or less: the grade is then dominated by what every PyTorch
program pays at start-up), in wall time and in CPU time of the process tree (getrusage of children:
much less sensitive to other load on a shared machine), with the slowest checks as results.json
reports them. Run from anywhere:

    python benchmarks/bench_grade_network.py --repeats 7

Figures belong in release notes; nothing here is asserted in tests.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile

from _common import timed_run


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
    timed_run(bare), timed_run(grade, env)  # warm the file cache; not counted
    times = {"import torch": [], "grade -e network": []}
    cpu = {"import torch": [], "grade -e network": []}
    checks: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for name, cmd in (("import torch", bare), ("grade -e network", grade)):
            w, c = timed_run(cmd, env)
            times[name].append(w)
            cpu[name].append(c)
        with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
            for test in json.load(f)["tests"]:
                checks.setdefault(test["name"], []).append(test["extra_data"]["duration_s"])
    for name, values in times.items():
        print(f"{name:<18} wall median {statistics.median(values):6.2f} s  (min {min(values):5.2f}, "
              f"max {max(values):5.2f})   CPU median {statistics.median(cpu[name]):6.2f} s  (n={len(values)})")
    ratio = statistics.median(times["grade -e network"]) / statistics.median(times["import torch"])
    cpu_ratio = statistics.median(cpu["grade -e network"]) / statistics.median(cpu["import torch"])
    print(f"ratio grade / import torch: wall {ratio:.2f}, CPU {cpu_ratio:.2f}  (target: <= 3)")
    print("slowest checks (median s inside the grade):")
    for name, values in sorted(checks.items(), key=lambda kv: -statistics.median(kv[1]))[:5]:
        print(f"  {statistics.median(values):6.3f}  {name}")
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
