"""Check kinds for an nn.Module the student writes (spec.TorchModel), graded in a child that may load torch.

The student's module stays in the child. The grader builds the reference module of the same dimensions
here, draws weights in state-dict names, and sends them (grader/sandbox/torch_ops.py `load`): outputs,
losses and state dicts come back as arrays and every comparison is made here. The module is run in
float32, the dtype students use; references are float64 from the same float32-rounded weights and inputs.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from ..i18n import _
from ..inputs import describe_call
from ..results import CaseResult, Hint
from ..spec import Case, TorchModel, as_float64
from .base import (CheckContext, NotAttempted, SkipCheck, case_result, check_kind, compare_output,
                   outcome_failure, run_check)
from .model import Instance, sgd_reference

DTYPE = np.float32
HARD_CODED = "mistake:hard_coded_device"
HARD_CODED_TEXT = "(a hard-coded device)"  # what torch_ops says when code moved tensors off the device it was given


def dims_of(unit: TorchModel, case: Case) -> dict[str, Any]:
    """The case's dimensions and argument values (a list of hidden sizes, a dropout rate...)."""
    return {**case.dims, **case.values}


def classes_of(unit: TorchModel, dims: dict) -> int:
    return unit.classes if isinstance(unit.classes, int) else dims[unit.classes]


def reference_module(unit: TorchModel, dims: dict) -> torch.nn.Module:
    return unit.reference(**dims).to(torch.float64)


def draw_state(module: torch.nn.Module, rng, dtype=DTYPE) -> dict[str, np.ndarray]:
    """Values for the module's state dict: He-style weights, small non-zero biases, and BatchNorm running
    statistics away from their defaults (so code that normalizes with the batch's statistics in eval mode,
    or never updates them, is seen). Rounded to `dtype`, the dtype the student's module runs in."""
    values = {}
    for name, t in module.state_dict().items():
        shape = tuple(t.shape)
        if name.endswith("running_mean"):
            values[name] = rng.normal(0.0, 0.5, shape)
        elif name.endswith("running_var"):
            values[name] = rng.uniform(0.5, 2.0, shape)
        elif name.endswith("num_batches_tracked"):
            continue
        elif len(shape) == 2:
            values[name] = rng.normal(0.0, np.sqrt(2.0 / shape[1]), shape)
        else:
            values[name] = rng.normal(0.0, 0.1, shape)
        values[name] = values[name].astype(dtype)
    return values


def load_reference(module: torch.nn.Module, values: dict) -> torch.nn.Module:
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if name in values:
                t.copy_(torch.from_numpy(np.asarray(values[name], dtype=np.float64)))
    return module


def reference_logits(module: torch.nn.Module, weights: dict, X: np.ndarray) -> torch.Tensor:
    """The reference's output in eval mode (running statistics, no dropout)."""
    load_reference(module, weights).eval()
    with torch.no_grad():
        return module(torch.from_numpy(np.asarray(X, dtype=np.float64)))


