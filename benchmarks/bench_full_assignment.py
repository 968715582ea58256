"""Wall time of grading the full default assignment for the correct model solution (`grade --example`).

The whole process is timed, start-up included, `--repeats` times after one warm-up run (file cache).
Printed: the median and minimum wall time against the 15 s goal, the CPU time of the process tree
(getrusage of children: less sensitive to other load on a shared machine), the load average before
the runs (a busy machine inflates wall time), the time per exercise and the slowest checks as
results.json reports them. Run from anywhere:

    python benchmarks/bench_full_assignment.py --repeats 3

Figures belong in release notes; nothing here is asserted in tests.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections import defaultdict

from _common import timed_run

GOAL_S = 15.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--assignment", default=None, help="assignment file (default: the bundled one)")
    parser.add_argument("--slowest", type=int, default=10, help="how many of the slowest checks to list")
    args = parser.parse_args(argv)
    out = tempfile.mkdtemp(prefix="bench-full-")
    cmd = [sys.executable, "-m", "grader.cli", "--example", "--out", out, "--no-color"]
    if args.assignment:
        cmd += ["--assignment", args.assignment]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    timed_run(cmd, env)  # warm the file cache; not counted
    walls, cpus = [], []
    per_exercise: dict[str, list[float]] = defaultdict(list)
    per_check: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.repeats):
        w, c = timed_run(cmd, env)
        walls.append(w)
        cpus.append(c)
        with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
            results = json.load(f)
        totals: dict[str, float] = defaultdict(float)
        for test in results["tests"]:
            seconds = test["extra_data"]["duration_s"]
            totals[test["tags"][0]] += seconds
            per_check[test["name"]].append(seconds)
        for exercise, seconds in totals.items():
            per_exercise[exercise].append(seconds)
    median = statistics.median(walls)
    score = sum(t["score"] for t in results["tests"])
    print(f"grade --example, full default assignment ({len(results['tests'])} checks, "
          f"{score:g}/{sum(t['max_score'] for t in results['tests']):g} points)")
    print(f"wall   median {median:6.2f} s  (min {min(walls):5.2f}, max {max(walls):5.2f}; goal < {GOAL_S:g} s: "
          f"{'met' if median < GOAL_S else 'NOT met'})")
    print(f"CPU    median {statistics.median(cpus):6.2f} s  (process tree: grader and the student's process)")
    print(f"load average before the runs: {load:.2f} on {os.cpu_count()} CPUs")
    print("\nper exercise (median of the checks' durations, s):")
    for exercise, values in sorted(per_exercise.items(), key=lambda kv: -statistics.median(kv[1])):
        print(f"  {exercise:<18} {statistics.median(values):6.2f}")
    print(f"\n{args.slowest} slowest checks (median, s):")
    slowest = sorted(per_check.items(), key=lambda kv: -statistics.median(kv[1]))[:args.slowest]
    for name, values in slowest:
        print(f"  {statistics.median(values):6.2f}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
