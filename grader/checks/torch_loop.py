"""Check kinds for a training or evaluation loop the student writes (spec.TorchLoop).

The grader builds the model in the child (grader.sandbox.torch_ops.build_mlp, float64) with weights drawn
here, a DataLoader over hidden data in a fixed order, and for training the optimizer and
nn.CrossEntropyLoss; the student's function runs there. The parameters after the epoch, the loss or
accuracy it returns and what the model saw (training mode, autograd) come back as plain values; the
reference loop runs here from the same weights on the same batches.
"""
from __future__ import annotations

import numpy as np
import torch

from ..i18n import _
from ..inputs import describe_call
from ..reference import torch_training as ref
from ..results import CaseResult, Hint
from ..sandbox.torch_ops import build_mlp
from ..spec import TorchLoop, as_float64
from ..sandbox.wire import Handle
from .base import SkipCheck, case_result, check_kind, compare_output, outcome_failure, run_check
from .torch_module import DEVICE_HINT, HARD_CODED, HARD_CODED_TEXT, cuda_available, device_problem, draw_state, load_reference


def reference_model(unit: TorchLoop, weights: dict) -> torch.nn.Module:
    return load_reference(build_mlp(**unit.model), weights)


def _data(unit: TorchLoop, dims: dict, rng):
    sizes = unit.model["sizes"]
    X = rng.normal(0.0, 1.0, (dims["N"], sizes[0]))
    y = rng.integers(0, sizes[-1], dims["N"]).astype(np.int64)
    return X, y


def _cases(ctx, unit: TorchLoop, kind: str):
    for i, case in enumerate(unit.cases):
        rng = ctx.rng(unit.name, kind, str(i))
        weights = draw_state(build_mlp(**unit.model), rng, np.float64)
        X, y = _data(unit, case.dims, rng)
        label = _("case {i}: {n} samples in batches of {b}").format(i=i + 1, n=case.dims["N"], b=case.dims["B"])
        yield label, weights, X, y, case.dims["B"]


def _student_model(ctx, unit: TorchLoop, weights: dict, device: str = "cpu"):
    """The grader's model in the child, with these weights; (handle, failure)."""
    sandbox = ctx.sandbox
    made = sandbox.call(None, adapter="new_mlp", kwargs=dict(unit.model), keep=True, return_args=False,
                        label="the grader's model")
    if not made.ok:
        return None, made.error.message
    loaded = sandbox.call(None, weights, obj=made.handle, adapter="load", kwargs={"device": device},
                          return_args=False, label="the grader's model")
    return made.handle, (None if loaded.ok else loaded.error.message)


def _run_student(ctx, unit: TorchLoop, handle, X, y, batch, device="cpu"):
    args = [Handle(handle), X, y, batch]
    kwargs = {"device": device}
    if unit.role == "train_epoch":
        kwargs.update(optimizer=unit.optimizer, lr=unit.learning_rate)
    outcome = ctx.call(unit.name, *args, kwargs=kwargs, return_args=False, adapter=unit.role)
    value = outcome.value if isinstance(outcome.value, dict) else {}
    if not outcome.ok and device == "meta" and outcome.error.type == "NotImplementedError" \
            and "meta" in outcome.error.message.lower():
        return value, outcome.error.message
    return value, outcome_failure(outcome, f"{ctx.student_name(unit.name)}()")


def _call(unit: TorchLoop, name: str, X, batch) -> str:
    if unit.role == "train_epoch":
        return describe_call(name, ["model", "loader", "optimizer", "criterion", "device"],
                             ["<the grader's model>", X, unit.optimizer, "nn.CrossEntropyLoss()", "cpu"])
    return describe_call(name, ["model", "loader", "device"], ["<the grader's model>", X, "cpu"])


def _run(ctx, unit: TorchLoop, kind: str, points: float, case_fn):
    def body(result):
        ctx.require(unit.name)
        for label, weights, X, y, batch in _cases(ctx, unit, kind):
            result.cases.append(case_fn(label, weights, X, y, batch))
    return run_check(ctx, kind, unit, ctx.student_name(unit.name), points, body, ctx.location(unit.name))


def _mistake_states(unit: TorchLoop, weights, data):
    states = {}
    for mistake in unit.mistakes:
        model = reference_model(unit, weights)
        optimizer = ref.OPTIMIZERS[unit.optimizer](model.parameters(), lr=unit.learning_rate)
        mistake.reference(model, data, optimizer, torch.nn.CrossEntropyLoss())
        states[mistake.id] = {k: as_float64(v) for k, v in model.state_dict().items()}
    return states