class StudentModule:
    """The student's module in the child, built with the case's dimensions."""

    def __init__(self, ctx: CheckContext, unit: TorchModel, dims: dict):
        self.ctx, self.unit = ctx, unit
        ctx.require(unit.class_name)
        self.name = ctx.student_name(unit.class_name)
        args = [dims[d] for d in unit.init_args.values()]
        created = ctx.call(unit.class_name, *args, keep=True)
        self.failure = outcome_failure(created, f"{self.name}()")
        self.handle = created.handle
        self.rename: dict[str, str] = {}  # reference parameter name -> the student's

    def act(self, action: str, *args, **kwargs):
        outcome = self.ctx.sandbox.call(None, *args, obj=self.handle, adapter=action, kwargs=kwargs,
                                        return_args=False, label=f"{self.name} ({action})")
        if outcome.output:
            self.ctx.output.append(outcome.output)
        if kwargs.get("device") == "meta" and not outcome.ok and outcome.error.type == "NotImplementedError" \
                and "meta" in outcome.error.message.lower():
            return outcome, outcome.error.message  # an operation meta tensors lack (copying one out): not a stub
        return outcome, outcome_failure(outcome, f"{self.name}")

    def architecture(self, reference: torch.nn.Module) -> str | None:
        """None when the module's parameters match the reference's (by name, or else in order); sets rename."""
        outcome, failure = self.act("architecture")
        if failure:
            return failure
        info = outcome.value if isinstance(outcome.value, dict) else {}
        if not info.get("is_module"):
            return _("{name} must be a subclass of nn.Module (got {type}).").format(name=self.name,
                                                                                  type=info.get("type"))
        theirs = {str(k): tuple(v) for k, v in (info.get("params") or {}).items()}
        ours = {k: tuple(p.shape) for k, p in reference.named_parameters()}
        if set(theirs) == set(ours) and all(theirs[k] == ours[k] for k in ours):
            self.rename = {k: k for k in ours}
        elif [*theirs.values()] == [*ours.values()]:
            self.rename = dict(zip(ours, theirs))
        else:
            want = ", ".join(f"{k} {list(v)}" for k, v in ours.items())
            got = ", ".join(f"{k} {list(v)}" for k, v in theirs.items()) or _("none")
            return _("{name} has parameters {got}; expected {want} (nn.Linear(in, out) stores its weight as "
                     "(out, in)).").format(name=self.name, got=got, want=want)
        holders = {name.rpartition(".")[0] for name in ours}
        own_types = {n: t for n, t, _lib in info.get("modules") or []}
        ref_types = dict((n, type(m).__name__) for n, m in reference.named_modules() if n in holders)
        for ref_name, ref_type in ref_types.items():
            student_holder = self.rename[f"{ref_name}.weight"].rpartition(".")[0] if f"{ref_name}.weight" in \
                self.rename else ref_name
            if own_types.get(student_holder) not in (None, ref_type):
                return _("{name}.{layer} is a {got}; expected nn.{want}.").format(
                    name=self.name, layer=student_holder, got=own_types[student_holder], want=ref_type)
        return None

    def their_name(self, name: str) -> str:
        """A reference state-dict name in the student's module (a buffer goes with its layer's weight)."""
        if name in self.rename:
            return self.rename[name]
        holder, _dot, leaf = name.rpartition(".")
        weight = self.rename.get(f"{holder}.weight")
        return f"{weight.rpartition('.')[0]}.{leaf}" if weight else name

    def load(self, weights: dict, device: str = "cpu") -> str | None:
        values = {self.their_name(k): v for k, v in weights.items()}
        _outcome, failure = self.act("load", values, device=device, dtype="float32")
        return failure

    def state(self, values: dict, names=None) -> dict:
        """The student's state (their names) in the reference's names (parameters, or `names`)."""
        return {k: values.get(self.their_name(k)) for k in (names or self.rename)}


def inputs(unit: TorchModel, dims: dict, rng, large: bool = False) -> tuple[np.ndarray, np.ndarray]:
    shape = tuple(d if isinstance(d, int) else dims[d] for d in unit.input_shape)
    X = rng.normal(0.0, 8.0 if large else 1.0, shape).astype(DTYPE)
    labels = rng.integers(0, classes_of(unit, dims), shape[0]).astype(np.int64)
    return X, labels


def _cases(ctx, unit: TorchModel, kind: str):
    for i, case in enumerate(unit.cases):
        rng = ctx.rng(unit.class_name, kind, str(i))
        dims = dims_of(unit, case)
        reference = reference_module(unit, dims)
        weights = draw_state(reference, rng)
        X, labels = inputs(unit, dims, rng, case.large)
        label = _("case {i}: x {shape}").format(i=i + 1, shape=X.shape) + (_(" (large values)") if case.large else "")
        yield case, dims, label, reference, weights, X, labels


def _run(ctx, unit: TorchModel, kind: str, points: float, case_fn, setup=True):
    def body(result):
        for case, dims, label, reference, weights, X, labels in _cases(ctx, unit, kind):
            module = StudentModule(ctx, unit, dims)
            failure = module.failure or module.architecture(reference)
            if failure is None and setup:
                failure = module.load(weights)
            if failure is not None:
                result.cases.append(CaseResult(label=label, passed=False, message=failure))
                continue
            result.cases.append(case_fn(module, label, reference, weights, X, labels, dims))
    name = ctx.student_name(unit.class_name)
    return run_check(ctx, kind, unit, name, points, body, ctx.location(unit.class_name))


