"""Wall time of `grade` on the model solution of each PyTorch exercise (bridge.toml), as a ratio to a bare
`python -c "import torch"` measured in the same run, alternating round by round.

    python benchmarks/bench_torch_exercises.py [--rounds 3]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.assignment import builtin_dir

EXERCISES = ("torch_network", "torch_training", "torch_mlp")


def wall(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    solution = builtin_dir() / "solution"
    runs: dict[str, list[float]] = {"import torch": [], **{e: [] for e in EXERCISES}}
    with tempfile.TemporaryDirectory() as out:
        for round_ in range(args.rounds):
            runs["import torch"].append(wall([sys.executable, "-c", "import torch"]))
            for exercise in EXERCISES:
                runs[exercise].append(wall([sys.executable, "-m", "grader.cli", str(solution), "--assignment",
                                            "bridge.toml", "-e", exercise, "--out", str(Path(out) / exercise)]))
            print(f"round {round_ + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()), flush=True)
    floor = statistics.median(runs["import torch"])
    for name, times in runs.items():
        median = statistics.median(times)
        print(f"{name:16s} median {median:6.2f} s  ratio to import torch {median / floor:5.2f}")


if __name__ == "__main__":
    main()
