"""Check kinds for optimizers written as the course writes them (spec.StateInit, spec.Optimizer).

- `state_init`: init(params) returns the state as dicts of zeros with the keys and shapes of params.
- `steps`: runs of `Optimizer.steps` updates in a row, from the parameters and gradients a real
  torch.optim optimizer gets: after every step the parameters and every state dict must equal torch's,
  the gradients must come back unmodified, and the learning rate changes mid-run.

The student's state travels as plain arrays: each step the grader sends params and state and reads
back what the update returned (or left in its arguments, for in-place updates), so nothing is kept in
the child and every comparison sees the state exactly as the student keeps it (dtype included). A run
stops at its first wrong step; that step is compared with the catalogued mistakes and the other
conventions, run on the same gradients, to name what went wrong.
"""
from __future__ import annotations

import numpy as np

from ..i18n import _
from ..inputs import describe_call
from ..reference import optimizers as refopt
from ..results import FAILED, CaseResult
from ..spec import Mistake, Optimizer, StateInit
from .base import (Replay, Unavailable, attempt, case_result, check_kind, compare_output, outcome_failure,
                   output_grader, run_check)

# Parameter dicts the runs cycle through: two layers with (n,) biases, three with (1, n) biases, so an
# update that hard-codes the number of layers or a bias shape is caught.
PARAM_SETS = (
    {"W1": (4, 3), "b1": (3,), "W2": (3, 2), "b2": (2,)},
    {"W1": (3, 5), "b1": (1, 5), "W2": (5, 4), "b2": (1, 4), "W3": (4, 2), "b3": (1, 2)},
)


def _draw_params(shapes: dict, rng) -> dict[str, np.ndarray]:
    return {k: rng.normal(0.0, 1.0, shape) for k, shape in shapes.items()}


def _draw_grads(shapes: dict, rng) -> dict[str, np.ndarray]:
    # Magnitudes spread over two decades, so that where eps sits (inside or outside a square root) shows.
    return {k: rng.normal(0.0, 1.0, shape) * 10.0 ** rng.uniform(-2.0, 0.0, shape) for k, shape in shapes.items()}


def _plain_dict(value) -> bool:
    """A dict of arrays and numbers: what the grader can compare and send back next step."""
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, (np.ndarray, np.generic, int, float)) for k, v in value.items())


def _compare_dict(output: str, got: dict, want: dict[str, np.ndarray], mistakes=(), mistake_outputs=None,
                  exact: bool = False, brief: bool = False) -> list[tuple]:
    """(output, ok, message, comparison, hint) rows, one per key of `want` (brief: see compare)."""
    rows = []
    for key, expected in want.items():
        label = f"{output}[{key!r}]"
        if key not in got:
            rows.append((label, False, _("{label} is missing: there must be an entry for every parameter.").format(
                label=label), None, None))
            continue
        outputs = {m: out[key] for m, out in (mistake_outputs or {}).items() if key in out}
        rows.append((label, *compare_output(got[key], expected, output=label, exact=exact, mistakes=mistakes,
                                            mistake_outputs=outputs, brief=brief)))
    return rows


# ----------------------------------------------------------------------------- state_init


@check_kind("state_init", units=(StateInit,), main=True)
def state_init(ctx, unit: StateInit, points: float):
    """init(params) returns, for each state name, a dict of zeros shaped like params; params untouched."""
    name = ctx.student_name(unit.name)
    expected = unit.returns[0] if len(unit.returns) == 1 else "(" + ", ".join(unit.returns) + ")"

    def body(result):
        for i, shapes in enumerate(PARAM_SETS):
            params = _draw_params(shapes, ctx.rng(unit.name, "state_init", str(i)))
            label = _("case {i}: {n} parameters").format(i=i + 1, n=len(params))
            call = describe_call(name, ["params"], [params])
            sent = {k: v.copy() for k, v in params.items()}
            outcome = ctx.call(unit.name, params)
            failure = outcome_failure(outcome, f"{name}()")
            if failure is not None:
                result.cases.append(case_result(label, call, failure, []))
                continue
            value = outcome.value
            states = (value,) if len(unit.returns) == 1 and not isinstance(value, (tuple, list)) else value
            if not isinstance(states, (tuple, list)) or len(states) != len(unit.returns) \
                    or not all(isinstance(s, dict) for s in states):
                result.cases.append(case_result(label, call, _(
                    "{name}() should return {expected}: dicts of zeros with the keys of params; it returned "
                    "{got}.").format(name=name, expected=expected, got=type(value).__name__), []))
                continue
            after = outcome.args_after[0] if outcome.args_after else None
            if not isinstance(after, dict) or any(not np.array_equal(after.get(k), v) for k, v in sent.items()):
                result.cases.append(case_result(label, call, _("{name}() modified params; it must only create "
                                                               "the state.").format(name=name), [], FAILED))
                continue
            zeros = {k: np.zeros(v.shape) for k, v in sent.items()}
            rows = [row for state_name, state in zip(unit.returns, states)
                    for row in _compare_dict(state_name, state, zeros, exact=True)]
            result.cases.append(case_result(label, call, None, rows))
    return run_check(ctx, "state_init", unit, name, points, body, ctx.location(unit.name))