def _mistakes(unit, check):
    return tuple(m for m in unit.mistakes if m.check == check)


def _forward(module: StudentModule, X, device="cpu"):
    outcome, failure = module.act("forward", X, device=device)
    value = outcome.value if isinstance(outcome.value, dict) else {}
    return value, failure


@check_kind("torch_architecture")
def torch_architecture(ctx, unit: TorchModel, points: float):
    def case_fn(module, label, reference, weights, X, labels, dims):
        return CaseResult(label=label, passed=True, call=f"{module.name}({', '.join(map(str, dims.values()))})")
    return _run(ctx, unit, "torch_architecture", points, case_fn, setup=False)


@check_kind("torch_forward")
def torch_forward(ctx, unit: TorchModel, points: float):
    def case_fn(module, label, reference, weights, X, labels, dims):
        call = describe_call(f"{module.name}.forward", ["x"], [X])
        value, failure = _forward(module, X)
        if failure:
            return case_result(label, call, failure, [])
        logits = reference_logits(reference, weights, X)
        mistakes = _mistakes(unit, "torch_forward")
        outputs = {m.id: as_float64(m.reference(logits)) for m in mistakes}
        row = compare_output(value.get("out"), as_float64(logits), output="logits", batch_size=X.shape[0],
                             mistakes=mistakes, mistake_outputs=outputs)
        return case_result(label, call, None, [("logits", *row)])
    return _run(ctx, unit, "torch_forward", points, case_fn)


def _step(module, X, labels, lr):
    outcome, failure = module.act("sgd_step", X, labels, lr)
    return (outcome.value if isinstance(outcome.value, dict) else {}), failure


def _reference_step(reference, weights, X, labels, lr):
    """Loss and parameters after one torch.optim.SGD step of the reference from the same weights."""
    load_reference(reference, weights).train()
    params = dict(reference.named_parameters())
    loss = torch.nn.functional.cross_entropy(reference(torch.from_numpy(X.astype(np.float64))),
                                             torch.from_numpy(labels))
    grads = torch.autograd.grad(loss, list(params.values()))
    start = {k: as_float64(p) for k, p in params.items()}
    return float(loss.detach()), sgd_reference(start, {k: as_float64(g) for k, g in zip(params, grads)}, lr)


@check_kind("torch_loss")
def torch_loss(ctx, unit: TorchModel, points: float):
    """nn.CrossEntropyLoss of the module's output equals the reference's loss on its logits."""
    def case_fn(module, label, reference, weights, X, labels, dims):
        call = describe_call("nn.CrossEntropyLoss()", ["output", "labels"], [X, labels])
        value, failure = _step(module, X, labels, unit.learning_rate)
        if failure:
            return case_result(label, call, failure, [])
        logits = reference_logits(reference, weights, X)
        expected = float(torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels)))
        mistakes = _mistakes(unit, "torch_loss")
        outputs = {m.id: float(m.reference(logits, torch.from_numpy(labels))) for m in mistakes}
        row = compare_output(np.float32(value.get("loss")) if value.get("loss") is not None else None, expected,
                             output="loss", mistakes=mistakes, mistake_outputs=outputs)
        return case_result(label, call, None, [("loss", *row)])
    return _run(ctx, unit, "torch_loss", points, case_fn)


@check_kind("torch_sgd_step")
def torch_sgd_step(ctx, unit: TorchModel, points: float):
    """One torch.optim.SGD step on the student's module moves its parameters as the reference's."""
    def case_fn(module, label, reference, weights, X, labels, dims):
        lr = unit.learning_rate
        call = describe_call("optimizer.step()", ["x", "labels", "lr"], [X, labels, lr])
        value, failure = _step(module, X, labels, lr)
        if failure:
            return case_result(label, call, failure, [])
        _loss, expected = _reference_step(reference, weights, X, labels, lr)
        state = module.state(value.get("state") or {})
        rows = [(name, *compare_output(state.get(name), want, output=name)) for name, want in expected.items()]
        return case_result(label, call, None, rows)
    return _run(ctx, unit, "torch_sgd_step", points, case_fn)


