"""Batch grading throughput: a class of correct `network` submissions graded with `grade batch -e network`,
with -j 1 and -j 2 (or the counts given), each as a fresh `grade batch --force` process.

Reports, per worker count, the median over --repeats runs of
- the whole command's wall time (start-up, fork server, grading, gradebook and summary) and its rate, and
- the grading phase's rate as the batch measures it (batch-run.json: first job submitted -> last done),
- the rate after start-up (first result -> last; what a class of hundreds sees), and the CPU time per
  submission (worker + sandbox child) with the share of the j CPUs it used (far below 100 %: the
  machine was busy with something else),
and the speedup of the largest worker count over the smallest. Goals on the 2-core reference machine:
>= 60 submissions per minute, >= 1.7x for -j 2 over -j 1. Run from anywhere:

    python benchmarks/bench_batch.py --submissions 40 --jobs 1 2 --repeats 1

Figures belong in release notes; nothing here is asserted in tests.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.assignment import builtin_dir


def make_class(root: Path, n: int) -> Path:
    """n correct submissions: the model solution, each with its own header line (distinct content)."""
    source = builtin_dir() / "solution"
    for i in range(n):
        folder = root / f"student_{i:03d}"
        folder.mkdir(parents=True)
        for path in source.glob("*.py"):
            (folder / path.name).write_text(f"# student {i}\n" + path.read_text())
    return root


def run(class_dir: Path, out: Path, jobs: int, exercise: str, assignment: str | None) -> dict:
    env = {**os.environ, "GRADER_PRIVATE_SEED": "bench-batch", "PYTHONWARNINGS": "ignore"}
    cmd = [sys.executable, "-m", "grader.cli", "batch", str(class_dir), "--out", str(out), "-e", exercise,
           "-j", str(jobs), "--force", *(["--assignment", assignment] if assignment else [])]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    stats = json.loads((out / "batch-run.json").read_text())
    gradebook = (out / "gradebook.csv").read_text().splitlines()[1:]
    if stats["statuses"] != {"graded": stats["total"]} or any(r.split(",")[1] != r.split(",")[2] for r in gradebook):
        raise SystemExit(f"not every submission got full marks: {stats['statuses']}")
    cpu = sum(json.loads(r.read_text()).get("cpu_s", 0.0) for r in out.glob("*/batch-record.json"))
    return {"wall": wall, "grading": stats["grading_seconds"], "n": stats["total"], "cpu": cpu,
            "steady": stats["steady_per_minute"]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--exercise", default="network")
    parser.add_argument("--assignment", default=None, help="assignment file (default: the bundled one)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    try:
        class_dir = make_class(tmp / "class", args.submissions)
        results: dict[int, list[dict]] = {j: [] for j in args.jobs}
        for _ in range(args.repeats):
            for j in args.jobs:  # alternate, so a change in machine load hits every count alike
                results[j].append(run(class_dir, tmp / f"out-{j}", j, args.exercise, args.assignment))
        rates = {}
        for j, runs in results.items():
            wall = statistics.median(r["wall"] for r in runs)
            grading = statistics.median(r["grading"] for r in runs)
            n = runs[0]["n"]
            cpu = statistics.median(r["cpu"] for r in runs)
            steady = statistics.median(r["steady"] for r in runs)
            rates[j] = (60 * n / wall, 60 * n / grading, steady)
            # CPU per submission (worker + sandbox child), and how much of j CPUs the grading phase used:
            # well below 100 % means the machine was busy with something else.
            print(f"-j {j}: {n} submissions  command {wall:6.1f} s = {rates[j][0]:5.1f}/min   "
                  f"grading phase {grading:6.1f} s = {rates[j][1]:5.1f}/min   after start-up {steady:5.1f}/min   "
                  f"CPU {cpu / n:.2f} s/submission, {100 * cpu / (grading * j):.0f}% of {j} CPU   (n={len(runs)})")
        lo, hi = min(args.jobs), max(args.jobs)
        if lo != hi:
            print(f"speedup -j {hi} over -j {lo}: command {rates[hi][0] / rates[lo][0]:.2f}x, "
                  f"grading phase {rates[hi][1] / rates[lo][1]:.2f}x, after start-up "
                  f"{rates[hi][2] / rates[lo][2]:.2f}x  (goal >= 1.7x)")
        print(f"best rate: {max(r[0] for r in rates.values()):.1f}/min whole command  (goal >= 60/min)")
        print(f"load average: {os.getloadavg()[0]:.2f} on {len(os.sched_getaffinity(0))} CPUs")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