def loss_accumulation_hint() -> Hint:
    return Hint(code="mistake:torch_loss_tensor_accumulated", text=_(
        "Your function returned a tensor that still holds the autograd graph: adding `loss` itself to the "
        "total keeps every batch's graph in memory. Accumulate `loss.item()` (a Python float) instead."))


@check_kind("torch_train_epoch")
def torch_train_epoch(ctx, unit: TorchLoop, points: float):
    """The parameters after one epoch, and the mean loss returned, against the reference loop from the
    same weights on the same batches."""
    def case_fn(label, weights, X, y, batch):
        name = ctx.student_name(unit.name)
        call = _call(unit, name, X, batch)
        handle, failure = _student_model(ctx, unit, weights)
        value = {}
        if failure is None:
            value, failure = _run_student(ctx, unit, handle, X, y, batch)
        if failure:
            return case_result(label, call, failure, [])
        data = ref.batches(X, y, batch)
        model = reference_model(unit, weights)
        optimizer = ref.OPTIMIZERS[unit.optimizer](model.parameters(), lr=unit.learning_rate)
        mean_loss = ref.train_epoch(model, data, optimizer, torch.nn.CrossEntropyLoss())
        expected = {k: as_float64(v) for k, v in model.state_dict().items()}
        got = value.get("state") or {}
        mistakes = tuple(m for m in unit.mistakes if m.check == "torch_train_epoch")
        wrong = _mistake_states(unit, weights, data)
        rows = []
        for key, want in expected.items():
            outputs = {m: state[key] for m, state in wrong.items()}
            rows.append((key, *compare_output(got.get(key), want, output=key, mistakes=mistakes,
                                              mistake_outputs=outputs)))
        if all(r[1] for r in rows) and value.get("steps") != len(data):
            rows.append(("optimizer.step()", False, _(
                "optimizer.step() was called {got} times for {want} batches: one step per batch.").format(
                got=value.get("steps"), want=len(data)), None, None))
        if value.get("kind") == "tensor_graph":
            rows.append(("returned loss", False, _("the returned loss is a tensor attached to the graph."),
                         None, loss_accumulation_hint()))
        elif value.get("returned") is None:
            rows.append(("returned loss", False, _("{name} must return the mean loss of the epoch (a float); it "
                                                   "returned {kind}.").format(name=name, kind=value.get("kind")),
                         None, None))
        else:
            rows.append(("returned loss", *compare_output(np.float64(value["returned"]), mean_loss,
                                                          output="mean loss")))
        return case_result(label, call, None, rows)
    return _run(ctx, unit, "torch_train_epoch", points, case_fn)


def _accuracy_row(returned, expected: float):
    """Accuracy as a fraction, or as a percentage: both are the course's."""
    if returned is None:
        return ("accuracy", False, _("evaluate must return the accuracy (a number)."), None, None)
    value = float(returned)
    if abs(value - 100 * expected) < 1e-6 * 100 and abs(value - expected) > 1e-9:
        value /= 100
    return ("accuracy", *compare_output(np.float64(value), expected, output="accuracy"))


@check_kind("torch_evaluate")
def torch_evaluate(ctx, unit: TorchLoop, points: float):
    """The accuracy returned, and how the model was run: in eval mode (Dropout off, BatchNorm's running
    statistics) and without autograd recording."""
    def case_fn(label, weights, X, y, batch):
        name = ctx.student_name(unit.name)
        call = _call(unit, name, X, batch)
        handle, failure = _student_model(ctx, unit, weights)
        value = {}
        if failure is None:
            value, failure = _run_student(ctx, unit, handle, X, y, batch)
        if failure:
            return case_result(label, call, failure, [])
        expected = ref.accuracy(reference_model(unit, weights), X, y)
        flags = value.get("flags") or []
        rows = []
        if any(training for training, _grad in flags):
            rows.append(("model.eval()", False, _("the model was still in training mode during evaluation."),
                         None, Hint(code="mistake:torch_eval_mode_missing", text=_(
                             "Call model.eval() before evaluating: in training mode Dropout drops activations "
                             "at random and BatchNorm uses the batch's statistics instead of its running ones."))))
        if any(grad for _training, grad in flags):
            rows.append(("torch.no_grad()", False, _("autograd recorded the evaluation's forward passes."),
                         None, Hint(code="mistake:torch_no_grad_missing", text=_(
                             "Wrap the evaluation in `with torch.no_grad():` (or torch.inference_mode()): "
                             "without it every forward pass builds a graph that is never used."))))
        if not flags:
            rows.append(("forward", False, _("{name} never called the model.").format(name=name), None, None))
        rows.append(_accuracy_row(value.get("returned"), expected))
        return case_result(label, call, None, rows)
    return _run(ctx, unit, "torch_evaluate", points, case_fn)


