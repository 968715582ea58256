"""Timing of the training workload (opt-in: `grade --timing`, or `timing = true` in the assignment).

The same workload - full-batch train steps of the two-layer network on the training data - is timed
three ways:

- the student's NumPy code, timed *inside* the child around each train_step call (the sandbox's
  `repeat` call: one request runs the method `steps` times and reports each call's duration, so the
  transfer of the batch is not counted; the parent checks the reported times against the wall time
  of the call, since the child is not trusted);
- PyTorch on the CPU, with as many threads as the child's BLAS has (the sandbox pins it, 1 by
  default) - torch.set_num_threads for the duration, restored afterwards;
- PyTorch on CUDA when a device is there (else the row says "skipped: no CUDA device").

The backends take turns: each round runs every backend once for `steps` steps, `warmup` rounds are
untimed, and the table shows the min / median / max over the `runs` timed rounds of each backend's time
per step (a run's mean; GPU work is bracketed by torch.cuda.synchronize). Taking turns spreads each
backend's runs over the whole measurement, so a slow spell of the machine touches a few runs of every
backend instead of all of one. Both processes time under the same heap policy (sandbox/heap.py: glibc
keeps freed memory), without which the student's steps alternated between 0.82 and 1.15 ms with where
the allocator happened to put the batch; benchmarks/bench_timing.py measures how well repeated medians
agree. A scaling sweep over hidden width and batch size times PyTorch on CPU and CUDA to show where the
GPU overtakes. Every code path takes a `device`, so the CUDA path is the CPU path with another device
string and is exercised by the tests with device="cpu".

Timings are information, never points: the check (grader/checks/timing.py) has max_score 0. Its
pictures and tables are drawn by grader/report/training_figures.py.
"""
from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from .sandbox.heap import keep_freed_memory
from .sandbox.limits import BLAS_THREAD_VARIABLES

NO_CUDA = "skipped: no CUDA device"
STUDENT = "NumPy (yours)"
SWEEP_WIDTHS = (64, 256, 1024, 4096)
SWEEP_BATCHES = (64, 512, 4096)
SWEEP_BASE_WIDTH = 256  # hidden width while the batch size varies
SWEEP_BASE_BATCH = 1024  # batch size while the width varies
SWEEP_BUDGET_S = 30.0  # stop sweeping a device once it has taken this long
TIME_BUDGET_S = 10.0  # fewer timed rounds (at least 3) when a slow submission would take longer
SCHEDULE = "rounds: each backend runs once per round, warm-up rounds untimed; median over the timed rounds"


@contextmanager
def torch_threads(n: int | None):
    """torch.set_num_threads(n) for the block, restored afterwards (n=None: leave as is)."""
    if not n:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


@dataclass
class Workload:
    features: int
    hidden: int
    classes: int
    batch: int
    learning_rate: float = 0.5
    dtype: str = "float64"
    steps: int = 20  # train steps per timed run
    runs: int = 21  # timed runs; the median is reported (bench_timing.py: 5 runs were not enough)
    warmup: int = 2  # untimed runs first (allocator, caches, CUDA kernels and context)


@dataclass
class Timing:
    backend: str  # "NumPy (yours)", "PyTorch CPU", "PyTorch CUDA"
    device: str
    dtype: str
    threads: int | None = None
    status: str = "ok"  # ok | skipped | failed
    note: str = ""
    run_s: list[float] = field(default_factory=list)  # time per step of each timed run (seconds)
    heap: str = ""  # the heap policy it was timed under (grader/sandbox/heap.py)

    @property
    def median(self) -> float | None:
        return statistics.median(self.run_s) if self.run_s else None

    def summary(self) -> dict:
        d = asdict(self)
        if self.run_s:
            d.update(min_s=min(self.run_s), median_s=self.median, max_s=max(self.run_s),
                     spread=(max(self.run_s) - min(self.run_s)) / self.median if self.median else None)
        return d


def cuda_available() -> bool:
    try:
        return torch.cuda.is_available()
    except Exception:  # noqa: BLE001 - a broken driver is "no device", not a crash
        return False


def synchronizer(device: torch.device):
    """A function that waits for queued work on `device` (a no-op on the CPU)."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


def synthetic_batch(workload: Workload, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (batch, features) and labels for sizes no data set has (the scaling sweep)."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(workload.batch, workload.features)), rng.integers(0, workload.classes, workload.batch)


class BackendFailed(Exception):
    """A backend cannot go on (its call failed, the device ran out of memory): the note says why."""


def failure_note(error: Exception) -> str:
    """The row's note for a backend that failed: a device's RuntimeError (out of memory, a driver error)
    with its type, a student's call failure as the sandbox put it."""
    text = str(error)[:300]
    return text if isinstance(error, BackendFailed) else f"{type(error).__name__}: {text}"


