"""Check kind `training`: the student's network trains on real data like the PyTorch reference.

From identical initial weights, the student's class (in the child) and the model's declared reference
and loss (`Model.reference`, `Model.loss`, on the parameters `Model.params`) trained by torch.optim.SGD
train for a pinned
number of steps, full-batch and mini-batch, on the same batches in the same order. The parent drives
both: it sends the batches to the student's train_step, reads the parameters back after every call
(every mini-batch step; every `every` full-batch steps, run by one `repeat` call), and computes every
loss and accuracy itself from those parameters (nothing the child reports is used). A case passes when

- the training-set loss after every step agrees with the reference's within the tolerance of the
  dtype the student computes in (float64 agrees to ~1e-15, float32 drifts ~1e-5 over 100 steps),
- the final weights agree within the same tolerance, and
- the test accuracy reaches the reference's accuracy on the same run minus `accuracy_margin`.

Divergence (a non-finite loss, or one above `divergence_factor` times the initial loss) stops the run
and names the step (a call of several steps that diverges or raises is replayed one step at a time
from the parameters before it, to find which). The first step is also compared as a direction: a step that is a multiple of the
reference step (ascent, a learning rate applied twice or 1000 times) or no step at all gets a hint.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import math
import time

import numpy as np
import torch

from .. import compare as comparing
from .. import optim  # torch.optim's classes without the compiler import
from ..data import DataError, load_dataset
from ..i18n import _
from ..results import ERROR, CaseResult, Hint
from ..spec import Case, Model
from ..timing import torch_threads
from .base import Replay, check_kind, outcome_failure, run_check
from .model import Instance, make_params

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
# (rtol, atol) per dtype the student computes in, the base of compare.py's rule for a trained quantity:
# a trajectory of 190 steps amplifies each step's rounding (float64 agrees to ~1e-15 after it, float32
# drifts ~1e-5), so these replace torch.testing's one-operation values. The scale T of compare.py's rule:
# for a weight, the largest of its matrix, because every step couples each weight to all the others
# through the gradients (a float32 run's drift on a weight near 0 is the matrix's, not its own: measured
# on digits, per-element terms |W_0| + |W_final| fail correct float32 code); for the loss after a step,
# the largest loss of the reference's curve.
TOLERANCES = {"float64": (1e-9, 1e-9), "float32": (1e-3, 1e-3)}


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


def tolerance(dtype, cfg: dict) -> tuple[float, float]:
    name = "float64" if np.dtype(dtype) == np.float64 else "float32"
    tol = (cfg.get("tolerance") or {}).get(name) or TOLERANCES[name]
    return float(tol[0]), float(tol[1])


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


class Evaluator:
    """Loss on the training set and accuracy on the test set of a parameter dict, in float64 torch, through
    the model's declared reference (`Model.reference`, probabilities) and loss (`Model.loss`)."""

    def __init__(self, data, model: Model):
        self.model = model
        self.X = torch.from_numpy(np.ascontiguousarray(data.X_train, dtype=np.float64))
        self.Y = torch.from_numpy(onehot(data.y_train, data.classes))
        self.X_test = torch.from_numpy(np.ascontiguousarray(data.X_test, dtype=np.float64))
        self.y_test = data.y_test

    @staticmethod
    def tensors(params) -> dict:
        return {k: torch.from_numpy(np.asarray(v, dtype=np.float64)) for k, v in params.items()}

    @torch.no_grad()
    def loss(self, params) -> float:
        # Probabilities that underflow to 0 give a huge loss, not 0 * log(0) = NaN.
        probs = self.model.reference(self.tensors(params), self.X).clamp_min(torch.finfo(torch.float64).tiny)
        return float(self.model.loss(probs, self.Y))

    @torch.no_grad()
    def accuracy(self, params) -> float:
        if not len(self.y_test):
            return float("nan")
        probs = self.model.reference(self.tensors(params), self.X_test)
        return float((probs.argmax(1).numpy() == self.y_test).mean())


_REFERENCE_RUNS: dict[bytes, dict] = {}  # per process, see run_reference
MAX_REFERENCE_RUNS = 8