@check_kind("torch_loop_device")
def torch_loop_device(ctx, unit: TorchLoop, points: float):
    """The loop follows the device it is given: run on `meta` (nothing computed, no GPU needed), every batch
    must go where the model is; on CUDA, when the child sees one, the result equals the CPU's."""
    def case_fn(label, weights, X, y, batch):
        name = ctx.student_name(unit.name)
        call = _call(unit, name, X, batch).replace("'cpu'", "'meta'")
        handle, failure = _student_model(ctx, unit, weights)
        if failure is None:  # code that does not run at all earns nothing here either
            _value, failure = _run_student(ctx, unit, handle, X, y, batch)
        if failure:
            return CaseResult(label=label, passed=False, call=call.replace("'meta'", "'cpu'"), message=failure,
                              hint=Hint(code=HARD_CODED, text=DEVICE_HINT()) if HARD_CODED_TEXT in failure else None)
        handle, failure = _student_model(ctx, unit, weights, device="meta")
        value = {}
        if failure is None:
            value, failure = _run_student(ctx, unit, handle, X, y, batch, device="meta")
            failure = failure or value.get("error")
        message = device_problem(name, "meta", value.get("devices", []), failure)
        if message:
            return CaseResult(label=label, passed=False, call=call, message=message,
                              hint=Hint(code=HARD_CODED, text=DEVICE_HINT()))
        if not cuda_available(ctx.sandbox):
            return CaseResult(label=label, passed=True, call=call, message=_(
                "device='meta' followed; CUDA: skipped (no GPU on the grading machine)."))
        results = {}
        for device in ("cpu", "cuda"):
            handle, failure = _student_model(ctx, unit, weights, device=device)
            value, failure = (_run_student(ctx, unit, handle, X, y, batch, device=device) if failure is None
                              else ({}, failure))
            failure = failure or value.get("error")
            if failure:
                return CaseResult(label=label, passed=False, call=call.replace("'meta'", f"'{device}'"),
                                  message=failure)
            results[device] = value
        key = "state" if unit.role == "train_epoch" else "returned"
        cpu, gpu = results["cpu"].get(key), results["cuda"].get(key)
        rows = ([(k, *compare_output(gpu.get(k), v, output=f"{k} on cuda")) for k, v in cpu.items()]
                if isinstance(cpu, dict) and isinstance(gpu, dict) else
                [("on cuda", *compare_output(np.float64(gpu if gpu is not None else np.nan), cpu or 0.0,
                                             output="on cuda"))])
        return case_result(label, call.replace("'meta'", "'cuda'"), None, rows)
    return _run(ctx, unit, "torch_loop_device", points, case_fn)


# --------------------------------------------------------------------------- the optimizers compared

