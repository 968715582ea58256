"""The student's side of the training check (grader/checks/training.py): its configuration, the batches,
and the run of the student's network in the child, chunk by chunk.

NumPy only: the engine runs the student's training here while the grader is still importing PyTorch
(grader/ahead.py), on the other core. What the run records is only the student's parameters after each
chunk of steps; every loss, and every comparison with the reference, is computed by the check afterwards.
"""
from __future__ import annotations

import functools
import time

import numpy as np

from .ahead import ahead
from .context import outcome_failure
from .data import DataError, load_dataset
from .i18n import _
from .model_instance import Instance, make_params
from .spec import Case, Model

DEFAULTS = {
    "dataset": "digits",
    "hidden": 64,
    "learning_rate": 0.5,
    "full_batch_steps": 100,
    "batch_size": 32,
    "minibatch_steps": 90,  # two epochs of 32 on digits' 1437 training images
    "train_size": None,
    "test_size": None,
    "accuracy_margin": 0.01,  # the student's test accuracy must reach the reference's minus this
    "divergence_factor": 2.0,
    "every": 5,  # full-batch steps per child call (the batch crosses the pipe once per call)
}
# Sizes that keep a check on the larger data sets fast; the instructor may raise them.
DATASET_DEFAULTS = {
    "mnist": {"train_size": 2000, "test_size": 1000, "learning_rate": 0.05},
    "cifar10": {"train_size": 2000, "test_size": 1000, "learning_rate": 0.01},
}


def training_config(ctx, model: Model) -> dict:
    """Defaults < the exercise's Model.training < the data set's defaults when the assignment picks another
    data set than the exercise's (`dataset` option, --dataset) < the assignment's [training] table."""
    options = dict(ctx.options.get("training") or {})
    pinned = model.training.get("dataset") or DEFAULTS["dataset"]
    dataset = str(options.get("dataset") or ctx.options.get("dataset") or pinned).lower()
    switched = DATASET_DEFAULTS.get(dataset, {}) if dataset != pinned else {}
    cfg = {**DEFAULTS, **model.training, **switched, **options}
    cfg["dataset"] = dataset
    cfg["data_dir"] = options.get("data_dir") or ctx.options.get("data_dir")
    return cfg


def training_data(cfg: dict):
    """The data set a training configuration names (training_config), at its sizes; raises DataError."""
    return load_dataset(cfg["dataset"], cfg["data_dir"], cfg["train_size"], cfg["test_size"])


def batch_schedule(n: int, batch_size: int | None, steps: int, rng) -> list[np.ndarray | None]:
    """Index arrays for each step: None (the full batch), or consecutive slices of a fresh
    permutation per epoch (the last batch of an epoch may be smaller)."""
    if not batch_size or batch_size >= n:
        return [None] * steps
    out: list[np.ndarray | None] = []
    while len(out) < steps:
        order = rng.permutation(n)
        out.extend(order[i:i + batch_size] for i in range(0, n, batch_size))
    return out[:steps]


def onehot(labels: np.ndarray, classes: int) -> np.ndarray:
    return np.eye(classes)[labels]


def read_params(instance, model: Model, shapes: dict, step: int, values: dict | None = None,
                failure: str | None = None) -> tuple[dict | None, str | None]:
    """The student's parameters as float64 arrays in the grader's shapes, or why they are unusable: read
    from the child now, or from `values` read already (a call's read_after)."""
    if values is None and failure is None:
        values, failure = instance.params()
    if failure:
        return None, _("reading the parameters after step {step} failed: {error}").format(step=step, error=failure)
    out = {}
    for name in model.params:
        v = values.get(name)
        try:
            arr = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        n = int(np.prod(shapes[name]))
        if not isinstance(v, np.ndarray) or arr is None or arr.size != n:
            got = f"shape {v.shape}" if isinstance(v, np.ndarray) else type(v).__name__
            return None, _("after step {step}, self.{name} is {got}; expected an array of {n} numbers.").format(
                step=step, name=name, got=got, n=n)
        out[name] = arr.reshape(shapes[name])
    return out, None


def chunk_sizes(schedule, every: int) -> list[int]:
    """Steps between two reads of the parameters: the first step alone (its direction is compared),
    then `every` steps (StudentRun.chunk runs a chunk and reads the parameters in one request)."""
    sizes, step = [], 0
    while step < len(schedule):
        n = 1 if step == 0 else min(every, len(schedule) - step)
        sizes.append(n)
        step += n
    return sizes