def _run_key(data, params: dict, lr: float, schedule) -> bytes:
    h = hashlib.blake2b(digest_size=20)
    arrays = [data.X_train, data.y_train, data.X_test, data.y_test, *(params[k] for k in sorted(params))]
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.data)
    h.update(f"{sorted(params)} {float(lr)!r}".encode())
    for idx in schedule:
        h.update(b"all;" if idx is None else np.ascontiguousarray(idx, dtype=np.int64).data.tobytes() + b";")
    return h.digest()


def run_reference(data, params: dict, lr: float, schedule, evaluator: Evaluator) -> dict:
    """The reference run, memoised per process: its weights and batches depend only on the seed and the
    configuration, so a batch grading a class computes it once per worker, not once per submission."""
    key = _run_key(data, params, lr, schedule)
    if key not in _REFERENCE_RUNS:
        while len(_REFERENCE_RUNS) >= MAX_REFERENCE_RUNS:
            _REFERENCE_RUNS.pop(next(iter(_REFERENCE_RUNS)))
        _REFERENCE_RUNS[key] = _reference_run(data, params, lr, schedule, evaluator)
    return copy.deepcopy(_REFERENCE_RUNS[key])


def _reference_run(data, params: dict, lr: float, schedule, evaluator: Evaluator) -> dict:
    """The reference run: the model's reference and loss trained by torch.optim.SGD on the same batches from
    the same parameters; losses after 0..K steps, parameters after the first step and at the end."""
    model = evaluator.model
    leaves = {k: torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for k, v in params.items()}
    optimizer = optim.SGD(list(leaves.values()), lr=lr, momentum=0.0, dampening=0.0, weight_decay=0.0)
    X, Y = evaluator.X, evaluator.Y

    def current() -> dict:
        return {k: v.detach().numpy().copy() for k, v in leaves.items()}
    tiny = torch.finfo(torch.float64).tiny
    losses, first = [], None
    for idx in schedule:
        xb, yb = (X, Y) if idx is None else (X[idx], Y[idx])
        optimizer.zero_grad(set_to_none=True)
        probs = model.reference(leaves, xb)
        loss = model.loss(probs, yb)
        # The training-set loss before this step: a full-batch step's own forward is that computation
        # (the same kernels, and Evaluator's clamp changes nothing while every probability is above it).
        losses.append(float(loss.detach()) if idx is None and bool(probs.min() >= tiny) else evaluator.loss(current()))
        loss.backward()
        optimizer.step()
        first = first or current()
    final = current()
    losses.append(evaluator.loss(final))
    return {"losses": losses, "first": first or final, "final": final, "accuracy": evaluator.accuracy(final)}


def _read(instance, model: Model, shapes: dict, step: int) -> tuple[dict | None, str | None]:
    """The student's parameters as float64 arrays in the grader's shapes, or why they are unusable."""
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


def first_step_hint(start: dict, student: dict, reference: dict) -> Hint | None:
    """Compare the student's first step with the reference step (same weights, same batch)."""
    ds = {k: student[k] - start[k] for k in start}
    dr = {k: reference[k] - start[k] for k in start}
    if all(not np.any(d) for d in ds.values()):
        return Hint("training_no_update", _(
            "train_step did not change any parameter: it must call update_params with the gradients from "
            "backward, and the update must be kept (self.W1 = self.W1 - lr * dW1, or an in-place -=)."))
    frozen = [k for k in start if not np.any(ds[k]) and np.any(dr[k])]
    if frozen:
        return Hint("training_frozen_params", _("train_step did not change self.{names}: every parameter takes "
                                                "a step.").format(names=", self.".join(frozen)))
    s = np.concatenate([d.ravel() for d in ds.values()])
    r = np.concatenate([d.ravel() for d in dr.values()])
    rr = float(r @ r)
    if not np.all(np.isfinite(s)) or rr == 0.0:
        return None
    c = float(s @ r) / rr
    residual = float(np.linalg.norm(s - c * r)) / max(float(np.linalg.norm(s)), 1e-300)
    if residual > 1e-2 or abs(c - 1.0) < 1e-2:
        return None
    if abs(c + 1.0) < 1e-2:
        return Hint("training_ascent", _("your first step moves the weights exactly opposite to the reference "
                                         "step: a descent step subtracts learning_rate * gradient."))
    return Hint("training_step_scale", _(
        "your first step is {c:.4g} times the reference step (learning_rate * gradient): check how the "
        "learning rate is applied, and that the gradients are those of the mean loss.").format(c=c))