def metrics(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> dict:
    """Accuracy, macro F1 and the confusion matrix (rows: true class)."""
    from sklearn.metrics import confusion_matrix, f1_score  # only this check needs them
    labels = list(range(classes))
    return {"accuracy": float(np.mean(y_true == y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
            "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist()}


def _reference_run(unit, builder_args, weights, data, optimizer, lr, epochs, batch, seed):
    from ..reference import torch_mlp
    model = load_reference(torch_mlp.mlp(**builder_args).to(torch.float32), weights)
    torch.manual_seed(seed)
    opt = ref.OPTIMIZERS[optimizer](model.parameters(), lr=lr)
    batches = ref.batches(data.X_train.astype(np.float32), data.y_train, batch)
    losses = [ref.train_epoch(model, batches, opt, torch.nn.CrossEntropyLoss()) for _ in range(epochs)]
    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(data.X_test.astype(np.float32))).argmax(dim=1).numpy()
    return losses, predicted


@check_kind("torch_optimizers")
def torch_optimizers(ctx, unit: TorchLoop, points: float):
    """The student's train_model(model, loader, optimizer, criterion, epochs, device), called with the student's
    own MLP (the `build` name of the unit's options) and each of SGD, Adam and RMSprop at the course's learning
    rates, from the same weights as the reference's run. Loss curves, accuracy, macro F1 and confusion
    matrices go in the report beside the reference's; a run passes when its test accuracy reaches the
    reference's minus a margin."""
    from ..data import DataError, load_dataset
    from ..timing import torch_threads
    cfg = unit.model
    sandbox = ctx.sandbox

    def body(result):
        ctx.require(unit.name)
        builder = ctx.require(cfg["build"])
        try:
            data = load_dataset(ctx.options.get("dataset", cfg.get("dataset", "digits")), ctx.options.get("data_dir"),
                                cfg.get("train_size"), cfg.get("test_size"))
        except DataError as error:
            raise SkipCheck(str(error)) from None
        args = {"D": data.features, "C": data.classes, "hidden": list(cfg["hidden"]), "p": cfg["dropout"],
                "acts": list(cfg["activations"])}
        from ..reference import torch_mlp
        weights = draw_state(torch_mlp.mlp(**args), ctx.rng(unit.name, "optimizers"))
        curves, table = {}, []
        for optimizer, lr in cfg["optimizers"]:
            key = f"{optimizer} lr={lr:g}"
            label = _("{optimizer}, learning rate {lr:g}").format(optimizer=optimizer, lr=lr)
            made = sandbox.call(ctx.student_name(cfg["build"]), [args["D"], args["hidden"], args["C"], args["p"],
                                                                  args["acts"]], weights, module=builder,
                                adapter="build_and_load", keep=True, return_args=False)
            failure = outcome_failure(made, f"{ctx.student_name(cfg['build'])}()")
            outcome = None
            if failure is None:
                outcome = ctx.call(unit.name, Handle(made.handle), data.X_train, data.y_train, cfg["batch_size"],
                                   kwargs={"optimizer": optimizer, "lr": lr, "epochs": cfg["epochs"], "seed": 0},
                                   return_args=False, adapter="train_model")
                failure = outcome_failure(outcome, f"{ctx.student_name(unit.name)}()")
            losses = (outcome.value or {}).get("losses") if failure is None else None
            if failure is None and (not isinstance(losses, list) or len(losses) != cfg["epochs"]):
                failure = _("{name} must return the mean loss of every epoch (a list of {n} numbers).").format(
                    name=ctx.student_name(unit.name), n=cfg["epochs"])
            predicted = None
            if failure is None:
                out = sandbox.call(None, data.X_test.astype(np.float32), obj=made.handle, adapter="predict",
                                   return_args=False, label=_("predicting the test set"))
                failure = None if out.ok else out.error.message
                predicted = np.asarray(out.value) if out.ok else None
            with torch_threads(1):  # a small network: one thread, no spinning against the student's process
                ref_losses, ref_predicted = _reference_run(unit, args, weights, data, optimizer, lr, cfg["epochs"],
                                                           cfg["batch_size"], 0)
            reference = metrics(data.y_test, ref_predicted, data.classes)
            theirs = metrics(data.y_test, predicted, data.classes) if predicted is not None else None
            curves[key] = {"reference": ref_losses, "student": losses or [], "steps": cfg["epochs"],
                           "reference_accuracy": reference["accuracy"],
                           "student_accuracy": theirs["accuracy"] if theirs else None}
            table.append({"run": key, "reference": reference, "student": theirs})
            if failure is not None:
                result.cases.append(CaseResult(label=label, passed=False, message=failure))
                continue
            margin = cfg.get("accuracy_margin", 0.05)
            ok = theirs["accuracy"] >= reference["accuracy"] - margin
            result.cases.append(CaseResult(label=label, passed=ok, message="" if ok else _(
                "test accuracy {got:.1%} after {n} epochs; the reference reaches {want:.1%} from the same weights "
                "(at most {margin:.0%} less passes).").format(got=theirs["accuracy"], n=cfg["epochs"],
                                                             want=reference["accuracy"], margin=margin)))
        result.extra["curves"] = curves
        result.extra["plot_curves"] = True
        result.extra["metrics"] = {"dataset": data.name, "epochs": cfg["epochs"], "runs": table}
    return run_check(ctx, "torch_optimizers", unit, ctx.student_name(unit.name), points, body,
                     ctx.location(unit.name))
