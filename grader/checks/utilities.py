"""Check kinds for the course's utilities (exercises/utils.py).

Where randomness or a file format is the student's, there is nothing to compare element by element, so
these checks establish *facts* about what came back and fail on the first one that does not hold:

- `shuffle`: rows_permuted, labels_permuted, paired, identity, reproducible, seed_dependent;
- `split` / `split_stratified`: sizes, rows_from_X, disjoint, covering, paired, shuffled, reproducible,
  seed_dependent, and stratified (class proportions; only the stratified check requires it);
- `save_load`: file_written, loads_from_file (a copy of the file, at a path save_model never saw,
  loads the same: the data is in the file), keys, positional_keys, exact.

A catalogued mistake of these checks has a predicate over the facts as its `reference`; the first one
that holds is named in the hint. `params_forward` is the forward check for functions of the network's
parameter dict (predict, compute_cost): an argument whose Arg is fixed to a dict of Param is drawn
as the network's parameters (model.make_params), multiplied by the Arg's `scale`; one fixed to
spec.Layers, as an L-layer network's. A function with several `outputs` returns a tuple whose first
item is graded (the rest, e.g. a forward's caches, is the student's business).
"""
from __future__ import annotations

from contextlib import nullcontext
from types import SimpleNamespace

import numpy as np

try:  # scikit-learn's dependency; without it BLAS keeps its threads
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    def threadpool_limits(_limits):
        return nullcontext()

from .. import torch_bridge
from ..compare import coerce
from ..i18n import _
from ..inputs import describe_call, draw
from ..results import CaseResult, CheckResult, Hint
from ..spec import Case, Function, Param
from ..timing import torch_threads
from .base import (Replay, attempt, case_result, check_kind, compare_output, outcome_failure, output_grader,
                   run_check)
from .model import make_params

SPLIT_SEEDS = 2  # calls with a second seed show that the seed is used


def run_single_threaded(ctx, kind: str, fn: Function, points: float, body, target: str | None = None) -> CheckResult:
    """run_check for `fn` (reported under `target`, default its name) with torch and BLAS (NumPy, SciPy's
    L-BFGS-B) on one thread: the grading side's arrays are small, and threads on a busy host wait on each
    other (references ran ~30x slower)."""
    def single_threaded(result):
        with torch_threads(1), threadpool_limits(1):
            body(result)
    target = target or fn.name
    return run_check(ctx, kind, fn, ctx.student_name(target), points, single_threaded, ctx.location(target))


# ------------------------------------------------------------------------------------------ helpers


def _is_params(arg) -> bool:
    return arg.kind == "fixed" and isinstance(arg.value, dict) and all(isinstance(p, Param) for p in arg.value.values())


def _network_params(arg, case: Case, rng) -> dict[str, np.ndarray]:
    params = make_params(SimpleNamespace(params=arg.value), case.dims, rng)
    return {k: v * arg.scale for k, v in params.items()}


def _draw_inputs(fn: Function, case: Case, rng) -> dict:
    return {name: _network_params(arg, case, rng) if _is_params(arg) else case.values.get(name, draw(arg, case, rng))
            for name, arg in fn.args.items()}


def _named(inputs: dict) -> tuple[list, list]:
    return list(inputs), list(inputs.values())


def _arrays(value, count: int, names: str) -> tuple[list | None, str]:
    """A tuple of `count` numeric arrays, or (None, message)."""
    if not isinstance(value, (tuple, list)) or len(value) != count:
        return None, _("expected a tuple of {count} arrays ({names}), got {got}.").format(
            count=count, names=names, got=type(value).__name__)
    arrays = [coerce(v)[0] for v in value]
    if any(a is None for a in arrays):
        return None, _("expected a tuple of {count} arrays ({names}); some items are not arrays of numbers.").format(
            count=count, names=names)
    return arrays, ""


class _Rows:
    """Which row of X each returned row is. Rows are matched on their float32 values, so a student who
    returns float32 arrays is still matched (X's rows are distinct random draws)."""

    def __init__(self, X: np.ndarray):
        self.index = {row.tobytes(): i for i, row in enumerate(np.ascontiguousarray(X, dtype=np.float32))}
        self.width = X.shape[1]

    def of(self, rows: np.ndarray) -> np.ndarray | None:
        """Indices into X of `rows`, or None when a row is not a row of X or the shape is wrong."""
        if rows.ndim != 2 or rows.shape[1] != self.width or rows.dtype.kind not in "biuf":
            return None
        keys = np.ascontiguousarray(rows, dtype=np.float32)
        found = [self.index.get(row.tobytes()) for row in keys]
        return None if any(i is None for i in found) else np.array(found, dtype=np.int64)


