"""Every figure of "grading at the floor" as a ratio to a bare `python -c "import torch"`, run by run.

Each timed command is paired with a bare torch import started just before it, in the same process
tree, so both see the same load; the ratio of the pair is the figure, and the median of the ratios over
the rounds is what the goals are about (absolute seconds are printed too, for the goals given in
seconds). Figures:

  network   `grade NOTEBOOK -e network`: the course's homework as one notebook (the bundled model
            solution, one cell per file)                                      goal <= 1.3x
            The training check's reference runs are read from the user's cache (grader/stored_runs.py),
            as in every grade after the first; the same command with GRADER_NO_RUN_CACHE=1 is printed
            too (what the first grade after an install or an edit of the reference pays).
  example   `grade --example`: the whole default assignment                   goal <= 2x
  light     `grade list`, `starter`, `new-exercise`, `init-ci`, `--help`: seconds, and whether torch
            was imported                                                     goal < 0.5 s, no torch
  batch     `grade batch` of a class of notebooks, -e network, -j 1 and -j 2: steady-state rate (after
            the first result) and -j 2 over -j 1; the whole assignment at -j 2
                                                  goal >= 200/min, >= 1.8x, whole assignment >= 30/min
  timing    `grade --example -e network --timing`                             goal < 15 s
  memory    peak RSS of the largest process of `grade NOTEBOOK -e network` and of `grade --example`
            (wait4), and the largest sum over the process tree (sampled every 50 ms): of RSS, which
            counts a shared library once per process, and of PSS, which shares it out (PSS from one
            extra run of each: reading it slows the process read)                goal < 700 MB

    python benchmarks/bench_floor.py                 # 7 rounds, a class of 20
    python benchmarks/bench_floor.py --quick         # 3 rounds, a class of 10
    python benchmarks/bench_floor.py --only network example light

The machine's load average is printed with the figures: on a shared machine only the ratios compare.
Figures belong in notes and release notes; nothing here is asserted in tests. Measure with the
grader's modules compiled, as a pip install leaves them: where PYTHONDONTWRITEBYTECODE is set, run
`python -m compileall -q grader reference exercises templates` first, or every run compiles them again.
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
import threading
import time
from pathlib import Path

FIGURES = ("network", "example", "light", "batch", "timing")
BARE = [sys.executable, "-c", "import torch"]
BARE_NAME = 'bare python -c "import torch"'
# A CLI command run so that it leaves the names of the modules it imported in $BENCH_MODULES.
CLI = [sys.executable, "-c", "import atexit, os, sys\n"
       "atexit.register(lambda: open(os.environ['BENCH_MODULES'], 'w').write('\\n'.join(sys.modules)))\n"
       "from grader.cli import main\nsys.argv[0] = 'grade'\nmain()"]
ENV = {**os.environ, "PYTHONWARNINGS": "ignore", "GRADER_PRIVATE_SEED": "bench-floor"}


def tree_memory(pid: int, pss: bool = False) -> tuple[int, int]:
    """(resident bytes, proportional set size in bytes or 0 without `pss`) summed over pid and all its
    descendants (Linux /proc; 0 where unreadable). The RSS sum counts a library's pages once per process
    that maps them; the PSS sum shares them out, so it is what the tree takes from the machine. Reading
    PSS walks every mapping of the process under its memory lock, which slows it down: the timed runs
    read RSS only, and PSS comes from runs of their own."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    rss, pss_total, todo = 0, 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, ()))
        try:
            with open(f"/proc/{p}/statm") as f:
                rss += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            if pss:
                with open(f"/proc/{p}/smaps_rollup") as f:
                    pss_total += next((int(line.split()[1]) * 1024 for line in f if line.startswith("Pss:")), 0)
        except (OSError, ValueError, IndexError):
            pass
    return rss, pss_total


