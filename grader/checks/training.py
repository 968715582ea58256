"""Check kind `training`: the student's network trains on real data like the PyTorch reference.

From identical initial weights, the student's class (in the child) and the model's declared reference
and loss (`Model.reference`, `Model.loss`, on the parameters `Model.params`) trained by torch.optim.SGD
train for a pinned number of steps, full-batch and mini-batch, on the same batches in the same order.
The parent drives both. It sends the batches to the student's train_step and reads the parameters back
after the first step and then every `every` steps (grader/training_run.py: one request per chunk of
steps, recorded while the grader is still importing PyTorch), and it computes every loss and accuracy
itself from those parameters (nothing the child reports is used). The reference runs train in a thread
from the start of grading (the prepare hook), while the exercise's other checks are graded. A case
passes when

- the training-set loss after every step read agrees with the reference's within the tolerance of the
  dtype the student computes in (float64 agrees to ~1e-15, float32 drifts ~1e-5 over 100 steps),
- the final weights agree within the same tolerance, and
- the test accuracy reaches the reference's accuracy on the same run minus `accuracy_margin`.

Divergence (a non-finite loss, or one above `divergence_factor` times the initial loss) stops the
comparison and names the step (a chunk of several steps that diverges or raises is replayed one step at
a time from the parameters before it, to find which). The first step is also compared as a direction:
a step that is a multiple of the reference step (ascent, a learning rate applied twice or 1000 times) or
no step at all gets a hint.
"""
from __future__ import annotations

import concurrent.futures
import copy
import functools
import hashlib
import math
import time

import numpy as np
import torch

from .. import compare as comparing
from .. import optim  # torch.optim's classes without the compiler import
from .. import stored_runs
from ..data import DataError
from ..i18n import _
from ..results import ERROR, CaseResult, Hint
from ..spec import Model
from ..timing import torch_threads
from ..training_run import (DEFAULTS, StudentRun, chunk_sizes, onehot, training_config, training_data,  # noqa: F401
                            training_plans)
from .base import Replay, check_kind, run_check

# (rtol, atol) per dtype the student computes in, the base of compare.py's rule for a trained quantity:
# a trajectory of 190 steps amplifies each step's rounding (float64 agrees to ~1e-15 after it, float32
# drifts ~1e-5), so these replace torch.testing's one-operation values. The scale T of compare.py's rule:
# for a weight, the largest of its matrix, because every step couples each weight to all the others
# through the gradients (a float32 run's drift on a weight near 0 is the matrix's, not its own: measured
# on digits, per-element terms |W_0| + |W_final| fail correct float32 code); for the loss after a step,
# the largest loss of the reference's curve.
TOLERANCES = {"float64": (1e-9, 1e-9), "float32": (1e-3, 1e-3)}


def tolerance(dtype, cfg: dict) -> tuple[float, float]:
    name = "float64" if np.dtype(dtype) == np.float64 else "float32"
    tol = (cfg.get("tolerance") or {}).get(name) or TOLERANCES[name]
    return float(tol[0]), float(tol[1])


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


def run_reference(data, params: dict, lr: float, schedule, evaluator: Evaluator, keep: bool = False) -> dict:
    """The reference run, memoised per process (its weights and batches depend only on the seed and the
    configuration, so a batch grading a class computes it once per worker, not once per submission) and,
    with keep, kept in the user's cache (grader/stored_runs.py: the next grade reads it)."""
    key = _run_key(data, params, lr, schedule)
    if key not in _REFERENCE_RUNS:
        while len(_REFERENCE_RUNS) >= MAX_REFERENCE_RUNS:
            _REFERENCE_RUNS.pop(next(iter(_REFERENCE_RUNS)))
        _REFERENCE_RUNS[key] = (_stored_or_run(key, data, params, lr, schedule, evaluator) if keep
                                else _reference_run(data, params, lr, schedule, evaluator))
    return copy.deepcopy(_REFERENCE_RUNS[key])


def _stored_or_run(key: bytes, data, params: dict, lr: float, schedule, evaluator: Evaluator) -> dict:
    model = evaluator.model
    name = stored_runs.digest(key, (model.reference, model.loss), (__name__, optim.__name__))
    run = stored_runs.load(name, params, len(schedule))
    if run is None:
        run = _reference_run(data, params, lr, schedule, evaluator)
        stored_runs.save(name, run)
    return run


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