# ----------------------------------------------------------------------------- steps


def _conventions(ctx, unit: Optimizer):
    """The convention the assignment grades, and the others (as hints). (None, []) without conventions."""
    if not unit.conventions:
        return None, []
    chosen = ctx.options.get(unit.convention_option, unit.conventions[0].name)
    graded = next((c for c in unit.conventions if c.name == chosen), None)
    if graded is None:
        raise Unavailable(_("the assignment sets {option} = {value!r}; it must be one of: {known}.").format(
            option=unit.convention_option, value=chosen, known=", ".join(c.name for c in unit.conventions)))
    return graded, [c for c in unit.conventions if c is not graded]


class _Run:
    """One run: starting parameters, the gradient of every step, the learning-rate schedule, the graded
    trajectory, and every hint candidate's trajectory (computed only when a step fails)."""

    def __init__(self, ctx, unit: Optimizer, index: int, hyper: dict, graded, others):
        self.unit, self.hyper = unit, hyper
        shapes = PARAM_SETS[index % len(PARAM_SETS)]
        rng = ctx.rng(unit.name, "steps", str(index))
        self.params = _draw_params(shapes, rng)
        self.grads = [_draw_grads(shapes, rng) for _ in range(unit.steps)]
        change, factor = unit.lr_change
        lr = float(hyper["learning_rate"])
        self.lrs = [lr if t < change else lr * factor for t in range(1, unit.steps + 1)]
        self.graded = self._trajectory(graded.step if graded else None)
        # Other conventions read like catalogued mistakes: a formula that explains what the student did.
        # They come first: a mistake relative to torch's convention may coincide with torch's itself.
        self.candidates = [
            (Mistake(f"{unit.convention_option}_{c.name}", c.explanation, c.step or unit.reference, check="steps"),
             c.step) for c in others] + [(m, m.reference) for m in unit.mistakes if m.check == "steps"]
        self._alternatives = None

    def _trajectory(self, step):
        """[(params, state)] after each step: torch.optim's (step None) or a formula's."""
        if step is None:
            return refopt.torch_trajectory(self.unit.reference, self.hyper, self.unit.state, self.params, self.grads,
                                           self.lrs)
        return refopt.formula_trajectory(step, self.hyper, list(self.unit.state), self.params, self.grads, self.lrs)

    def alternatives(self) -> dict[str, list]:
        """Every hint candidate's trajectory, by mistake id (computed once, when a step first fails)."""
        if self._alternatives is None:
            self._alternatives = {m.id: self._trajectory(step) for m, step in self.candidates}
        return self._alternatives


def _read_back(unit: Optimizer, name: str, outcome, arg_names) -> tuple[dict, dict] | str:
    """(params, state) after a step, from the return value or, for in-place updates, the arguments."""
    after = dict(zip(arg_names, outcome.args_after))
    value = outcome.value
    if value is None:
        params, state = after.get(unit.params_arg), {s: after.get(s) for s in unit.state}
    elif isinstance(value, dict):  # params returned; any state updated in place
        params, state = value, {s: after.get(s) for s in unit.state}
    elif isinstance(value, (tuple, list)) and len(value) == 1 + len(unit.state):
        params, state = value[0], dict(zip(unit.state, value[1:]))
    else:
        expected = unit.params_arg if not unit.state else "(" + ", ".join((unit.params_arg, *unit.state)) + ")"
        return _("{name}() should return {expected}, or update in place and return None; it returned "
                 "{got}.").format(name=name, expected=expected, got=type(value).__name__)
    for what, d in ((unit.params_arg, params), *state.items()):
        if not _plain_dict(d):
            return _("after {name}(), {what} is not a dict of arrays (got {got}).").format(
                name=name, what=what, got=type(d).__name__)
    return params, state