def _labels_match(got: np.ndarray, want: np.ndarray) -> bool:
    return got.size == want.size and bool(np.array_equal(got.reshape(-1), want))


def _named_mistake(fn: Function, kind: str, facts: dict) -> Hint | None:
    for mistake in fn.mistakes:
        if mistake.check == kind and mistake.reference(facts):
            return Hint(code=f"mistake:{mistake.id}", text=_(mistake.explanation))
    return None


def _verdict(fn: Function, kind: str, label: str, call: str, facts: dict, messages: dict) -> CaseResult:
    """Pass when every fact in `messages` holds; else fail on the first that does not, naming a mistake."""
    failed = [fact for fact in messages if not facts.get(fact, False)]
    if not failed:
        return CaseResult(label=label, passed=True, call=call)
    return CaseResult(label=label, passed=False, call=call, message=messages[failed[0]],
                      hint=_named_mistake(fn, kind, facts))


def _sorted_labels(dims: dict, test_size: float) -> np.ndarray:
    """Labels sorted by class (data sets often are), classes of decreasing size C, C-1, ..., 1 (in units
    of 1/test_size examples, so every class's test share is a whole number)."""
    unit = round(1 / test_size)
    n, classes = dims["N"], dims["C"]
    if abs(unit * test_size - 1) > 1e-12 or n % unit:
        raise ValueError(f"split checks need test_size = 1/k and N a multiple of k (N={n}, test_size={test_size})")
    weights = np.arange(classes, 0, -1, dtype=np.float64)
    units = np.floor(weights / weights.sum() * (n // unit)).astype(int)
    units[0] += n // unit - units.sum()
    return np.repeat(np.arange(classes), units * unit)


# ------------------------------------------------------------------------------------------ shuffle


SHUFFLE_MESSAGES = {
    "shapes": _("X_shuffled and y_shuffled must have the shapes of X and y."),
    "rows_permuted": _("X_shuffled is not X with its rows reordered: rows were changed, lost or repeated."),
    "labels_permuted": _("y_shuffled is not y reordered: labels were changed, lost or repeated."),
    "paired": _("y_shuffled[i] is not the label of the example X_shuffled[i]."),
    "shuffled": _("the data came back in its original order."),
    "reproducible": _("two calls with the same seed gave different orders."),
    "seed_dependent": _("two different seeds gave the same order."),
}


def _shuffle_order(ctx, fn, X, y, seed, rows: _Rows) -> tuple[np.ndarray | None, dict, str | None]:
    """The permutation a call applied, the facts about it, or the failure message of the call."""
    name = ctx.student_name(fn.name)
    outcome = ctx.call(fn.name, X, y, seed, return_args=False)
    failure = outcome_failure(outcome, f"{name}()")
    if failure is not None:
        return None, {}, failure
    arrays, message = _arrays(outcome.value, 2, "X_shuffled, y_shuffled")
    if arrays is None:
        return None, {}, message
    Xs, ys = arrays
    order = rows.of(Xs)
    facts = {"shapes": Xs.shape == X.shape and ys.size == y.size, "rows_permuted": order is not None
             and len(order) == len(X) and len(set(order.tolist())) == len(X),
             "labels_permuted": ys.size == y.size and bool(np.array_equal(np.sort(ys.reshape(-1)), np.sort(y)))}
    facts["paired"] = facts["rows_permuted"] and _labels_match(ys, y[order])
    facts["identity"] = facts["rows_permuted"] and bool(np.array_equal(order, np.arange(len(X))))
    facts["shuffled"] = not facts["identity"]
    return (order if facts["rows_permuted"] else None), facts, None


@check_kind("shuffle", units=(Function,), main=True)
def shuffle(ctx, fn: Function, points: float):
    """The rows come back reordered, with their labels, in an order that the seed (and only it) decides."""
    def body(result):
        for i, case in enumerate(fn.cases):
            rng = ctx.rng(fn.name, "shuffle", str(i))
            X = rng.normal(size=(case.dims["N"], case.dims["D"]))
            y = np.sort(rng.integers(0, case.dims["C"], case.dims["N"]))
            seed, other = (int(s) for s in rng.choice(2**31, size=2, replace=False))
            label = _("case {i}: X {shape}").format(i=i + 1, shape=X.shape)
            call = describe_call(ctx.student_name(fn.name), *_named({"X": X, "y": y, "seed": seed}))
            rows = _Rows(X)
            order, facts, failure = _shuffle_order(ctx, fn, X, y, seed, rows)
            facts.update(reproducible=True, seed_dependent=True)  # until a repeated call shows otherwise
            if failure is None and order is not None:
                again, _f, failure = _shuffle_order(ctx, fn, X, y, seed, rows)
                facts["reproducible"] = again is not None and np.array_equal(again, order)
                different, _f, failure = (None, {}, failure) if failure else _shuffle_order(ctx, fn, X, y, other, rows)
                facts["seed_dependent"] = different is None or not np.array_equal(different, order)
            if failure is not None:
                result.cases.append(case_result(label, call, failure, []))
                continue
            result.cases.append(_verdict(fn, "shuffle", label, call, facts, SHUFFLE_MESSAGES))
    return run_single_threaded(ctx, "shuffle", fn, points, body)


# ------------------------------------------------------------------------------------------ split


SPLIT_MESSAGES = {
    "rows_from_X": _("X_train and X_test must hold rows of X (same width, values unchanged)."),
    "sizes": _("the test set has {got} examples; expected ceil(test_size * N) = {want}."),
    "disjoint": _("{n} examples are in both the training and the test set."),
    "covering": _("{n} examples are in neither the training nor the test set."),
    "paired": _("some labels in y_train / y_test do not belong to the examples at the same position."),
    "shuffled": _("the split is not random: one of the two sets is exactly the first rows of X."),
    "reproducible": _("two calls with the same seed gave different splits."),
    "seed_dependent": _("two different seeds gave the same split."),
}
STRATIFIED_MESSAGE = _("with stratify=True, class {c} ({n} examples) has {got} in the test set; expected "
                       "test_size * {n} = {want:g} (floor or ceil).")


def _split_facts(arrays: list, X, y, test_size: float, rows: _Rows) -> tuple[dict, dict, tuple | None]:
    """Facts about one split, the formatted messages, and (train, test) indices into X."""
    X_train, X_test, y_train, y_test = arrays
    train, test = rows.of(X_train), rows.of(X_test)
    n, want = len(X), int(np.ceil(test_size * len(X) - 1e-9))
    # What cannot be established counts as holding: only the first fact that fails is reported.
    facts = dict.fromkeys(SPLIT_MESSAGES, True) | {"stratified": True}
    facts["rows_from_X"] = train is not None and test is not None
    messages = dict(SPLIT_MESSAGES)
    if not facts["rows_from_X"]:
        return facts, messages, None
    both = np.intersect1d(train, test)
    neither = n - len(np.union1d(train, test))
    first_rows = [np.array_equal(np.sort(part), np.arange(len(part))) for part in (train, test)]
    facts.update(sizes=len(test) == want, disjoint=len(both) == 0, covering=neither == 0,
                 paired=_labels_match(y_train, y[train]) and _labels_match(y_test, y[test]),
                 shuffled=not any(first_rows))  # a random split is (almost) never the first rows
    messages.update(sizes=SPLIT_MESSAGES["sizes"].format(got=len(test), want=want),
                    disjoint=SPLIT_MESSAGES["disjoint"].format(n=len(both)),
                    covering=SPLIT_MESSAGES["covering"].format(n=neither))
    return facts, messages, (train, test)


def _split_check(ctx, fn: Function, points: float, kind: str, stratify: bool):
    def body(result):
        test_size = float(fn.args["test_size"].value)
        name = ctx.student_name(fn.name)
        for i, case in enumerate(fn.cases):
            rng = ctx.rng(fn.name, kind, str(i))
            y = _sorted_labels(case.dims, test_size)
            X = rng.normal(size=(len(y), case.dims["D"]))
            seeds = [int(s) for s in rng.choice(2**31, size=SPLIT_SEEDS, replace=False)]
            label = _("case {i}: X {shape}, {k} classes").format(i=i + 1, shape=X.shape, k=case.dims["C"])
            call = describe_call(name, *_named({"X": X, "y": y, "test_size": test_size, "seed": seeds[0],
                                         "stratify": stratify}))
            rows, splits, failure, facts, messages = _Rows(X), [], None, {}, {}
            for seed in (seeds[0], seeds[0], *seeds[1:]):  # the first seed twice: reproducible?
                outcome = ctx.call(fn.name, X, y, test_size, seed, stratify, return_args=False)
                failure = outcome_failure(outcome, f"{name}()")
                if failure is None:
                    arrays, message = _arrays(outcome.value, 4, "X_train, X_test, y_train, y_test")
                    failure = message if arrays is None else None
                if failure is not None:
                    break
                split_facts, split_messages, split = _split_facts(arrays, X, y, test_size, rows)
                if not splits:
                    facts, messages = split_facts, split_messages
                splits.append(split)
                if split is None:
                    break
            if failure is not None:
                result.cases.append(case_result(label, call, failure, []))
                continue
            if all(s is not None for s in splits):
                same = [np.array_equal(np.sort(s[1]), np.sort(splits[0][1])) for s in splits[1:]]
                facts.update(reproducible=same[0], seed_dependent=not all(same[1:]))
            if stratify and facts.get("rows_from_X"):
                messages.update(_stratification(facts, y, splits[0][1], test_size))
            result.cases.append(_verdict(fn, kind, label, call, facts, messages))
    return run_single_threaded(ctx, kind, fn, points, body)


def _stratification(facts: dict, y: np.ndarray, test: np.ndarray, test_size: float) -> dict:
    """Sets facts["stratified"]; returns the message for it (first class off its share)."""
    facts["stratified"] = True
    for c in np.unique(y):
        n, got = int(np.sum(y == c)), int(np.sum(y[test] == c))
        want = test_size * n
        if not np.floor(want - 1e-9) <= got <= np.ceil(want + 1e-9):
            facts["stratified"] = False
            return {"stratified": STRATIFIED_MESSAGE.format(c=int(c), n=n, got=got, want=want)}
    return {"stratified": ""}


@check_kind("split", units=(Function,), main=True)
def split(ctx, fn: Function, points: float):
    """Sizes, disjoint and covering sets, labels with their examples, random and seeded (stratify=False)."""
    return _split_check(ctx, fn, points, "split", stratify=False)


@check_kind("split_stratified", units=(Function,))
def split_stratified(ctx, fn: Function, points: float):
    """As `split`, with stratify=True: every class keeps its proportion in the test set."""
    return _split_check(ctx, fn, points, "split_stratified", stratify=True)


# ------------------------------------------------------------------------------------------ save / load


SAVE_MESSAGES = {
    "file_written": _("after save_model(params, {path!r}) there is no file {path!r}."),
    "returned_dict": _("load_model must return a dict of arrays, got {got}."),
    "keys": _("load_model returned the names {got}; saved were {want}."),
    "loads_from_file": _("load_model on a copy of the file saved by save_model (at another path) did not give "
                         "the saved parameters back."),
    "exact": _("load_model's {name} differs from the saved array (shape {got_shape} {got_dtype}, saved "
               "{want_shape} {want_dtype}, or different values)."),
}
# File names inside the child's working folder (its copy of the submission): unlikely to clash.
SAVE_PATHS = ("_grader_roundtrip_a.npz", "_grader_roundtrip_b.npz", "_grader_roundtrip_copy.npz")


def _same_params(loaded, saved: dict) -> tuple[dict, dict]:
    facts = {"returned_dict": isinstance(loaded, dict)}
    messages = {"returned_dict": SAVE_MESSAGES["returned_dict"].format(got=type(loaded).__name__)}
    if not facts["returned_dict"]:
        return facts, messages
    keys = sorted(str(k) for k in loaded)
    facts["keys"] = keys == sorted(saved)
    facts["positional_keys"] = bool(keys) and all(k.startswith("arr_") for k in keys)
    messages["keys"] = SAVE_MESSAGES["keys"].format(got=", ".join(keys) or "none", want=", ".join(sorted(saved)))
    facts["exact"] = facts["keys"]
    for name, want in saved.items():
        got = loaded.get(name)
        if not (isinstance(got, np.ndarray) and got.shape == want.shape and got.dtype == want.dtype
                and np.array_equal(got, want)):
            facts["exact"] = False
            messages["exact"] = SAVE_MESSAGES["exact"].format(
                name=name, got_shape=np.shape(got), got_dtype=getattr(got, "dtype", type(got).__name__),
                want_shape=want.shape, want_dtype=want.dtype)
            break
    return facts, messages


def _mixed_dtypes(models: list[dict], rng) -> list[dict]:
    """The two models of a round trip as a course saves them: float32 and float64 weights, a (1, n) bias
    beside an (n,) one, and an int64 array (a step count, class labels), so that a format that loses
    dtypes or shapes (everything back as float64, biases flattened) shows."""
    first, second = (dict(m) for m in models)
    first["W1"], first["b1"] = first["W1"].astype(np.float32), first["b1"].astype(np.float32).reshape(1, -1)
    second["W2"] = second["W2"].astype(np.float32)
    second["classes"] = rng.permutation(np.arange(len(second["b2"]), dtype=np.int64))
    return [first, second]


@check_kind("save_load", units=(Function,), main=True)
def save_load(ctx, fn: Function, points: float):
    """save_model then load_model through real files in the child's working folder: two models saved,
    each loaded back exactly, and a copy of the first file loaded from a path save_model never saw."""
    first, second, copy = SAVE_PATHS
    held = ("returned_dict", "keys", "exact")

    def body(result):
        loader = fn.partners.get("load")  # the exercise names the function that reads the files back
        if loader is None:
            raise ValueError(f"{fn.name}: the save_load check needs partners={{'load': <the load function>}}")
        save_name, load_name = ctx.student_name(fn.name), ctx.student_name(loader)
        ctx.require(loader)
        for i, case in enumerate(fn.cases):
            rng = ctx.rng(fn.name, "save_load", str(i))
            models = _mixed_dtypes([_draw_inputs(fn, case, rng)["params"] for _model in range(2)], rng)
            label = _("case {i}: {names}").format(i=i + 1, names=", ".join(
                f"{k} {v.shape}" for k, v in models[0].items()))
            call = describe_call(save_name, *_named({"params": models[0], "path": first}))
            # Every file operation runs in the student's process (Sandbox.files): the grader never opens a
            # path in the working folder, where student code may have planted links.
            cleared = ctx.sandbox.files(*(("remove", path) for path in SAVE_PATHS))
            failure = outcome_failure(cleared, _("preparing the working folder"))
            for params, path in zip(models, (first, second)):
                failure = failure or outcome_failure(ctx.call(fn.name, params, path, return_args=False),
                                                     f"{save_name}()")
            # What cannot be established counts as holding: only the first fact that fails is reported.
            facts = {"file_written": False, "returned_dict": True, "keys": True, "positional_keys": False,
                     "exact": True, "loads_from_file": True}
            messages = dict(SAVE_MESSAGES, file_written=SAVE_MESSAGES["file_written"].format(path=first))
            if failure is None:
                found = ctx.sandbox.files(("is_file", first), ("is_file", second), ("copy", first, copy))
                failure = outcome_failure(found, _("checking the saved files"))
                facts["file_written"] = failure is None and all(v is True for v in found.value[:2])
                copied = failure is None and found.value[2] is True
            if failure is None and facts["file_written"]:
                for path, params in ((second, models[1]), (first, models[0]), (copy, models[0])):
                    if path == copy and not copied:
                        facts["loads_from_file"] = False
                        break
                    outcome = ctx.call(loader, path, return_args=False)
                    failure = outcome_failure(outcome, f"{load_name}()")
                    found, texts = _same_params(outcome.value, params) if failure is None else ({}, {})
                    if path == copy:  # failing here means the data was never read from the file
                        facts["loads_from_file"] = failure is None and all(found.get(k) for k in held)
                        failure = None
                    elif failure is None:
                        facts.update(found)
                        messages.update(texts)
                    if failure is not None or not all(facts[k] for k in held):
                        break
            if failure is not None:
                result.cases.append(case_result(label, call, failure, []))
                continue
            order = ("file_written", "returned_dict", "keys", "exact", "loads_from_file")
            result.cases.append(_verdict(fn, "save_load", label, call, facts, {k: messages[k] for k in order}))
    return run_single_threaded(ctx, "save_load", fn, points, body)


# ------------------------------------------------------------------------------------------ predict, cost


@check_kind("params_forward", units=(Function,), main=True)
def params_forward(ctx, fn: Function, points: float):
    """A function of the network's parameter dict (and data) against its PyTorch reference."""
    def body(result):
        name = ctx.student_name(fn.name)
        for i, case in enumerate(fn.cases):
            rng = ctx.rng(fn.name, "params_forward", str(i))
            inputs = _draw_inputs(fn, case, rng)
            values = list(inputs.values())
            label = _("case {i}: X {shape}").format(i=i + 1, shape=np.shape(inputs.get("X")))
            call = describe_call(name, *_named(inputs))
            outcome = ctx.call(fn.name, *values, return_args=False)
            failure = outcome_failure(outcome, f"{name}()")
            if failure is not None:
                result.cases.append(case_result(label, call, failure, []))
                continue
            value, output = outcome.value, fn.outputs[0]
            if len(fn.outputs) > 1:  # (graded output, what the student keeps for later: forward's caches)
                if not isinstance(value, (tuple, list)) or len(value) != len(fn.outputs):
                    result.cases.append(case_result(label, call, _(
                        "{name}() should return a tuple ({outputs}); it returned {got}.").format(
                        name=name, outputs=", ".join(fn.outputs), got=type(value).__name__), []))
                    continue
                value = value[0]
            expected = torch_bridge.forward(fn.reference, inputs)[0]
            mistakes = tuple(m for m in fn.mistakes if m.check == "params_forward")
            wrong = {m.id: torch_bridge.call_numpy(m.reference, values)[0] for m in mistakes}
            row = compare_output(value, expected, output=output, unit=fn, batch_size=case.dims.get("N"),
                                 exact=fn.exact, mistakes=mistakes, mistake_outputs=wrong)
            result.cases.append(case_result(label, call, None, [(output, *row)]))
    return run_single_threaded(ctx, "params_forward", fn, points, body)


# ------------------------------------------------------------------ replays (grade validate, no student code)


def _fact_replay(fn: Function, kind: str, messages: dict, correct: dict, derive=lambda facts: facts):
    """A check that establishes facts: the facts of a right answer, and for each catalogued mistake the first
    single wrong fact (in the check's order, derived facts updated) that its predicate recognises, judged
    by the check's verdict: the right answer passes, each mistake must fail and be named there."""
    def grade(outputs):
        verdict = _verdict(fn, kind, "", "", outputs[0], messages)
        return verdict.passed, verdict.hint.code if verdict.hint else None
    outs = {}
    for mistake in (m for m in fn.mistakes if m.check == kind):
        faults = (derive({**correct, fact: not value}) for fact, value in correct.items())
        found = attempt(lambda mistake=mistake: next((f for f in faults if mistake.reference(f)), None))
        outs[mistake.id] = found if isinstance(found, BaseException) else (found,) if found else \
            ValueError("no single wrong fact makes its predicate hold")
    yield Replay("the facts of a right answer, and one wrong fact at a time", (correct,), ["facts"], grade,
                 outs, trivial=False)


shuffle.replays(lambda ctx, fn: _fact_replay(
    fn, "shuffle", SHUFFLE_MESSAGES, {**dict.fromkeys(SHUFFLE_MESSAGES, True), "identity": False},
    lambda f: {**f, "shuffled": not f["identity"]}))
split.replays(lambda ctx, fn: _fact_replay(fn, "split", SPLIT_MESSAGES, dict.fromkeys(SPLIT_MESSAGES, True)))
split_stratified.replays(lambda ctx, fn: _fact_replay(
    fn, "split_stratified", {**SPLIT_MESSAGES, "stratified": STRATIFIED_MESSAGE},
    dict.fromkeys([*SPLIT_MESSAGES, "stratified"], True)))
save_load.replays(lambda ctx, fn: _fact_replay(
    fn, "save_load", {k: SAVE_MESSAGES[k] for k in ("file_written", "returned_dict", "keys", "exact", "loads_from_file")},
    {"file_written": True, "returned_dict": True, "keys": True, "exact": True, "loads_from_file": True,
     "positional_keys": False}, lambda f: {**f, "keys": f["keys"] and not f["positional_keys"]}))


@params_forward.replays
def _replay_params_forward(ctx, fn: Function):
    mistakes = tuple(m for m in fn.mistakes if m.check == "params_forward")
    for i, case in enumerate(fn.cases):
        rng = ctx.rng(fn.name, "params_forward", str(i))
        inputs = _draw_inputs(fn, case, rng)
        values = list(inputs.values())
        expected = (torch_bridge.forward(fn.reference, inputs)[0],)
        outs = {m.id: attempt(lambda m=m: (torch_bridge.call_numpy(m.reference, values)[0],)) for m in mistakes}
        names = [fn.outputs[0]]
        label = _("case {i}: X {shape}").format(i=i + 1, shape=np.shape(inputs.get("X")))
        yield Replay(label, expected, names, output_grader(expected, names, unit=fn, exact=fn.exact,
                                                          batch_size=case.dims.get("N"), mistakes=mistakes,
                                                          mistake_outputs=outs), outs, trivial=not fn.exact)
