"""The `torch_timing` check (`grade --timing`, information only): the student's own NumPy class against the
student's own PyTorch class, on the CPU and on CUDA, beside PyTorch's reference, on the same workload as
the `timing` check (the NumPy twin's training settings: digits, full batch). The student's NumPy class
runs in the NumPy child, their PyTorch class in the child that may load torch; backends take turns
(grader/timing.py `measure`) and the table is the timing check's, so the report shows it the same way.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict

import numpy as np

from ..data import DataError
from ..results import SKIPPED, CaseResult
from ..spec import Case, TorchModel
from ..timing import (SCHEDULE, STUDENT, TIME_BUDGET_S, BackendFailed, StudentRunner, Timing, Workload,
                      environment, measure, sandbox_blas_threads, torch_backend, torch_threads)
from .base import NotAttempted, SkipCheck, Unavailable, check_kind, nothing_to_replay, run_check
from .model import Instance, make_params
from .torch_module import StudentModule, cuda_available
from .training import training_config, training_data

STUDENT_TORCH = "PyTorch (yours)"


class StudentTorchRunner:
    """The student's nn.Module in its child: one request a run, each step timed there (torch_ops.time_steps)."""

    def __init__(self, module: StudentModule, workload: Workload, X: np.ndarray, labels: np.ndarray, device: str):
        self.module, self.workload, self.X, self.labels, self.device = module, workload, X, labels, device

    def run(self, steps: int) -> float:
        outcome, failure = self.module.act("time_steps", self.X, self.labels, self.workload.learning_rate, steps,
                                           device=self.device)
        if failure:
            raise BackendFailed(failure)
        times = [t for t in (outcome.value or []) if isinstance(t, float) and math.isfinite(t) and t >= 0]
        if len(times) != steps:
            raise BackendFailed("the step timings did not come back")
        return sum(times) / steps


@check_kind("torch_timing", units=(TorchModel,))
def torch_timing(ctx, unit: TorchModel, points: float):
    """Time the student's NumPy class and PyTorch class (CPU, CUDA) beside the reference. Information only."""
    settings = ctx.options.get("timing") if isinstance(ctx.options.get("timing"), dict) else {}

    def body(result):
        if unit.twin is None or ctx.sandbox_for is None:
            raise SkipCheck("no NumPy class to time against")
        numpy_box, errors = ctx.sandbox_for(())
        numpy_ctx = dataclasses.replace(ctx, sandbox=numpy_box, import_errors=errors)
        twin = unit.twin.model
        cfg = training_config(numpy_ctx, twin)
        try:
            data = training_data(cfg)
        except DataError as error:
            raise SkipCheck(f"timing data unavailable: {error}") from None
        threads = int(settings.get("threads") or sandbox_blas_threads(numpy_box))
        X, Y = np.ascontiguousarray(data.X_train, dtype=np.float64), data.Y_train
        dims = {"D": data.features, "H": int(cfg["hidden"]), "C": data.classes, "N": len(X)}
        workload = Workload(data.features, int(cfg["hidden"]), data.classes, len(X), float(cfg["learning_rate"]),
                            steps=int(settings.get("steps", Workload.steps)),
                            runs=int(settings.get("runs", Workload.runs)),
                            warmup=int(settings.get("warmup", Workload.warmup)))
        pairs = []
        numpy_row = Timing(backend=STUDENT, device="cpu (sandbox)", dtype="float64", threads=threads)
        try:
            instance = Instance(numpy_ctx, twin, Case(dims=dims), make_params(twin, dims, ctx.rng("timing")))
            if instance.failure is None:
                pairs.append((numpy_row, StudentRunner(numpy_box, instance.handle, twin.methods["train_step"],
                                                       workload, X, Y, ctx.output)))
            else:
                numpy_row.status, numpy_row.note = "failed", instance.failure
        except (NotAttempted, Unavailable) as why:
            numpy_row.status, numpy_row.note = "skipped", str(why)
        module = StudentModule(ctx, unit, {unit.init_args[k]: v for k, v in
                                           zip(unit.init_args, (dims["D"], dims["H"], dims["C"]))})
        devices = tuple(settings.get("devices") or ("cpu", "cuda"))
        rows = [numpy_row]
        for device in devices:
            row = Timing(backend=STUDENT_TORCH + (" CUDA" if device == "cuda" else " CPU"), device=device,
                         dtype="float32", threads=threads if device == "cpu" else None)
            rows.append(row)
            if module.failure is not None:
                row.status, row.note = "failed", module.failure
            elif device == "cuda" and not cuda_available(ctx.sandbox):
                row.status, row.note = "skipped", "skipped: no CUDA device in the student's process"
            else:
                pairs.append((row, StudentTorchRunner(module, workload, X.astype(np.float32), data.y_train, device)))
        for device in devices:
            timing, runner = torch_backend(dataclasses.replace(workload, dtype="float32"), device,
                                           X.astype(np.float32), data.y_train, threads)
            rows.append(timing)
            if runner is not None:
                pairs.append((timing, runner))
        with torch_threads(threads):
            measure(pairs, workload, float(settings.get("time_budget_s", TIME_BUDGET_S)))
        result.extra["timing"] = {
            "workload": {**asdict(workload), "data": data.describe()},
            "backends": [b.summary() for b in rows],
            "environment": environment(ctx.seed, threads, threads, {"schedule": SCHEDULE}),
        }
        for b in rows:
            text = (f"{b.median * 1e3:.3g} ms per step" if b.status == "ok" and b.median is not None
                    else f"{b.status}: {b.note}")
            result.cases.append(CaseResult(label=f"{b.backend} [{b.device}, {b.dtype}]", passed=True, message=text))
        result.message = "Information only, no points. " + " · ".join(
            f"{b.backend} {b.device}: " + (f"{b.median * 1e3:.3g} ms/step" if b.status == "ok" and b.median
                                           else b.status) for b in rows)
        if all(b.status != "ok" for b in rows[:1 + len(devices)]):
            result.status = SKIPPED

    return run_check(ctx, "torch_timing", unit, ctx.student_name(unit.class_name), points, body,
                     ctx.location(unit.class_name))


torch_timing.replays(nothing_to_replay)  # information only, 0 points: nothing to compare