def run(cmd: list[str], env: dict | None = None, sample: bool = False, pss: bool = False) -> dict:
    """Wall seconds, CPU seconds and peak RSS (largest process, bytes) of one command and its children;
    with sample, also the largest sum of RSS over its process tree (and with pss, of PSS)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env or ENV)
    peak_tree, done = [0, 0], threading.Event()

    def sampler():
        while not done.wait(0.05):
            peak_tree[:] = map(max, peak_tree, tree_memory(proc.pid, pss))

    thread = threading.Thread(target=sampler, daemon=True) if sample and sys.platform == "linux" else None
    if thread:
        thread.start()
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    done.set()
    if thread:
        thread.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n{stderr.decode()[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss * 1024,
            "tree": peak_tree[0], "tree_pss": peak_tree[1]}


def notebook_of_solution(path: Path, header: str = "") -> Path:
    """The bundled model solution as one notebook: a markdown title, then one code cell per file."""
    import nbformat
    from nbformat import v4

    from grader.assignment import builtin_dir
    cells = [v4.new_markdown_cell(f"# Práctica{header}")]
    for source in sorted((builtin_dir() / "solution").glob("*.py")):
        cells.append(v4.new_code_cell(source.read_text(encoding="utf-8")))
    nb = v4.new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                               "language": "python"}})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def full_marks(out: Path) -> tuple[float, float]:
    tests = json.loads((out / "results.json").read_text())["tests"]
    score, total = sum(t["score"] for t in tests), sum(t["max_score"] for t in tests)
    if score != total:
        raise SystemExit(f"the model solution lost points ({score}/{total}): the figures would mean nothing")
    return score, total


class Bench:
    def __init__(self, tmp: Path, class_size: int, submission: Path | None):
        self.tmp = tmp
        self.grade = [sys.executable, "-m", "grader.cli"]
        self.sub = submission or notebook_of_solution(tmp / "homework" / "practica.ipynb")
        self.class_dir = tmp / "class"
        for i in range(class_size):  # distinct content, so no two submissions share a cache key
            notebook_of_solution(self.class_dir / f"student_{i:03d}.ipynb", header=f" {i}")
        self.rows: dict[str, list[dict]] = {}
        self.sampled: dict[str, list[str]] = {}  # the commands whose memory is reported
        self.pss: dict[str, int] = {}

    def measure_pss(self) -> None:
        """The peak PSS of each sampled command, from one run of its own (reading PSS slows what it reads)."""
        for name, cmd in self.sampled.items():
            self.pss[name] = run(cmd, sample=True, pss=True)["tree_pss"]

    def add(self, name: str, measured: dict, bare: dict, **extra) -> None:
        self.rows.setdefault(name, []).append({**measured, "bare": bare["wall"],
                                               "ratio": measured["wall"] / bare["wall"], **extra})

    def pair(self, name: str, cmd: list[str], sample: bool = False, check: Path | None = None,
             env: dict | None = None) -> None:
        bare = run(BARE)
        measured = run(cmd, env=env, sample=sample)
        if sample:
            self.sampled[name] = cmd
        if check is not None:
            full_marks(check)
        self.add(name, measured, bare)

    def network(self) -> None:
        out = self.tmp / "out-network"
        command = [*self.grade, str(self.sub), "-e", "network", "--out", str(out), "--no-color"]
        self.pair("grade NOTEBOOK -e network", command, sample=True, check=out)
        # A grade that must train the reference runs itself: the first one after an install or an edit.
        self.pair("  ... reference runs not cached", command, env={**ENV, "GRADER_NO_RUN_CACHE": "1"}, check=out)

    def example(self) -> None:
        out = self.tmp / "out-example"
        self.pair("grade --example", [*self.grade, "--example", "--out", str(out), "--no-color"], sample=True,
                  check=out)

    def timing(self) -> None:
        out = self.tmp / "out-timing"
        self.pair("grade --example -e network --timing", [*self.grade, "--example", "-e", "network", "--timing",
                                                          "--out", str(out), "--no-color"], check=out)

    def light(self) -> None:
        bare = run(BARE)
        work = self.tmp / "light"
        shutil.rmtree(work, ignore_errors=True)
        (work / "repo").mkdir(parents=True)
        modules = work / "modules.txt"
        commands = {"grade list": ["list"], "grade starter": ["starter", "--out", str(work / "kit")],
                    "grade new-exercise": ["new-exercise", "layer_norm_bench", "--dir", str(work), "--force"],
                    "grade init-ci": ["init-ci", "--repo", str(work / "repo"), "--force"],
                    "grade --help": ["--help"]}
        for name, args in commands.items():
            measured = run([*CLI, *args], env={**ENV, "BENCH_MODULES": str(modules)})
            imported = set(modules.read_text().split())
            heavy = sorted(m for m in ("torch", "scipy", "sklearn") if m in imported)
            self.add(name, measured, bare, imports=",".join(heavy) or "-")

    def batch_run(self, jobs: int, exercise: list[str]) -> dict:
        out = self.tmp / f"out-batch-{jobs}-{len(exercise)}"
        cmd = [*self.grade, "batch", str(self.class_dir), "--out", str(out), "-j", str(jobs), "--force", *exercise]
        measured = run(cmd)
        stats = json.loads((out / "batch-run.json").read_text())
        if stats["statuses"] != {"graded": stats["total"]}:
            raise SystemExit(f"batch: not every submission was graded: {stats['statuses']}")
        for row in (out / "gradebook.csv").read_text().splitlines()[1:]:
            cells = row.split(",")
            if cells[1] != cells[2]:
                raise SystemExit(f"batch: {cells[0]} lost points ({cells[1]}/{cells[2]})")
        return {**measured, "steady": stats["steady_per_minute"], "n": stats["total"]}

    def batch(self) -> None:
        for jobs, exercise, name in ((1, ["-e", "network"], "batch -e network -j 1"),
                                     (2, ["-e", "network"], "batch -e network -j 2"),
                                     (2, [], "batch (whole assignment) -j 2")):
            bare = run(BARE)
            measured = self.batch_run(jobs, exercise)
            # As a ratio: seconds per submission in the steady state over the bare import.
            per_sub = 60.0 / measured["steady"] if measured["steady"] else float("nan")
            self.add(name, measured, bare, steady=measured["steady"], per_sub_ratio=per_sub / bare["wall"])


def report(bench: Bench, loads: list[float]) -> None:
    mb = 1024 * 1024
    print(f"\n{'figure':<38}{'median ratio':>13}{'median s':>10}  runs (ratio to the bare import of the pair)")
    for name, rows in bench.rows.items():
        ratios = [r["ratio"] for r in rows]
        line = (f"{name:<38}{statistics.median(ratios):>12.2f}x{statistics.median(r['wall'] for r in rows):>10.2f}"
                f"  {' '.join(f'{x:.2f}' for x in ratios)}")
        if "imports" in rows[0]:
            line += f"   heavy imports: {rows[-1]['imports']}"
        print(line)
    bare = statistics.median(r["bare"] for rows in bench.rows.values() for r in rows)
    print(f"{BARE_NAME:<38}{'':>13}{bare:>10.2f}")
    for name in [n for n in bench.rows if n.startswith("batch")]:
        rows = bench.rows[name]
        steady = statistics.median(r["steady"] for r in rows)
        print(f"{name}: steady state {steady:.1f} submissions/min (runs: "
              f"{', '.join(format(r['steady'], '.0f') for r in rows)}), {statistics.median(r['per_sub_ratio'] for r in rows):.2f}"
              f" bare imports per submission, command {statistics.median(r['wall'] for r in rows):.1f} s "
              f"for {rows[0]['n']}")
    j1, j2 = bench.rows.get("batch -e network -j 1"), bench.rows.get("batch -e network -j 2")
    if j1 and j2:
        speedups = [b["steady"] / a["steady"] for a, b in zip(j1, j2) if a["steady"]]
        print(f"batch -j 2 over -j 1 (steady state): {statistics.median(speedups):.2f}x  (runs: "
              f"{' '.join(f'{s:.2f}' for s in speedups)})")
    for name in ("grade NOTEBOOK -e network", "grade --example"):
        if name in bench.rows:
            rows = bench.rows[name]
            print(f"peak memory, {name}: largest process {statistics.median(r['rss'] for r in rows) / mb:.0f} MB, "
                  f"process tree {statistics.median(r['tree'] for r in rows) / mb:.0f} MB (sum of RSS, median of "
                  f"{len(rows)}; sum of PSS {bench.pss.get(name, 0) / mb:.0f} MB, one run of its own)")
    print(f"load average during the rounds: {', '.join(f'{x:.2f}' for x in loads)} on {os.cpu_count()} CPUs")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=None, help="alternating rounds (default 7; 3 with --quick)")
    parser.add_argument("--class-size", type=int, default=None, help="batch class size (default 20; 10 with --quick)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds and a smaller class")
    parser.add_argument("--only", nargs="+", choices=FIGURES, default=list(FIGURES))
    parser.add_argument("--submission", type=Path, default=None,
                        help="what `network` grades (default: the model solution as a notebook)")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    class_size = args.class_size or (10 if args.quick else 20)
    tmp = Path(tempfile.mkdtemp(prefix="bench-floor-"))
    try:
        bench = Bench(tmp, class_size if "batch" in args.only else 0, args.submission)
        run(BARE), run([*bench.grade, "--example", "-e", "network", "--out", str(tmp / "warm"), "--no-color"])
        loads = []
        for i in range(rounds):
            for figure in args.only:
                getattr(bench, figure)()
            loads.append(os.getloadavg()[0])
            print(f"round {i + 1}/{rounds} done, load average {loads[-1]:.2f}", file=sys.stderr, flush=True)
        bench.measure_pss()
        print(f"bench_floor: {rounds} rounds, python {sys.version.split()[0]}, "
              f"torch {subprocess.run([*BARE[:-1], 'import torch; print(torch.__version__)'], capture_output=True, text=True).stdout.strip()}")
        report(bench, loads)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