class TorchRunner:
    """Train steps of the reference nn.Module on one device. Same code for "cpu" and "cuda"."""

    def __init__(self, workload: Workload, device: torch.device, X: np.ndarray, labels: np.ndarray, seed: int = 0):
        from grader.reference.network import TwoLayerNet, sgd, train_step

        dtype = getattr(torch, workload.dtype)
        torch.manual_seed(seed)
        self.net = TwoLayerNet(workload.features, workload.hidden, workload.classes, dtype=dtype, device=device)
        self.optimizer, self.train_step = sgd(self.net, workload.learning_rate), train_step
        self.X = torch.as_tensor(np.asarray(X), dtype=dtype).to(device)
        self.y = torch.as_tensor(np.asarray(labels), dtype=torch.int64).to(device)
        self.sync = synchronizer(device)

    def run(self, steps: int) -> float:
        """Seconds per step over `steps` steps, queued GPU work included."""
        self.sync()
        t0 = time.perf_counter()
        for _step in range(steps):
            self.train_step(self.net, self.optimizer, self.X, self.y)
        self.sync()
        return (time.perf_counter() - t0) / steps


class StudentRunner:
    """The student's train_step in the child: one `repeat` request a run, each step timed there.

    The child's numbers are checked against the parent's wall clock of the same request: a run whose
    reported total exceeds what the request took is replaced by that wall time (an upper bound).
    """

    def __init__(self, sandbox, handle, method: str, workload: Workload, X: np.ndarray, Y: np.ndarray,
                 output: list | None = None):
        self.sandbox, self.handle, self.method, self.workload = sandbox, handle, method, workload
        self.X, self.Y, self.output = X, Y, output
        self.heap, self.notes = "", []

    def run(self, steps: int) -> float:
        outcome = self.sandbox.call(self.method, self.X, self.Y, self.workload.learning_rate, obj=self.handle,
                                    return_args=False, repeat=steps)
        if self.output is not None and outcome.output:
            self.output.append(outcome.output)
        if not outcome.ok:
            raise BackendFailed(outcome.error.message if outcome.error else "the call failed")
        self.heap = outcome.heap or "unchanged (the child did not say)"
        times = [t for t in outcome.times if math.isfinite(t) and t >= 0]
        total = sum(times)
        if len(times) != steps or total > outcome.wall_s * 1.01 + 1e-3:
            total = outcome.wall_s
            self.notes.append("child timings missing or inconsistent: the call's wall time was used")
        return total / steps

    def annotate(self, timing: Timing) -> None:
        """Put what the runs found out (heap policy, substituted timings) on the student's row."""
        timing.heap = self.heap
        timing.note = timing.note or "; ".join(dict.fromkeys(self.notes))


def measure(backends: list[tuple[Timing, object]], workload: Workload, budget_s: float | None = None) -> None:
    """Time every backend's runner, interleaved: each round runs every backend once, so a slow spell of
    the machine (another process, a noisy neighbour of the virtual machine) lands on all of them and on
    a minority of each one's runs, and the medians stay put. `warmup` rounds first, untimed. With
    `budget_s`, the timed rounds are cut (to no fewer than 3) when the warm-up shows they would take
    longer; workload.runs then says how many ran. A failing backend is marked and dropped."""
    active = list(backends)

    def one_round(record: bool) -> None:
        for pair in list(active):
            timing, runner = pair
            try:
                per_step = runner.run(workload.steps)
            except (BackendFailed, RuntimeError) as error:
                timing.status, timing.note = "failed", failure_note(error)
                timing.run_s.clear()
                active.remove(pair)
                continue
            if record:
                timing.run_s.append(per_step)

    started = time.perf_counter()
    for _ in range(workload.warmup):
        one_round(record=False)
    if budget_s and workload.warmup and active:
        per_round = (time.perf_counter() - started) / workload.warmup
        workload.runs = max(min(workload.runs, 3), min(workload.runs, int(budget_s / max(per_round, 1e-9))))
    for _ in range(workload.runs):
        one_round(record=True)


def time_torch(workload: Workload, device: str = "cpu", X: np.ndarray | None = None,
               labels: np.ndarray | None = None, threads: int | None = None, seed: int = 0) -> Timing:
    """Time train steps of the reference nn.Module on `device` alone (the scaling sweep, and tests)."""
    if X is None or labels is None:
        X, labels = synthetic_batch(workload, seed)
    timing, runner = torch_backend(workload, device, X, labels, threads, seed)
    if runner is not None:
        with torch_threads(threads):
            measure([(timing, runner)], workload)
    return timing


def torch_backend(workload: Workload, device: str, X: np.ndarray, labels: np.ndarray, threads: int | None,
                  seed: int = 0) -> tuple[Timing, TorchRunner | None]:
    """A PyTorch backend's row and its runner, or no runner when the row is already settled: "skipped"
    for CUDA without a device, "failed" when setting it up on the device raised (out of memory, a driver
    error)."""
    dev = torch.device(device)
    timing = Timing(backend="PyTorch CUDA" if dev.type == "cuda" else "PyTorch CPU", device=str(dev),
                    dtype=workload.dtype, threads=threads if dev.type == "cpu" else None)
    if dev.type == "cuda" and not cuda_available():
        timing.status, timing.note = "skipped", NO_CUDA
        return timing, None
    timing.heap = keep_freed_memory()
    try:
        return timing, TorchRunner(workload, dev, X, labels, seed)
    except RuntimeError as error:
        timing.status, timing.note = "failed", failure_note(error)
        return timing, None


