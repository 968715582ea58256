"""What the benchmark scripts share: timing one whole command, a bare import, and a probe script run
with another checkout of the grader on its path."""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import time


def timed_run(cmd: list[str], env: dict | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its children: less sensitive to other load)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    elapsed = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def bare_import(python: str, module: str) -> float:
    """Wall seconds of `python -c "import MODULE"`: the floor a figure is measured against."""
    t0 = time.perf_counter()
    subprocess.run([python, "-c", f"import {module}"], check=True)
    return time.perf_counter() - t0


def probe(python: str, pythonpath: str | None, script: str, *args: str) -> dict:
    """The JSON a probe script prints last, run in a fresh process (with `pythonpath` first on its path:
    another checkout of the grader)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run([python, "-c", script, *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def baseline_arguments(doc: str, rounds: int) -> argparse.Namespace:
    """--rounds, and --baseline: another checkout to measure side by side with this one."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--baseline", help="another checkout of the grader (its folder holding grader/)")
    return parser.parse_args()