def _first_mismatch(student: list[float], reference: list[float], rtol: float, atol: float) -> int | None:
    scale = max(abs(v) for v in reference)
    ok = comparing.within(student, reference, rtol=rtol, atol=atol, terms=np.full(len(reference), scale))
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if bad.size else None


def _finite(values: list[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


def chunk_sizes(schedule, every: int) -> list[int]:
    """Steps between two reads of the parameters: the first step alone (its direction is compared),
    then `every` steps. Full-batch steps of a chunk run as one `repeat` call (the batch crosses the
    pipe once); mini-batch steps one call each."""
    sizes, step = [], 0
    while step < len(schedule):
        n = 1 if step == 0 else min(every, len(schedule) - step)
        sizes.append(n)
        step += n
    return sizes


def train_case(ctx, model: Model, cfg: dict, data, evaluator, params, schedule, label: str, curve: dict,
               reference_of, instances: list | None = None) -> CaseResult:
    """Train the student's network on `schedule` and compare it with the reference run, which
    `reference_of()` returns (run_reference's dict, with the seconds it took)."""
    lr = float(cfg["learning_rate"])
    dims = {"D": data.features, "H": int(cfg["hidden"]), "C": data.classes, "N": len(data.y_train)}
    method = model.methods["train_step"]
    call = f"{model.class_name}.{method}(X, y_onehot, learning_rate={lr:g}) x {len(schedule)}"
    factor = float(cfg["divergence_factor"])
    curve.update(student=[], student_steps=[], steps=len(schedule))
    started = time.perf_counter()
    instance = Instance(ctx, model, Case(dims=dims), params)
    if instances is not None:
        instances.append(instance)
    if instance.failure is not None:
        return CaseResult(label=label, passed=False, call=call, message=instance.failure, status=ERROR)
    shapes = {k: params[k].shape for k in model.params}
    start, failure = _read(instance, model, shapes, 0)
    if failure:
        return CaseResult(label=label, passed=False, call=call, message=failure, status=ERROR)
    rtol, atol = tolerance(instance.dtype, cfg)
    X = np.ascontiguousarray(data.X_train, dtype=np.float64)
    Y = data.Y_train
    steps, losses = [0], [evaluator.loss(start)]

    def record():
        curve.update(student=_finite(losses), student_steps=list(steps))

    def advance(first: int, n: int):
        """Run steps first..first+n-1, then read the parameters: (params, loss, failure message).
        A failure in a call of one step names its step; in a `repeat` call of several, the caller
        replays them one at a time."""
        calls = [(first, n)] if all(schedule[i] is None for i in range(first - 1, first - 1 + n)) \
            else [(first + i, 1) for i in range(n)]
        for at, count in calls:
            idx = schedule[at - 1]
            xb, yb = (X, Y) if idx is None else (X[idx], Y[idx])
            outcome = ctx.sandbox.call(method, xb, yb, lr, obj=instance.handle, return_args=False,
                                       repeat=count if count > 1 else None)
            if outcome.output:
                ctx.output.append(outcome.output)
            failure = outcome_failure(outcome, f"{model.class_name}.{method}()")
            if failure:  # (the step, if known, and the message)
                return None, math.nan, (None if count > 1 else at, failure)
        current, failure = _read(instance, model, shapes, first + n - 1)
        if failure:
            return None, math.nan, (first + n - 1, failure)
        finite = all(np.all(np.isfinite(v)) for v in current.values())
        return current, (evaluator.loss(current) if finite else math.nan), None

    def bad(loss: float) -> bool:
        return not math.isfinite(loss) or loss > factor * losses[0]

    def diverged(step: int, loss: float, where: str | None) -> CaseResult:
        what = _("is not finite ({loss})").format(loss=loss) if not math.isfinite(loss) else _(
            "is {loss:.4g}, more than {factor:g} times the initial {initial:.4g}").format(
            loss=loss, factor=factor, initial=losses[0])
        at = _("at step {step}").format(step=step) if where is None else _("by step {step} ({where})").format(
            step=step, where=where)
        return CaseResult(label=label, passed=False, call=call, hint=hint_of(), message=_(
            "training diverged {at}: the training loss after it {what} (the reference's: {ref:.4g}).").format(
            at=at, what=what, ref=reference_of()["losses"][step]))

    current, after_first, step = start, None, 0

    def hint_of() -> Hint | None:  # the first step's direction against the reference's
        return None if after_first is None else first_step_hint(start, after_first, reference_of()["first"])
    for n in chunk_sizes(schedule, max(1, int(cfg.get("every", 5)))):
        before = current
        current, loss, failure = advance(step + 1, n)
        at, where = step + n, None
        if failure and failure[0] is not None:
            at = failure[0]
        elif n > 1 and (failure or bad(loss)):
            # Which step was it? Replay the chunk one step at a time from the parameters before it
            # (a student whose object keeps other state may not fail the same way again).
            where = _("during steps {a}-{b}").format(a=step + 1, b=step + n)
            if instance.set(before) is None:
                for j in range(step + 1, step + n + 1):
                    replay = advance(j, 1)
                    if replay[2] or bad(replay[1]):
                        (current, loss, failure), at, where = replay, j, None
                        break
        step = at
        if failure:
            record()
            return CaseResult(label=label, passed=False, call=call, status=ERROR, message=_("{at}: {error}").format(
                at=_("step {step}").format(step=step) if where is None else where, error=failure[1]))
        steps.append(step)
        losses.append(loss)
        if step == 1:
            after_first = current
        if bad(loss):
            record()
            return diverged(step, loss, where)
    student_s = time.perf_counter() - started
    accuracy = evaluator.accuracy(current)
    record()
    curve.update(student_accuracy=accuracy, dtype=str(instance.dtype), rtol=rtol, atol=atol,
                 student_s=round(student_s, 3))
    reference = reference_of()
    ref_losses, first_hint = reference["losses"], hint_of()

    t = _first_mismatch(losses, [ref_losses[s] for s in steps], rtol, atol)
    if t is not None:
        return CaseResult(label=label, passed=False, call=call, hint=first_hint, message=_(
            "the training loss leaves the reference's at step {step}: yours {got:.8g}, the reference's "
            "{want:.8g} (rtol={rtol:g}, atol={atol:g} for {dtype}).").format(
            step=steps[t], got=losses[t], want=ref_losses[steps[t]], rtol=rtol, atol=atol, dtype=instance.dtype))
    for name in model.params:
        comparison = comparing.compare(current[name], reference["final"][name], rtol=rtol, atol=atol,
                                       label=f"self.{name} after {len(schedule)} steps")
        if not comparison.passed:
            return CaseResult(label=label, passed=False, call=call, output=f"self.{name}",
                            message=comparison.message, comparison=comparison, hint=first_hint)
    threshold = reference["accuracy"] - float(cfg["accuracy_margin"])
    if not accuracy >= threshold:
        return CaseResult(label=label, passed=False, call=call, hint=first_hint, message=_(
            "test accuracy {acc:.2%} is below {threshold:.2%} (the reference reaches {ref:.2%} on the same "
            "run).").format(acc=accuracy, threshold=threshold, ref=reference["accuracy"]))
    return CaseResult(label=label, passed=True, call=call, message=_(
        "loss {first:.4g} -> {last:.4g}, test accuracy {acc:.2%} (reference {ref:.2%}).").format(
        first=losses[0], last=losses[-1], acc=accuracy, ref=reference["accuracy"]))


class _ConfigError(Exception):
    """The pinned configuration is unusable (the grader's side, not the student's)."""


class ReferenceRuns:
    """The reference runs of a check's plans, computed in a background thread while the student's
    network trains in the child (the two take about as long, on the two cores a grading has)."""

    def __init__(self, data, params: dict, lr: float, plans, evaluator: Evaluator, factor: float):
        import concurrent.futures
        self.lr, self.factor = lr, factor
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="reference training")
        self._runs = [self._pool.submit(self._timed, data, params, lr, schedule, evaluator)
                      for _label, _key, schedule in plans]

    @staticmethod
    def _timed(data, params, lr, schedule, evaluator) -> dict:
        started = time.perf_counter()
        run = run_reference(data, params, lr, schedule, evaluator)
        return {**run, "seconds": round(time.perf_counter() - started, 3)}

    def checked(self, i: int, label: str, curve: dict) -> dict:
        """Plan i's run, once computed, recorded in its curve; raises _ConfigError when the pinned
        configuration makes the reference itself diverge (no student could pass)."""
        reference = self._runs[i].result()
        losses = reference["losses"]
        curve.update(reference=_finite(losses), reference_accuracy=reference["accuracy"],
                     reference_s=reference["seconds"])
        if not all(math.isfinite(v) for v in losses) or max(losses) > self.factor * losses[0]:
            raise _ConfigError(_("the reference itself diverges with this configuration ({label}, learning rate "
                                 "{lr:g}); lower the learning rate in the exercise's training options.").format(
                label=label, lr=self.lr))
        return reference

    def close(self) -> None:
        for run in self._runs:
            run.cancel()
        self._pool.shutdown(wait=True)  # torch_threads is restored only after the runs are done


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


@check_kind("training", units=(Model,))
def model_training(ctx, model: Model, points: float):
    method = model.methods.get("train_step", "train_step")

    def body(result):
        cfg = training_config(ctx, model)
        try:
            data = load_dataset(cfg["dataset"], cfg["data_dir"], cfg["train_size"], cfg["test_size"])
        except DataError as error:
            result.status, result.message = ERROR, _("training data unavailable: {error}").format(error=error)
            return
        ctx.require(model.class_name)
        evaluator = Evaluator(data, model)
        params, plans = training_plans(ctx, model, cfg, data)
        curves, instances = {}, []
        result.extra["training"] = {k: cfg[k] for k in ("dataset", "hidden", "learning_rate", "full_batch_steps",
                                                        "batch_size", "minibatch_steps", "accuracy_margin")}
        result.extra["curves"] = curves
        result.extra["plot_curves"] = bool(ctx.options.get("timing") or ctx.options.get("plots"))
        # One thread each for the reference and for driving the student's run: small matrices, and two
        # cores, one of them the child's.
        with torch_threads(1):
            references = ReferenceRuns(data, params, float(cfg["learning_rate"]), plans, evaluator,
                                       float(cfg["divergence_factor"]))
            try:
                for i, (label, key, schedule) in enumerate(plans):
                    curves[key] = {"label": label}
                    reference_of = functools.partial(references.checked, i, label, curves[key])
                    case = train_case(ctx, model, cfg, data, evaluator, params, schedule, label, curves[key],
                                      reference_of, instances)
                    reference_of()  # the configuration's own failure outranks a student's early error
                    result.cases.append(case)
            except _ConfigError as error:
                result.cases.clear()
                result.status, result.message = ERROR, str(error)
                return
            finally:
                references.close()
        handles = [i.handle for i in instances if i.handle is not None]
        if handles:
            ctx.sandbox.drop(*handles)  # the trained objects are not needed any more

    name = f"{ctx.student_name(model.class_name)}.{method}"
    return run_check(ctx, "training", model, name, points, body, ctx.location(model.class_name, method))


@model_training.replays
def _replay_training(ctx, model: Model):
    """Each run of the reference as the check runs it: its loss curve must not diverge (else no student can
    pass), and a curve is judged as the check judges a float64 student's."""
    cfg = training_config(ctx, model)
    data = load_dataset(cfg["dataset"], cfg["data_dir"], cfg["train_size"], cfg["test_size"])
    evaluator = Evaluator(data, model)
    params, plans = training_plans(ctx, model, cfg, data)
    rtol, atol = tolerance(np.float64, cfg)
    factor = float(cfg["divergence_factor"])
    for label, _key, schedule in plans:
        with torch_threads(1):
            losses = np.asarray(_reference_run(data, params, float(cfg["learning_rate"]), schedule, evaluator)["losses"])

        def grade(outputs, reference=losses):
            curve = np.asarray(outputs[0], dtype=np.float64)
            if curve.shape != reference.shape or not np.all(np.isfinite(curve)) or curve.max() > factor * curve[0]:
                return False, None
            return _first_mismatch(list(curve), list(reference), rtol, atol) is None, None
        yield Replay(label, (losses,), ["training loss after each step"], grade)