def time_student(sandbox, handle, method: str, workload: Workload, X: np.ndarray, Y: np.ndarray,
                 threads: int | None = None, output: list | None = None) -> Timing:
    """Time the student's train_step alone (tests; the check times it together with PyTorch)."""
    timing = Timing(backend=STUDENT, device="cpu (sandbox)", dtype=workload.dtype, threads=threads)
    runner = StudentRunner(sandbox, handle, method, workload, X, Y, output)
    measure([(timing, runner)], workload)
    runner.annotate(timing)
    return timing


def scaling_sweep(devices=("cpu", "cuda"), widths=SWEEP_WIDTHS, batches=SWEEP_BATCHES,
                  base_width: int = SWEEP_BASE_WIDTH, base_batch: int = SWEEP_BASE_BATCH, features: int = 64,
                  classes: int = 10, dtype: str = "float32", threads: int | None = None, steps: int = 5,
                  runs: int = 3, warmup: int = 1, budget_s: float = SWEEP_BUDGET_S) -> dict:
    """PyTorch time per step over hidden width (batch fixed) and batch size (width fixed), per device.

    Returns {"points": [{"axis", "hidden", "batch", "<device>": median seconds or None}...],
    "devices": {device: status note}, "crossover": {axis: text}}.
    """
    points = [("hidden", w, base_batch) for w in widths] + [("batch", base_width, b) for b in batches]
    rows = [{"axis": axis, "hidden": h, "batch": b} for axis, h, b in points]
    notes = {}
    for device in devices:
        kind = torch.device(device).type
        if kind == "cuda" and not cuda_available():
            notes[device] = NO_CUDA
            for row in rows:
                row[device] = None
            continue
        started, notes[device] = time.perf_counter(), "ok"
        for row in rows:
            if time.perf_counter() - started > budget_s:
                row[device], notes[device] = None, f"stopped after {budget_s:g} s"
                continue
            w = Workload(features, row["hidden"], classes, row["batch"], dtype=dtype, steps=steps, runs=runs,
                         warmup=warmup)
            t = time_torch(w, device, threads=threads)
            row[device] = t.median if t.status == "ok" else None
            if t.status != "ok":
                notes[device] = t.note
    crossover = {}
    if len(devices) > 1:
        cpu, gpu = devices[0], devices[1]
        for axis in ("hidden", "batch"):
            first = next((r for r in rows if r["axis"] == axis and r.get(cpu) and r.get(gpu)
                          and r[gpu] < r[cpu]), None)
            if any(r.get(gpu) for r in rows if r["axis"] == axis):
                crossover[axis] = (f"{gpu} is faster from {axis} = {first[axis]}" if first
                                   else f"{cpu} is faster over the whole sweep")
            else:
                crossover[axis] = f"{gpu}: {notes.get(gpu, 'not timed')}"
    return {"points": rows, "devices": notes, "crossover": crossover, "dtype": dtype, "threads": threads,
            "steps": steps, "runs": runs}


# ------------------------------------------------------------------------------- reproducibility


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        from importlib.metadata import version
        return version(dist)
    except Exception:  # noqa: BLE001
        return None


def environment(seed: int | None = None, blas_threads: int | None = None, torch_threads_used: int | None = None,
                extra: dict | None = None) -> dict:
    """Everything needed to reproduce (and interpret) a timing."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001 - older NumPy
        blas = None
    gpu = None
    if cuda_available():
        try:
            gpu = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        except Exception:  # noqa: BLE001
            gpu = "unknown"
    try:
        cudnn = torch.backends.cudnn.version() if cuda_available() else None
    except Exception:  # noqa: BLE001
        cudnn = None
    record = {
        "seed": seed,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "blas": blas,
        "blas_threads_numpy": blas_threads,
        "torch": torch.__version__,
        "torch_threads": torch_threads_used,
        "torch_cuda": torch.version.cuda,
        "cudnn": cudnn,
        "gpu": gpu or "none",
        "torchvision": _version("torchvision"),
        "scikit-learn": _version("scikit-learn"),
    }
    record.update(extra or {})
    return record


def sandbox_blas_threads(sandbox) -> int:
    """The BLAS thread count the child runs with (the sandbox sets it in the child's environment)."""
    env = getattr(sandbox, "env", None) or os.environ
    for key in BLAS_THREAD_VARIABLES:
        try:
            return max(1, int(env[key]))
        except (KeyError, ValueError):
            continue
    return os.cpu_count() or 1