@check_kind("torch_device")
def torch_device(ctx, unit: TorchModel, points: float):
    """The module follows the device it is put on: on `meta` (no computation: testable without a GPU)
    nothing may land elsewhere; on CUDA, when the child sees one, its output equals the CPU's."""
    def case_fn(module, label, reference, weights, X, labels, dims):
        call = describe_call(f"{module.name}.forward", ["x"], [X]) + " " + _("on device='meta'")
        _value, failure = _forward(module, X)  # code that does not run at all earns nothing here either
        if failure:
            return CaseResult(label=label, passed=False, call=call, message=failure,
                              hint=Hint(code=HARD_CODED, text=DEVICE_HINT()) if HARD_CODED_TEXT in failure else None)
        failure = module.load(weights, device="meta")
        value = {}
        if failure is None:
            value, failure = _forward(module, X, device="meta")
            failure = failure or value.get("error")
        message = device_problem(module.name, "meta", value.get("devices", []), failure, value.get("device"))
        if message:
            return CaseResult(label=label, passed=False, call=call, message=message,
                              hint=Hint(code=HARD_CODED, text=DEVICE_HINT()))
        return cuda_case(module, label, weights, X)
    return _run(ctx, unit, "torch_device", points, case_fn)


def DEVICE_HINT() -> str:
    return _("Use the device you are given: move the model with model.to(device) and every batch with "
             "x.to(device); create new tensors with device=x.device (or torch.zeros_like(x)). Hard-coding "
             "'cuda' or 'cpu' breaks the code on a machine without a GPU, or leaves the GPU unused.")


def device_problem(name: str, requested: str, devices, failure: str | None, out_device: str | None = None) -> str | None:
    """Why the code did not follow `requested`, or None."""
    others = [d for d in devices or [] if d != requested]
    if others:
        return _("{name} moves tensors to '{got}' although it was given device='{want}': it hard-codes a "
                 "device.").format(name=name, got=others[0], want=requested)
    if failure and ("device" in failure and (requested in failure or "same device" in failure)):
        return _("{name} failed when given device='{want}': {error}. Some tensors stay where they were "
                 "created instead of following the device it is given.").format(name=name, want=requested,
                                                                                  error=failure)
    if out_device is not None and out_device != requested:
        return _("{name} returned a tensor on '{got}' when given device='{want}'.").format(
            name=name, got=out_device, want=requested)
    return None


def cuda_available(sandbox) -> bool:
    outcome = sandbox.call(None, adapter="cuda_available", return_args=False, label="torch.cuda.is_available()")
    return bool(outcome.ok and outcome.value)


def cuda_case(module: StudentModule, label: str, weights: dict, X) -> CaseResult:
    call = describe_call(f"{module.name}.forward", ["x"], [X])
    if not cuda_available(module.ctx.sandbox):
        return CaseResult(label=label, passed=True, call=call,
                          message=_("device='meta' followed; CUDA: skipped (no GPU on the grading machine)."))
    failure = module.load(weights, device="cpu")
    cpu, failure = _forward(module, X) if failure is None else ({}, failure)
    failure = failure or module.load(weights, device="cuda")
    gpu, failure = _forward(module, X, device="cuda") if failure is None else ({}, failure)
    failure = failure or gpu.get("error")
    message = device_problem(module.name, "cuda", gpu.get("devices", []), failure, gpu.get("device"))
    if message or failure:
        return CaseResult(label=label, passed=False, call=call + " on cuda", message=message or failure)
    ok, text, comparison, hint = compare_output(gpu.get("out"), cpu.get("out"), output="logits on cuda")
    return case_result(label, call + " on cuda", None, [("logits on cuda", ok, text, comparison, hint)])


DROPOUT_ROWS, DROPOUT_WIDTH = 400, 50


