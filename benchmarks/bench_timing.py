"""`grade --timing`: its wall time, and how well repeated medians of the same workload agree.

1. Wall time of the whole `grade --example -e network --timing` process (fresh process each time,
   `--repeats` times; median, min, max), next to the same grade without --timing.
2. Agreement: the timing check of the bundled example is run `--repeats` times, each in a fresh
   process (`--same-process`: all in this one, after one uncounted repeat that warms it), with the
   sweep off and the grader's timing settings (unless --runs/--steps are given). For each backend
   the per-step median of each repeat is collected; the spread is (max - min) / median over those
   medians. The target is <= 5 % on a quiet machine.
3. The machine's own floor: alternating with the grader's repeats, a bare process times the same two
   workloads the same way - the bundled solution's NeuralNetwork.train_step called directly (no
   sandbox, one BLAS thread, the child's clean OpenBLAS environment) and the PyTorch reference -
   through grader.timing.measure, with the same heap policy. Its spread is what this machine gives
   any fresh process; on a virtual machine, neighbours sharing the host's caches move it by several
   per cent within minutes, with no load inside the guest. The grader should add nothing to it.

    python benchmarks/bench_timing.py --repeats 8

Figures belong in release notes; nothing here is asserted in tests.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from _common import timed_run


def grader_runs(runs: int | None, steps: int | None) -> dict[str, list[float]]:
    """Grade the example's `network` exercise with timing on; {backend: per-step time of each run (s)}."""
    from grader.assignment import load_assignment
    from grader.cli import example_path
    from grader.engine import grade
    from grader.seeds import Seed

    spec = load_assignment()
    settings = {"sweep": False, "devices": ["cpu"]}
    settings.update({k: v for k, v in (("runs", runs), ("steps", steps)) if v})
    spec.options["timing"] = settings
    result = grade(example_path(), spec, Seed(spec.practice_seed, "practice"), exercise_ids=["network"])
    check = next(c for c in result.checks() if c.kind == "timing")
    return {b["backend"]: b["run_s"] for b in check.extra["timing"]["backends"] if b.get("run_s")}


def bare_runs(runs: int | None, steps: int | None) -> dict[str, list[float]]:
    """The same two workloads without the grader: the solution's train_step called in this process."""
    import importlib.util

    import torch
    from threadpoolctl import threadpool_limits

    from grader import timing
    from grader.cli import example_path
    from grader.data import load_digits
    from grader.sandbox.heap import keep_freed_memory

    spec = importlib.util.spec_from_file_location("bare_network", example_path() / "network.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data = load_digits()
    workload = timing.Workload(data.features, 64, data.classes, len(data.X_train))
    workload.runs, workload.steps = runs or workload.runs, steps or workload.steps
    net = module.NeuralNetwork(data.features, workload.hidden, data.classes)

    class Direct:
        def run(self, n: int) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                net.train_step(data.X_train, data.Y_train, workload.learning_rate)
            return (time.perf_counter() - t0) / n

    threadpool_limits(1)
    keep_freed_memory()
    rows = [timing.Timing("NumPy (direct)", "cpu", "float64"), timing.Timing("PyTorch CPU", "cpu", "float64")]
    with timing.torch_threads(1):
        torch_runner = timing.TorchRunner(workload, torch.device("cpu"), data.X_train, data.y_train)
        timing.measure([(rows[0], Direct()), (rows[1], torch_runner)], workload)
    return {row.backend: row.run_s for row in rows}


def fresh(mode: str, runs: int | None, steps: int | None) -> dict[str, list[float]]:
    cmd = [sys.executable, __file__, f"--{mode}"] + [f"--{k}={v}" for k, v in (("runs", runs), ("steps", steps)) if v]
    env = dict(os.environ)
    if mode == "bare":  # the sandbox's child starts from a clean environment: no OpenBLAS core type forced
        env = {k: v for k, v in env.items() if not k.startswith("OPENBLAS_")}
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.splitlines()[-1])


def spread(values: list[float]) -> float:
    return (max(values) - min(values)) / statistics.median(values)


def agreement(args) -> None:
    measured: dict[str, dict[str, list[float]]] = {"grader": {}, "bare process": {}}
    if args.same_process:
        grader_runs(args.runs, args.steps)  # warms the process (imports, caches): not counted
    for i in range(args.repeats):
        found = {"grader": grader_runs(args.runs, args.steps) if args.same_process
                 else fresh("one", args.runs, args.steps),
                 "bare process": fresh("bare", args.runs, args.steps)}
        for source, backends in found.items():
            for backend, run_s in backends.items():
                measured[source].setdefault(backend, []).append(statistics.median(run_s))
                if args.verbose:
                    print(f"  repeat {i} {source:<12} {backend:<14} " + " ".join(f"{v * 1e3:.2f}" for v in run_s))
    where = "one process" if args.same_process else "a fresh process each"
    print(f"\nper-step medians over {args.repeats} repeats (grader: {where}; runs x steps: "
          f"{args.runs or 'default'} x {args.steps or 'default'}):")
    for source, backends in measured.items():
        for backend, values in backends.items():
            print(f"  {source:<12} {backend:<16} median {statistics.median(values) * 1e3:7.3f} ms   spread "
                  f"{spread(values):6.1%}   " + " ".join(f"{v * 1e3:.3f}" for v in values))
    worst = max(spread(v) for v in measured["grader"].values())
    floor = max(spread(v) for v in measured["bare process"].values())
    print(f"grader's worst spread: {worst:.1%} ({'within' if worst <= 0.05 else 'NOT within'} 5 %); "
          f"a bare process's worst on this machine meanwhile: {floor:.1%}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, help="timed runs per backend in each repeat (default: the grader's)")
    parser.add_argument("--steps", type=int, help="train steps per run (default: the grader's)")
    parser.add_argument("--same-process", action="store_true", help="every grader repeat in this process")
    parser.add_argument("--skip-wall", action="store_true", help="only the agreement measurement")
    parser.add_argument("--verbose", action="store_true", help="print every run of every repeat")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a fresh process's grader repeat
    parser.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)  # ... and its bare repeat
    args = parser.parse_args(argv)
    if args.one or args.bare:
        print(json.dumps((grader_runs if args.one else bare_runs)(args.runs, args.steps)))
        return 0
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    if not args.skip_wall:
        out = tempfile.mkdtemp(prefix="bench-timing-")
        base = [sys.executable, "-m", "grader.cli", "--example", "-e", "network", "--out", out, "--no-color"]
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        timed_run(base, env)  # warm the file cache
        for name, cmd in (("grade -e network", base), ("grade -e network --timing", base + ["--timing"])):
            values = [timed_run(cmd, env)[0] for _ in range(args.repeats)]
            print(f"{name:<28} median {statistics.median(values):6.2f} s   min {min(values):6.2f}  "
                  f"max {max(values):6.2f}  (n={len(values)})")
    agreement(args)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