def _run_case(ctx, unit: Optimizer, run: _Run, label: str) -> CaseResult:
    name = ctx.student_name(unit.name)
    params = {k: v.copy() for k, v in run.params.items()}
    state = {s: {k: np.zeros(v.shape) for k, v in run.params.items()} for s in unit.state}
    change = unit.lr_change[0]
    call = ""
    for t, (grads, lr, (want_params, want_state)) in enumerate(zip(run.grads, run.lrs, run.graded), start=1):
        hyper = {**run.hyper, "learning_rate": lr}
        arguments = {unit.params_arg: params, "grads": {unit.grad_key.format(k): g.copy() for k, g in grads.items()},
                     "t": t, **state, **hyper}
        values = [arguments[a] for a in unit.args]
        call = describe_call(name, unit.args, values)
        where = _("step {t} of {n}").format(t=t, n=unit.steps) + (
            _(" (the learning rate changed to {lr:g} at this step)").format(lr=lr) if t == change else "")
        sent = {k: np.array(v, copy=True) for k, v in params.items()}
        outcome = ctx.call(unit.name, *values)
        failure = outcome_failure(outcome, f"{name}()")
        read = _read_back(unit, name, outcome, unit.args) if failure is None else failure
        if isinstance(read, str):
            return case_result(label, call, f"{where}: {read}", [])
        params, state = read
        if outcome.value is None and all(np.array_equal(params.get(k), v) for k, v in sent.items()):
            return case_result(label, call, f"{where}: " + _(
                "{name}() returned None and left params as they were: return the updated dicts, or update them "
                "in place (params[k] -= ..., not params = ...).").format(name=name), [], FAILED)
        returned = dict(zip(unit.args, outcome.args_after)).get("grads")
        changed = [unit.grad_key.format(k) for k, g in grads.items()
                   if not (isinstance(returned, dict) and np.array_equal(returned.get(unit.grad_key.format(k)), g))]
        if changed:
            return case_result(label, call, f"{where}: " + _(
                "{name}() modified grads[{key!r}]; an update must leave the gradients as they are.").format(
                name=name, key=changed[0]), [], FAILED)
        targets = [("params", params, want_params)] + [(s, state[s], want) for s, want in want_state.items()]
        wrong = next(((what, got, key, want[key]) for what, got, want in targets
                      for key, row in zip(want, _compare_dict(what, got, want, brief=True)) if not row[1]), None)
        if wrong is None:
            continue
        # Compare the first wrong output with every hint candidate's trajectory at this step, to name it.
        what, got, key, expected = wrong
        mistake_outputs = {m: traj[t - 1][0] if what == "params" else traj[t - 1][1].get(what, {})
                           for m, traj in run.alternatives().items()}
        rows = _compare_dict(what, got, {key: expected}, mistakes=tuple(m for m, _step in run.candidates),
                             mistake_outputs=mistake_outputs)
        result = case_result(label, call, None, rows)
        result.message = f"{where}: {result.message}"
        return result
    return CaseResult(label=label, passed=True, call=call)


@check_kind("steps", units=(Optimizer,), main=True)
def steps(ctx, unit: Optimizer, points: float):
    """Many steps in a row against torch.optim (or the convention the assignment grades)."""
    name = ctx.student_name(unit.name)

    def body(result):
        ctx.require(unit.name)
        graded, others = _conventions(ctx, unit)
        for i, hyper in enumerate(unit.runs):
            run = _Run(ctx, unit, i, hyper, graded, others)
            settings = ", ".join(f"{k}={v}" for k, v in hyper.items())
            change, factor = unit.lr_change
            label = _("run {i}: {settings}; {n} parameters; the learning rate times {factor:g} from step "
                      "{step}").format(i=i + 1, settings=settings, n=len(run.params), factor=factor, step=change)
            result.cases.append(_run_case(ctx, unit, run, label))
    return run_check(ctx, "steps", unit, name, points, body, ctx.location(unit.name))


# ------------------------------------------------------------------ replays (grade validate, no student code)


def _flatten(trajectory, keys: list[tuple[str, str]]) -> tuple:
    """Every graded value of a trajectory in the order the check compares them: step by step, params then
    each state dict, key by key."""
    return tuple(np.asarray((params if what == "params" else state.get(what, {})).get(key, np.nan))
                 for params, state in trajectory for what, key in keys)


@steps.replays
def _replay_steps(ctx, unit: Optimizer):
    """Each run: the graded trajectory (torch.optim's, or the convention the assignment grades) and every
    hint candidate's (catalogued mistakes, and the other conventions), compared as the check compares a
    student's steps: the first wrong value decides, named by the candidate that explains it."""
    graded, others = _conventions(ctx, unit)
    for i, hyper in enumerate(unit.runs):
        run = _Run(ctx, unit, i, hyper, graded, others)
        params, state = run.graded[0]
        keys = [("params", k) for k in params] + [(s, k) for s in state for k in state[s]]
        names = [f"step {t}: {what}[{key!r}]" for t in range(1, len(run.graded) + 1) for what, key in keys]
        expected = _flatten(run.graded, keys)
        outs = {m.id: attempt(lambda m=m: _flatten(run.alternatives()[m.id], keys)) for m, _step in run.candidates}
        mistakes = tuple(m for m, _step in run.candidates)
        yield Replay(f"run {i + 1}", expected, names,  # validate's report is in English
                     output_grader(expected, names, mistakes=mistakes, mistake_outputs=outs), outs)


@state_init.replays
def _replay_state_init(ctx, unit: StateInit):
    """Zeros shaped like each parameter set; nothing else is right, so an all-zero output is the answer
    (no loose check)."""
    for i, shapes in enumerate(PARAM_SETS):
        params = _draw_params(shapes, ctx.rng(unit.name, "state_init", str(i)))
        names = [f"{state}[{k!r}]" for state in unit.returns for k in params]
        expected = tuple(np.zeros(v.shape) for _state in unit.returns for v in params.values())
        yield Replay(_("case {i}: {n} parameters").format(i=i + 1, n=len(params)), expected, names,
                     output_grader(expected, names, exact=True), trivial=False)