@check_kind("torch_dropout")
def torch_dropout(ctx, unit: TorchModel, points: float):
    """Dropout at the requested rate p in train mode, kept activations scaled by 1/(1-p), nothing dropped in
    eval mode, and the whole model deterministic in eval mode."""
    def case_fn(module, label, reference, weights, X, labels, dims):
        p = float(dims["p"])
        call = describe_call(f"{module.name}(...) with dropout={p:g}", ["x"], [X])
        outcome, failure = module.act("dropout_layers", DROPOUT_ROWS, DROPOUT_WIDTH)
        if failure:
            return case_result(label, call, failure, [])
        layers = outcome.value if isinstance(outcome.value, list) else []
        if not layers:
            return CaseResult(label=label, passed=False, call=call, message=_(
                "no Dropout layer was found in the model (nn.Dropout(p) after the first BatchNorm1d)."))
        layer = layers[0] if isinstance(layers[0], dict) else {}
        train, evaluated = layer.get("train"), layer.get("eval")
        if not isinstance(train, np.ndarray) or train.shape != (DROPOUT_ROWS, DROPOUT_WIDTH):
            return CaseResult(label=label, passed=False, call=call, message=_("the Dropout layer did not return "
                                                                              "an array of its input's shape."))
        dropped = float(np.mean(train == 0))
        spread = 5 * np.sqrt(p * (1 - p) / train.size) + 1e-9
        rows = []
        if abs(dropped - p) > spread:
            rows.append(("rate", False, _("the Dropout layer dropped {got:.1%} of the activations; expected "
                                          "{want:.0%} (dropout={want:g}).").format(got=dropped, want=p), None,
                         Hint(code="mistake:torch_dropout_rate", text=_(
                             "Pass the requested rate to nn.Dropout(p): p is the probability of dropping an "
                             "activation (not of keeping it), and the builder's `dropout` argument sets it."))))
        kept = train[train != 0]
        if kept.size:
            ok, message, comparison, hint = compare_output(kept.astype(np.float32),
                                                           np.full(kept.shape, 1 / (1 - p)), output="kept")
            if not ok and np.allclose(kept, 1.0):
                hint = Hint(code="mistake:torch_dropout_not_scaled", text=_(
                    "The activations that are kept must be divided by (1 - p) in training (inverted dropout), so "
                    "that nothing changes in eval mode: nn.Dropout does this."))
            rows.append(("kept activations", ok, message, comparison, hint))
        if not isinstance(evaluated, np.ndarray) or not np.array_equal(evaluated, np.ones_like(train)):
            rows.append(("eval mode", False, _("the Dropout layer still changes its input in eval mode."), None,
                         EVAL_RANDOM()))
        outcome, failure = module.act("eval_twice", X)
        if failure is None and isinstance(outcome.value, list) and len(outcome.value) == 2 \
                and not np.array_equal(*outcome.value):
            rows.append(("model.eval()", False, _("the model gives different outputs for the same input in eval "
                                                  "mode."), None, EVAL_RANDOM()))
        return case_result(label, call, failure, rows)
    return _run(ctx, unit, "torch_dropout", points, case_fn)


def EVAL_RANDOM() -> Hint:
    return Hint(code="mistake:torch_dropout_in_eval", text=_(
        "Dropout must be off in eval mode: use an nn.Dropout module (model.eval() switches it off), or "
        "F.dropout(x, p, training=self.training), never F.dropout(x, p) alone."))


BATCHNORM_STEPS, BATCHNORM_ROWS = 4, 16


