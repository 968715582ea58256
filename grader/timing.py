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

Timings are information, never points: the check has max_score 0.
"""
from __future__ import annotations

import base64
import io
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

from .i18n import _
from .sandbox.heap import keep_freed_memory

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
    timing = torch_timing(workload, device, threads)
    if timing.status != "ok":
        return timing
    if X is None or labels is None:
        X, labels = synthetic_batch(workload, seed)
    timing.heap = keep_freed_memory()
    with torch_threads(threads):
        try:
            runner = TorchRunner(workload, torch.device(device), X, labels, seed)
        except RuntimeError as error:
            timing.status, timing.note = "failed", failure_note(error)
            return timing
        measure([(timing, runner)], workload)
    return timing


def torch_timing(workload: Workload, device: str, threads: int | None) -> Timing:
    """The empty row of a PyTorch backend; "skipped" already when it names CUDA and there is none."""
    dev = torch.device(device)
    timing = Timing(backend="PyTorch CUDA" if dev.type == "cuda" else "PyTorch CPU", device=str(dev),
                    dtype=workload.dtype, threads=threads if dev.type == "cpu" else None)
    if dev.type == "cuda" and not cuda_available():
        timing.status, timing.note = "skipped", NO_CUDA
    return timing


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
    for key in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        try:
            return max(1, int(env[key]))
        except (KeyError, ValueError):
            continue
    return os.cpu_count() or 1


# ------------------------------------------------------------------------------- the check


def timing_check(ctx, model, points: float):
    """Check kind `model_timing` (registered in grader/checks/training.py); max_score is the points given (0)."""
    from .checks.base import NotAttempted, Unavailable, run_check
    from .checks.model import Instance, make_params
    from .checks.training import training_config
    from .data import DataError, load_dataset
    from .results import ERROR, SKIPPED, CaseResult
    from .spec import Case

    method = model.methods.get("train_step", "train_step")
    settings = ctx.options.get("timing") if isinstance(ctx.options.get("timing"), dict) else {}

    def body(result):
        cfg = training_config(ctx, model)
        try:
            data = load_dataset(cfg["dataset"], cfg["data_dir"], cfg["train_size"], cfg["test_size"])
        except DataError as error:
            result.status, result.message = ERROR, f"timing data unavailable: {error}"
            return
        threads = int(settings.get("threads") or sandbox_blas_threads(ctx.sandbox))
        X, Y = np.ascontiguousarray(data.X_train, dtype=np.float64), data.Y_train
        dims = {"D": data.features, "H": int(cfg["hidden"]), "C": data.classes, "N": len(X)}
        params = make_params(model, dims, ctx.rng(model.class_name, "timing"))
        workload = Workload(data.features, int(cfg["hidden"]), data.classes, len(X), float(cfg["learning_rate"]),
                            steps=int(settings.get("steps", Workload.steps)),
                            runs=int(settings.get("runs", Workload.runs)),
                            warmup=int(settings.get("warmup", Workload.warmup)))
        student = Timing(backend=STUDENT, device="cpu (sandbox)", dtype="float64", threads=threads)
        devices = tuple(settings.get("devices") or ("cpu", "cuda"))
        instance = None
        try:
            instance = Instance(ctx, model, Case(dims=dims), params)
            if instance.failure is not None:
                student.status, student.note = "failed", instance.failure
            else:
                student.dtype = workload.dtype = str(np.dtype(instance.dtype))
        except (NotAttempted, Unavailable) as why:
            student.status, student.note = "skipped", str(why)
        backends = [student] + [torch_timing(workload, device, threads) for device in devices]
        runner = None
        if student.status == "ok":
            runner = StudentRunner(ctx.sandbox, instance.handle, method, workload, X, Y, ctx.output)
        pairs = [(student, runner)] if runner else []
        heap = keep_freed_memory()
        with torch_threads(threads):
            for timing, device in zip(backends[1:], devices):
                if timing.status == "ok":
                    timing.heap = heap
                    try:
                        pairs.append((timing, TorchRunner(workload, torch.device(device), X, data.y_train)))
                    except RuntimeError as error:
                        timing.status, timing.note = "failed", failure_note(error)
            measure(pairs, workload, float(settings.get("time_budget_s", TIME_BUDGET_S)))
        if runner is not None:
            runner.annotate(student)
        if instance is not None and instance.handle is not None:
            ctx.sandbox.drop(instance.handle)
        sweep = None
        if settings.get("sweep", True):  # PyTorch only: it runs after the student's code is done
            sweep = scaling_sweep(devices, threads=threads, **{k: settings[k] for k in (
                "widths", "batches", "base_width", "base_batch", "budget_s") if k in settings})
        result.extra["timing"] = {
            "workload": {**asdict(workload), "data": data.describe()},
            "backends": [b.summary() for b in backends],
            "sweep": sweep,
            "environment": environment(ctx.seed, threads, threads, {
                "weights": f"He-style, from the grading seed ({ctx.exercise.id}/{model.class_name}/timing)",
                "torch_seed": 0, "sweep_data_seed": 0, "schedule": SCHEDULE,
                "heap": "; ".join(f"{b.backend}: {b.heap}" for b in backends if b.heap)}),
        }
        for b in backends:
            if b.status == "ok":
                text = f"{b.median * 1e3:.3g} ms per step (min {min(b.run_s) * 1e3:.3g}, max {max(b.run_s) * 1e3:.3g})"
            else:
                text = b.note if b.status == "skipped" and b.note.startswith("skipped") else f"{b.status}: {b.note}"
            result.cases.append(CaseResult(label=f"{b.backend} [{b.device}, {b.dtype}]", passed=True, message=text))
        result.message = "Information only, no points. " + " · ".join(
            f"{b.backend}: " + (f"{b.median * 1e3:.3g} ms/step" if b.status == "ok" else
                                (b.note if b.note.startswith("skipped") else b.status)) for b in backends)
        if student.status != "ok":
            result.status = SKIPPED
            result.message += f" (your code was not timed: {student.note})"

    return run_check(ctx, "timing", model, f"{ctx.student_name(model.class_name)}.{method}", points, body,
                     ctx.location(model.class_name, method))


# ------------------------------------------------------------------------------- report pictures


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(width, height), dpi=96)
    FigureCanvasAgg(fig)
    return fig


def _curves_figure(curves: dict):
    phases = [(k, v) for k, v in curves.items() if v.get("reference")]
    if not phases:
        return None
    fig = _figure(4.2 * len(phases), 3.2)
    for i, (key, curve) in enumerate(phases):
        ax = fig.add_subplot(1, len(phases), i + 1)
        ref = [math.nan if v is None else v for v in curve["reference"]]
        ax.plot(range(len(ref)), ref, label=_("reference (PyTorch)"), color="#1f77b4", linewidth=2)
        student = [math.nan if v is None else v for v in curve.get("student") or []]
        at = list(curve.get("student_steps") or range(len(student)))[:len(student)]
        if student:
            ax.plot(at, student, label=_("yours"), color="#ff7f0e", linestyle="--", marker="." if
                    len(at) < len(ref) // 2 else None)
            finite = [(t, v) for t, v in zip(at, student) if math.isfinite(v)]
            if at[-1] < len(ref) - 1 and finite:  # the run stopped (diverged or failed) here
                ax.plot([finite[-1][0]], [finite[-1][1]], marker="x", color="#d62728", markersize=10,
                        label=_("stopped at step {step}").format(step=at[-1]))
        ax.set_yscale("log")
        ax.set_xlabel(_("step"))
        ax.set_ylabel(_("training loss"))
        ax.set_title(key)
        ax.legend(fontsize=8)
    return fig


def _timing_figure(backends: list[dict]):
    ok = [b for b in backends if b.get("median_s")]
    if not ok:
        return None
    fig = _figure(5.0, 0.6 + 0.55 * len(ok))
    ax = fig.add_subplot()
    med = [b["median_s"] * 1e3 for b in ok]
    lo = [m - b["min_s"] * 1e3 for m, b in zip(med, ok)]
    hi = [b["max_s"] * 1e3 - m for m, b in zip(med, ok)]
    ax.barh(range(len(ok)), med, xerr=[lo, hi], color="#4c72b0", capsize=4)
    ax.set_yticks(range(len(ok)), [b["backend"] for b in ok])
    ax.invert_yaxis()
    ax.set_xlabel("ms per train step (median; bars: min-max over runs)")
    skipped = [f"{b['backend']}: {b['note']}" for b in backends if not b.get("median_s")]
    if skipped:
        ax.set_title("; ".join(skipped), fontsize=8)
    return fig


def _sweep_figure(sweep: dict):
    if not sweep or not sweep.get("points"):
        return None
    devices = [d for d in sweep.get("devices", {}) if any(p.get(d) for p in sweep["points"])]
    if not devices:
        return None
    fig = _figure(8.4, 3.2)
    for i, axis in enumerate(("hidden", "batch")):
        ax = fig.add_subplot(1, 2, i + 1)
        for device in devices:
            pts = [(p[axis], p[device] * 1e3) for p in sweep["points"] if p["axis"] == axis and p.get(device)]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=f"PyTorch {device}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("hidden width" if axis == "hidden" else "batch size")
        ax.set_ylabel("ms per train step")
        skipped = [f"{d}: {note}" for d, note in sweep.get("devices", {}).items() if d not in devices]
        if skipped:
            ax.set_title("; ".join(skipped), fontsize=8)
        if ax.get_lines():
            ax.legend(fontsize=8)
    return fig


def figures(check) -> list[tuple[str, str]]:
    """(caption, PNG data URI) pictures of a check's extra data, for the HTML report. Never raises:
    without matplotlib, or if drawing fails, the report simply has no pictures."""
    extra = getattr(check, "extra", None) or {}
    wanted = extra.get("timing") or (extra.get("curves") and (getattr(check, "status", "") != "passed"
                                                               or extra.get("plot_curves")))
    if not wanted:
        return []
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return []
    out = []
    builders = []
    # Loss curves cost matplotlib (~1 s) on every grade: drawn when the check failed, or when asked for
    # (`timing` or `plots` on), otherwise the table of final losses and accuracies says it.
    if extra.get("curves") and (getattr(check, "status", "") != "passed" or extra.get("plot_curves")):
        builders.append((_("Training loss after each step: yours and the PyTorch reference's, from the same "
                           "weights on the same batches."), lambda: _curves_figure(extra["curves"])))
    timing = extra.get("timing") or {}
    if timing.get("backends"):
        builders.append(("Time per train step of the same workload, per backend (median of the runs; bars "
                         "span the fastest and slowest run).", lambda: _timing_figure(timing["backends"])))
    if timing.get("sweep"):
        builders.append(("PyTorch time per step as the hidden width and the batch size grow, CPU and CUDA.",
                         lambda: _sweep_figure(timing["sweep"])))
    for caption, build in builders:
        try:
            fig = build()
            if fig is not None:
                out.append((caption, _png(fig)))
        except Exception:  # noqa: BLE001 - see docstring
            continue
    return out


def _ms(x) -> str:
    return "—" if x is None else f"{x * 1e3:.3g}"


def tables(check) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) tables of a check's extra data, for the HTML report (strings only)."""
    extra = getattr(check, "extra", None) or {}
    out = []
    curves = extra.get("curves") or {}
    if curves:
        rows = []
        for key, c in curves.items():
            ref, stu = c.get("reference") or [], c.get("student") or []
            last = (c.get("student_steps") or [len(stu) - 1])[-1]
            acc = c.get("student_accuracy")
            rows.append([key, str(c.get("steps", "")),
                         "—" if not ref or ref[-1] is None else f"{ref[-1]:.4g}",
                         "—" if not stu or stu[-1] is None else f"{stu[-1]:.4g}" + (
                             "" if last == len(ref) - 1 else " " + _("(stopped at step {step})").format(step=last)),
                         "—" if c.get("reference_accuracy") is None else f"{c['reference_accuracy']:.2%}",
                         "—" if acc is None else f"{acc:.2%}"])
        header = [_("run"), _("steps"), _("final loss (reference)"), _("final loss (yours)"),
                  _("test accuracy (reference)"), _("test accuracy (yours)")]
        out.append((_("Training runs"), header, rows))
    timing = extra.get("timing") or {}
    if timing.get("backends"):
        rows = [[b["backend"], b["device"], b["dtype"], "—" if b.get("threads") is None else str(b["threads"]),
                 _ms(b.get("min_s")), _ms(b.get("median_s")), _ms(b.get("max_s")),
                 b["note"] if b["status"] != "ok" else (b.get("note") or "")] for b in timing["backends"]]
        w = timing.get("workload", {})
        out.append((f"Time per train step, ms ({w.get('data', '')}; hidden {w.get('hidden')}, batch {w.get('batch')}, "
                    f"{w.get('warmup')} warm-up + {w.get('runs')} timed rounds of {w.get('steps')} steps, backends taking turns)",
                    ["backend", "device", "dtype", "threads", "min", "median", "max", "note"], rows))
    sweep = timing.get("sweep")
    if sweep and sweep.get("points"):
        devices = list(sweep.get("devices", {}))
        rows = [[p["axis"], str(p["hidden"]), str(p["batch"])] + [_ms(p.get(d)) for d in devices]
                for p in sweep["points"]]
        title = f"Scaling sweep, ms per step ({sweep.get('dtype')}, {sweep.get('threads')} CPU threads). " + \
            " ".join(f"{axis}: {text}." for axis, text in sweep.get("crossover", {}).items())
        out.append((title, ["varies", "hidden", "batch"] + [f"PyTorch {d}" for d in devices], rows))
    env = timing.get("environment")
    if env:
        out.append(("Reproducibility", ["what", "value"], [[k, "—" if v is None else str(v)] for k, v in env.items()]))
    return out
