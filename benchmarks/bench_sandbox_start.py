"""Start-up cost of the sandbox per submission: the allow-list view, IPC namespace and system-call filter
against the same grader without the view, or against another checkout of the grader (--baseline).

Each round starts, in a fresh process per variant (as a single `grade` does), SANDBOXES sandboxes one
after the other on a one-file submission and times each from construction to its first answered ping:
the first is the single-grade figure (it pays for planning the view), the later ones the per-submission
figure of a batch worker. Variants take turns, round by round; medians are printed, with the ratio to a
bare `python -c "import numpy"` measured in the same rounds.

    python benchmarks/bench_sandbox_start.py --rounds 7 [--baseline /path/to/older/checkout]
"""
from __future__ import annotations

import statistics
import sys
import tempfile
from pathlib import Path

from _common import bare_import, baseline_arguments, probe

SANDBOXES = 6
PROBE = r"""
import json, sys, time
from pathlib import Path
from grader.sandbox.session import Isolation, Limits, Sandbox
isolation = Isolation(hide_files=False, unprivileged_user=False) if sys.argv[2] == "no-view" else None
import importlib
for name in ("grader.exercises", "grader.reference", "grader.templates", "numpy"):  # a grade has these loaded
    try:
        importlib.import_module(name)
    except ImportError:
        pass
times = []
for _ in range(int(sys.argv[3])):
    t0 = time.perf_counter()
    with Sandbox(Path(sys.argv[1]), ["m"], Limits(), isolation=isolation) as sb:
        assert sb.ping().ok, "the sandbox did not answer"
        times.append(time.perf_counter() - t0)
        protections = sb.protections
print(json.dumps({"times": times, "view": protections.get("allow_list_view", protections.get("hidden_paths"))}))
"""


def main() -> None:
    args = baseline_arguments(__doc__, rounds=7)
    python = sys.executable
    variants = {"allow-list view": (None, "default"), "no view (hide_files=False)": (None, "no-view")}
    if args.baseline:
        variants["baseline checkout, default"] = (args.baseline, "default")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "m.py").write_text("import numpy as np\n\ndef f(x):\n    return np.maximum(x, 0)\n")
        first: dict[str, list[float]] = {k: [] for k in variants}
        later: dict[str, list[float]] = {k: [] for k in variants}
        bare, views = [], {}
        for r in range(args.rounds):
            bare.append(bare_import(python, "numpy"))
            for name, (path, variant) in variants.items():
                result = probe(python, path, PROBE, tmp, variant, str(SANDBOXES))
                first[name].append(result["times"][0])
                later[name].extend(result["times"][1:])
                views[name] = result["view"]
            print(f"round {r + 1}: " + ", ".join(f"{n}: {first[n][-1] * 1000:.0f} ms first, "
                                                f"{statistics.median(later[n][-SANDBOXES + 1:]) * 1000:.0f} ms later"
                                                for n in variants), flush=True)
    b = statistics.median(bare)
    print(f"\nbare `python -c 'import numpy'`: median {b * 1000:.0f} ms")
    print(f"{'variant':34} {'view held':>9} {'first (single grade)':>22} {'each later (batch)':>20}")
    for name in variants:
        f, lt = statistics.median(first[name]), statistics.median(later[name])
        print(f"{name:34} {str(views[name]):>9} {f * 1000:>10.0f} ms ({f / b:4.2f}x) {lt * 1000:>10.0f} ms "
              f"({lt / b:4.2f}x)")
    base = "no view (hide_files=False)"
    for name in variants:
        if name != base:
            print(f"added by '{name}' over '{base}': first {1000 * (statistics.median(first[name]) - statistics.median(first[base])):+.0f} ms, "
                  f"later {1000 * (statistics.median(later[name]) - statistics.median(later[base])):+.0f} ms")


if __name__ == "__main__":
    main()