@check_kind("torch_batchnorm")
def torch_batchnorm(ctx, unit: TorchModel, points: float):
    """BatchNorm's running statistics after a few train-mode forward passes equal nn.BatchNorm1d's."""
    def case_fn(module, label, reference, weights, X, labels, dims):
        rng = ctx.rng(unit.class_name, "batches", label)
        shape = tuple(d if isinstance(d, int) else dims[d] for d in unit.input_shape[1:])
        batches = [rng.normal(0.0, 1.0, (BATCHNORM_ROWS, *shape)).astype(DTYPE) for _ in range(BATCHNORM_STEPS)]
        call = describe_call(f"{module.name} in train mode, {BATCHNORM_STEPS} batches", ["x"], [batches[0]])
        outcome, failure = module.act("batchnorm_steps", batches)
        if failure:
            return case_result(label, call, failure, [])
        load_reference(reference, weights).train()
        with torch.no_grad():
            for batch in batches:
                reference(torch.from_numpy(batch.astype(np.float64)))
        names = [n for n, _b in reference.named_buffers() if "running" in n]
        if not names:
            return CaseResult(label=label, passed=True, call=call)
        got = module.state(outcome.value if isinstance(outcome.value, dict) else {}, names)
        rows = []
        for name in names:
            want = as_float64(dict(reference.named_buffers())[name])
            ok, message, comparison, hint = compare_output(got.get(name), want, output=name)
            if not ok and got.get(name) is not None and np.allclose(got[name], weights[name]):
                hint = Hint(code="mistake:torch_batchnorm_stats_frozen", text=_(
                    "BatchNorm's running statistics did not change in train mode: use nn.BatchNorm1d (it updates "
                    "running_mean and running_var with momentum 0.1 on every training forward pass)."))
            rows.append((name, ok, message, comparison, hint))
        return case_result(label, call, None, rows)
    return _run(ctx, unit, "torch_batchnorm", points, case_fn)


@check_kind("torch_equivalence")
def torch_equivalence(ctx, unit: TorchModel, points: float):
    """The course's own check, done by the grader: the student's NumPy class and PyTorch class, given the
    same weights (copied in the course's convention), agree on hidden inputs: softmax of the module's
    logits equals the NumPy forward, and one training step moves both alike."""
    twin = unit.twin
    if twin is None or ctx.sandbox_for is None:
        raise SkipCheck(_("no NumPy class to compare with"))
    sandbox, errors = ctx.sandbox_for(())
    numpy_ctx = dataclasses.replace(ctx, sandbox=sandbox, import_errors=errors)

    def case_fn(module, label, reference, weights, X, labels, dims):
        twin_name = ctx.student_name(twin.model.class_name)
        try:
            numpy_ctx.require(twin.model.class_name)
        except NotAttempted:
            return CaseResult(label=label, passed=False, message=_(
                "{twin} is not defined in your submission: the equivalence check compares your PyTorch class "
                "with your NumPy class.").format(twin=twin_name))
        params = {name: (weights[key].T if transposed else weights[key]).astype(np.float64)
                  for name, (key, transposed) in twin.weights.items()}
        case = Case(dims={d: dims[d] for d in twin.model.init_args.values()})
        instance = Instance(numpy_ctx, twin.model, case, params)
        if instance.failure is not None:
            return CaseResult(label=label, passed=False, message=instance.failure)
        call = describe_call(f"softmax({module.name}(x)) vs {twin_name}.forward", ["x"], [X])
        numpy_out, failure = instance.call("forward", X.astype(np.float64))
        value, torch_failure = _forward(module, X)
        if failure or torch_failure:
            return case_result(label, call, failure or torch_failure, [])
        logits = value.get("out")
        if not isinstance(logits, np.ndarray) or logits.shape != np.shape(numpy_out.value):
            return case_result(label, call, _("the two classes give outputs of different shapes: {a} and "
                                              "{b}.").format(a=np.shape(logits), b=np.shape(numpy_out.value)), [])
        probs = torch.softmax(torch.from_numpy(logits.astype(np.float64)), dim=1).numpy().astype(DTYPE)
        ok, message, comparison, hint = compare_output(probs, numpy_out.value, output="probabilities")
        if not ok:
            message = _("softmax of your PyTorch class's output differs from your NumPy class's forward (the "
                        "`network` checks and this exercise's forward check tell which one is off): {message}"
                        ).format(message=message)
        return case_result(label, call, None, [("probabilities", ok, message, comparison, hint)])
    return _run(ctx, unit, "torch_equivalence", points, case_fn)


__all__ = ["StudentModule", "device_problem", "cuda_available", "DEVICE_HINT"]