def training_plans(ctx, model: Model, cfg: dict, data) -> tuple[dict, list[tuple[str, str, list]]]:
    """The starting parameters and the runs, (label, key, batch schedule): full-batch, then mini-batch."""
    rng = ctx.rng(model.class_name, "training")
    params = make_params(model, {"D": data.features, "H": int(cfg["hidden"]), "C": data.classes}, rng)
    n = len(data.y_train)
    plans = []
    if cfg["full_batch_steps"]:
        plans.append((_("full-batch: {k} steps on {data}").format(k=cfg["full_batch_steps"], data=data.describe()),
                      "full-batch", batch_schedule(n, None, int(cfg["full_batch_steps"]), rng)))
    if cfg["minibatch_steps"]:
        b = int(cfg["batch_size"])
        plans.append((_("mini-batch: {k} steps of {b} on {data}").format(k=cfg["minibatch_steps"], b=b,
                                                                      data=data.describe()),
                      "mini-batch", batch_schedule(n, b, int(cfg["minibatch_steps"]), rng)))
    return params, plans


class StudentRun:
    """The student's network in the child trained on one batch schedule, from the grader's parameters:
    `chunk` runs a few steps and reads the parameters back; `record` runs every chunk in advance;
    `advance` hands out what was recorded, in order, and runs anything else (a replay) live."""

    def __init__(self, ctx, model: Model, cfg: dict, data, params: dict, schedule: list):
        self.ctx, self.model, self.schedule = ctx, model, schedule
        self.lr = float(cfg["learning_rate"])
        self.every = max(1, int(cfg.get("every", 5)))
        self.method = model.methods["train_step"]
        self.X = np.ascontiguousarray(data.X_train, dtype=np.float64)
        self.Y = data.Y_train
        self.shapes = {k: params[k].shape for k in model.params}
        self.output: list[str] = []  # what the student printed, for the check's result
        self.recorded: list[tuple[int, int, dict | None, tuple | None]] = []
        started = time.perf_counter()
        dims = {"D": data.features, "H": int(cfg["hidden"]), "C": data.classes, "N": len(data.y_train)}
        self.instance = Instance(ctx, model, Case(dims=dims), params)
        self.failure, self.start = self.instance.failure, None
        if self.failure is None:
            self.start, self.failure = read_params(self.instance, model, self.shapes, 0)
        self.seconds = time.perf_counter() - started

    def adopt(self, ctx) -> None:
        """The check's own context from now on (a run recorded ahead had the engine's)."""
        self.ctx = self.instance.ctx = ctx

    def chunk(self, first: int, n: int) -> tuple[dict | None, tuple[int | None, str] | None]:
        """Run steps first..first+n-1 and read the parameters back, in one request: (params, None), or
        (None, (step, message)) when a call fails. Full-batch steps are one `repeat` call (the batch
        crosses the pipe once; which of them failed is unknown, None, and the check replays them one at a
        time); mini-batch steps one call each, in one request that says which failed."""
        started = time.perf_counter()
        batches = self.schedule[first - 1:first - 1 + n]
        call = functools.partial(self.ctx.sandbox.call, self.method, obj=self.instance.handle, return_args=False,
                                 read_after=list(self.model.params))
        try:
            if all(idx is None for idx in batches):
                outcome = call(self.X, self.Y, self.lr, repeat=n if n > 1 else None)
                at = None if n > 1 else first
            else:
                outcome = call(each=[(self.X, self.Y, self.lr) if idx is None else (self.X[idx], self.Y[idx], self.lr)
                                     for idx in batches])
                at = None if outcome.at is None else first + outcome.at
            if outcome.output:
                self.output.append(outcome.output)
            failure = outcome_failure(outcome, f"{self.model.class_name}.{self.method}()")
            if failure:
                return None, (at, failure)
            current, failure = read_params(self.instance, self.model, self.shapes, first + n - 1, outcome.attrs)
            return (None, (first + n - 1, failure)) if failure else (current, None)
        finally:
            self.seconds += time.perf_counter() - started

    def record(self) -> None:
        """Run every chunk now, keeping each one's parameters; stop at a failure or at non-finite
        parameters (a divergence by the loss is found by the check, which computes the losses)."""
        step = 0
        for n in chunk_sizes(self.schedule, self.every):
            current, failure = self.chunk(step + 1, n)
            self.recorded.append((step + 1, n, current, failure))
            if failure or not all(np.all(np.isfinite(v)) for v in current.values()):
                return
            step += n

    def advance(self, first: int, n: int) -> tuple[dict | None, tuple[int | None, str] | None]:
        """Chunk (first, n): as recorded, when it is the next one recorded; else run now (a replay, after
        which nothing recorded applies any more)."""
        if self.recorded and self.recorded[0][:2] == (first, n):
            return self.recorded.pop(0)[2:]
        self.recorded.clear()
        return self.chunk(first, n)


@ahead("training", units=(Model,))
def train_ahead(ctx, model: Model) -> dict[str, StudentRun] | None:
    """The student's runs, one per plan, before the references are loaded (None: the data set is
    unavailable, which the check reports)."""
    cfg = training_config(ctx, model)
    try:
        data = training_data(cfg)
    except DataError:
        return None
    ctx.require(model.class_name)
    params, plans = training_plans(ctx, model, cfg, data)
    runs = {}
    for _label, key, schedule in plans:
        runs[key] = run = StudentRun(ctx, model, cfg, data, params, schedule)
        if run.failure is None:
            run.record()
    return runs
