"""The `timing` check: the training workload timed three ways, for information (0 points).

How it measures is grader/timing.py's; this module builds the workload from the `network` exercise's
training settings, times the student's instance beside the PyTorch reference, and records the tables'
data and the reproducibility record in the check's extra data (pictures: grader/report/training_figures.py).
"""
from __future__ import annotations

from dataclasses import asdict

import numpy as np

from ..data import DataError
from ..results import ERROR, SKIPPED, CaseResult
from ..spec import Case, Model
from ..timing import (SCHEDULE, STUDENT, TIME_BUDGET_S, StudentRunner, Timing, Workload, environment, measure,
                      sandbox_blas_threads, scaling_sweep, torch_backend, torch_threads)
from .base import NotAttempted, Unavailable, check_kind, nothing_to_replay, run_check
from .model import Instance, make_params
from .training import training_config, training_data


@check_kind("timing", units=(Model,))
def model_timing(ctx, model: Model, points: float):
    """Time the training workload: the student's NumPy code, PyTorch on the CPU and on CUDA. Opt-in
    (`grade --timing`, or `timing` in the assignment); information only, max_score is `points` (0)."""
    method = model.methods.get("train_step", "train_step")
    settings = ctx.options.get("timing") if isinstance(ctx.options.get("timing"), dict) else {}

    def body(result):
        cfg = training_config(ctx, model)
        try:
            data = training_data(cfg)
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
        runner = None
        if student.status == "ok":
            runner = StudentRunner(ctx.sandbox, instance.handle, method, workload, X, Y, ctx.output)
        pairs = [(student, runner)] + [torch_backend(workload, device, X, data.y_train, threads)
                                       for device in devices]
        backends = [timing for timing, _runner in pairs]
        with torch_threads(threads):
            measure([pair for pair in pairs if pair[1] is not None], workload,
                    float(settings.get("time_budget_s", TIME_BUDGET_S)))
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
            # No seed: the grading seed may be the private one, and this table is in the student's report.
            "environment": environment(None, threads, threads, {
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


model_timing.replays(nothing_to_replay)  # information only, 0 points: nothing to compare
