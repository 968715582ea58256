"""`grade --timing`: its wall time, and how well repeated medians of the same workload agree.

Two measurements:

1. Wall time of the whole `grade --example -e network --timing` process (fresh process each time,
   `--repeats` times; median, min, max), next to the same grade without --timing.
2. Agreement: the timing check is run `--repeats` times in one process (engine.grade with the
   `timing` option, the sweep off), and for each backend the per-step median of each repeat is
   collected (after one uncounted repeat that warms the process). The spread is (max - min) / median
   over those medians; the target is <= 5 %. Each
   median is itself the median of `runs` runs of `steps` steps after a warm-up run, as in the report.
   Other load on the machine widens the spread: the load average is printed with the figures.

    python benchmarks/bench_timing.py --repeats 5

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


def wall(cmd) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return time.perf_counter() - t0


def agreement(repeats: int, runs: int, steps: int) -> dict[str, list[float]]:
    from grader.assignment import load_assignment
    from grader.cli import example_path
    from grader.engine import grade
    from grader.seeds import Seed

    spec = load_assignment()
    spec.options["timing"] = {"sweep": False, "runs": runs, "steps": steps, "warmup": 2}
    medians: dict[str, list[float]] = {}
    for repeat in range(repeats + 1):  # the first repeat warms the process (imports, caches): not counted
        result = grade(example_path(), spec, Seed(spec.practice_seed, "practice"), exercise_ids=["network"])
        check = next(c for c in result.checks() if c.kind == "timing")
        for backend in check.extra["timing"]["backends"]:
            if repeat and backend.get("median_s"):
                medians.setdefault(backend["backend"], []).append(backend["median_s"])
    return medians


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per backend in each repeat")
    parser.add_argument("--steps", type=int, default=20, help="train steps per run")
    parser.add_argument("--skip-wall", action="store_true", help="only the agreement measurement")
    args = parser.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if not args.skip_wall:
        out = tempfile.mkdtemp(prefix="bench-timing-")
        base = [sys.executable, "-m", "grader.cli", "--example", "-e", "network", "--out", out, "--no-color"]
        wall(base)  # warm the file cache
        for name, cmd in (("grade -e network", base), ("grade -e network --timing", base + ["--timing"])):
            values = [wall(cmd) for _ in range(args.repeats)]
            print(f"{name:<28} median {statistics.median(values):6.2f} s   min {min(values):6.2f}  "
                  f"max {max(values):6.2f}  (n={len(values)})")
    medians = agreement(args.repeats, args.runs, args.steps)
    print(f"\nper-step medians over {args.repeats} repeats ({args.runs} runs x {args.steps} steps each, 2 warm-up):")
    worst = 0.0
    for backend, values in medians.items():
        mid = statistics.median(values)
        spread = (max(values) - min(values)) / mid
        worst = max(worst, spread)
        print(f"  {backend:<16} median {mid * 1e3:7.3f} ms   spread {spread:6.1%}   "
              + " ".join(f"{v * 1e3:.3f}" for v in values))
    print(f"worst spread: {worst:.1%} ({'within' if worst <= 0.05 else 'NOT within'} 5 %)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