def train_case(ctx, model: Model, cfg: dict, data, evaluator, params, schedule, label: str, curve: dict,
               reference_of, run: StudentRun | None = None, instances: list | None = None) -> CaseResult:
    """Train the student's network on `schedule` and compare it with the reference run, which
    `reference_of()` returns (run_reference's dict, with the seconds it took). `run`: the student's run
    on this schedule recorded ahead (grader/training_run.py), else it runs now."""
    lr = float(cfg["learning_rate"])
    method = model.methods["train_step"]
    call = f"{model.class_name}.{method}(X, y_onehot, learning_rate={lr:g}) x {len(schedule)}"
    factor = float(cfg["divergence_factor"])
    curve.update(student=[], student_steps=[], steps=len(schedule))
    run = run or StudentRun(ctx, model, cfg, data, params, schedule)
    run.adopt(ctx)
    instance = run.instance
    if instances is not None:
        instances.append(instance)

    def collect_output():
        ctx.output.extend(run.output)
        run.output.clear()
    collect_output()
    if run.failure is not None:
        return CaseResult(label=label, passed=False, call=call, message=run.failure, status=ERROR)
    start = run.start
    rtol, atol = tolerance(instance.dtype, cfg)
    steps, losses = [0], [evaluator.loss(start)]

    def record():
        curve.update(student=_finite(losses), student_steps=list(steps))

    def advance(first: int, n: int):
        """Steps first..first+n-1 (recorded ahead, or run now): (params, loss, failure), the failure as
        (its step or None, message)."""
        current, failure = run.advance(first, n)
        collect_output()
        if failure:
            return None, math.nan, failure
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
    for n in chunk_sizes(schedule, run.every):
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
    accuracy = evaluator.accuracy(current)
    record()
    curve.update(student_accuracy=accuracy, dtype=str(instance.dtype), rtol=rtol, atol=atol,
                 student_s=round(run.seconds, 3))
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
    """The reference runs of a check's plans, computed in a background thread: from the engine's start of
    the grading (the kind's prepare hook), while the exercise's other checks are graded."""

    def __init__(self, ctx, model: Model, cfg: dict, data):
        self.lr, self.factor = float(cfg["learning_rate"]), float(cfg["divergence_factor"])
        self.evaluator = Evaluator(data, model)
        self.params, self.plans = training_plans(ctx, model, cfg, data)
        keep = stored_runs.enabled(getattr(ctx.sandbox, "protections", {}))
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="reference training")
        self._runs = [self._pool.submit(self._timed, data, self.params, self.lr, schedule, self.evaluator, keep)
                      for _label, _key, schedule in self.plans]

    @staticmethod
    def _timed(data, params, lr, schedule, evaluator, keep) -> dict:
        started = time.perf_counter()
        # One thread, beside the thread grading the other checks: two would not be faster even on an idle
        # machine, and beside any other busy process they spin against it (measured: 3x slower).
        with torch_threads(1):
            run = run_reference(data, params, lr, schedule, evaluator, keep)
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
        """No more runs: a run under way (the check ended early) finishes in the background, unused."""
        self._pool.shutdown(wait=False, cancel_futures=True)


@check_kind("training", units=(Model,))
def model_training(ctx, model: Model, points: float):
    method = model.methods.get("train_step", "train_step")

    def body(result):
        references = ctx.take_ahead(model, "training", "reference")  # started by the prepare hook
        try:
            train(result, references)
        finally:
            if references is not None:
                references.close()

    def train(result, references):
        cfg = training_config(ctx, model)
        try:
            data = training_data(cfg)
        except DataError as error:
            result.status, result.message = ERROR, _("training data unavailable: {error}").format(error=error)
            return
        ctx.require(model.class_name)
        ahead = ctx.take_ahead(model, "training") or {}  # the student's runs, recorded while torch loaded
        curves, instances = {}, []
        result.extra["training"] = {k: cfg[k] for k in ("dataset", "hidden", "learning_rate", "full_batch_steps",
                                                        "batch_size", "minibatch_steps", "accuracy_margin")}
        result.extra["curves"] = curves
        result.extra["plot_curves"] = bool(ctx.options.get("timing") or ctx.options.get("plots"))
        references = references or ReferenceRuns(ctx, model, cfg, data)
        try:
            for i, (label, key, schedule) in enumerate(references.plans):
                curves[key] = {"label": label}
                reference_of = functools.partial(references.checked, i, label, curves[key])
                case = train_case(ctx, model, cfg, data, references.evaluator, references.params, schedule,
                                  label, curves[key], reference_of, ahead.get(key), instances)
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


@model_training.prepares
def _start_reference_runs(ctx, model: Model) -> ReferenceRuns | None:
    """The reference runs, started as soon as torch is loaded: they train while the exercise's other checks
    are graded (None: the data set is unavailable, which the check reports)."""
    cfg = training_config(ctx, model)
    try:
        data = training_data(cfg)
    except DataError:
        return None
    return ReferenceRuns(ctx, model, cfg, data)


@model_training.replays
def _replay_training(ctx, model: Model):
    """Each run of the reference as the check runs it: its loss curve must not diverge (else no student can
    pass), and a curve is judged as the check judges a float64 student's."""
    cfg = training_config(ctx, model)
    data = training_data(cfg)
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
