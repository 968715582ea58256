"""PyTorch references for the optimizers.

The graded reference is always a real torch.optim optimizer (from grader/optim.py: the class itself,
without the import of PyTorch's compiler), built with every hyperparameter given explicitly (courses
and torch disagree on defaults) and driven step by step on nn.Parameters. The one-step formulas below
it exist for what torch.optim does not do: the catalogued mistakes and the CS231n momentum convention.
A formula step takes float64 tensors, `step(params, grads, state, t, h) -> (params, state)`, where
params and grads map parameter names to tensors, state maps each state dict's name ("v", "s", ...) to
such a map, t counts steps from 1, and h holds the hyperparameters under the names the student's
update uses.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from grader.lazy import optim, torch

Arrays = dict[str, np.ndarray]


# ----------------------------------------------------------------------------- torch.optim builders


def sgd(parameters, h):
    return optim.SGD(parameters, lr=h["learning_rate"], momentum=0.0, dampening=0.0,
                     weight_decay=h["weight_decay"], nesterov=False, maximize=False, foreach=False)


def sgd_momentum(parameters, h):
    return optim.SGD(parameters, lr=h["learning_rate"], momentum=h["beta"], dampening=h["dampening"],
                     weight_decay=h["weight_decay"], nesterov=False, maximize=False, foreach=False)


def sgd_nesterov(parameters, h):
    # torch refuses nesterov with dampening, so the nesterov update takes none.
    return optim.SGD(parameters, lr=h["learning_rate"], momentum=h["beta"], dampening=0.0,
                     weight_decay=h["weight_decay"], nesterov=True, maximize=False, foreach=False)


def rmsprop(parameters, h):
    return optim.RMSprop(parameters, lr=h["learning_rate"], alpha=h["alpha"], eps=h["epsilon"],
                         weight_decay=h["weight_decay"], momentum=0.0, centered=bool(h["centered"]),
                         maximize=False, foreach=False)


def adam(parameters, h):
    return optim.Adam(parameters, lr=h["learning_rate"], betas=(h["beta1"], h["beta2"]), eps=h["epsilon"],
                      weight_decay=h["weight_decay"], amsgrad=False, maximize=False, foreach=False)


def adamw(parameters, h):
    return optim.AdamW(parameters, lr=h["learning_rate"], betas=(h["beta1"], h["beta2"]), eps=h["epsilon"],
                       weight_decay=h["weight_decay"], amsgrad=False, maximize=False, foreach=False)


# ----------------------------------------------------------------------------- trajectories


def _numpy(tensors: dict[str, torch.Tensor]) -> Arrays:
    return {k: t.detach().numpy().copy() for k, t in tensors.items()}


def torch_trajectory(build: Callable[..., Any], hyper: dict, state_keys: dict[str, str], params: Arrays,
                     grads: list[Arrays], lrs: list[float]) -> list[tuple[Arrays, dict[str, Arrays]]]:
    """(parameters, state) after each step of a torch.optim optimizer; the state is read from the
    optimizer under the student's names (state_keys: "v" -> "momentum_buffer", ...). Keys the optimizer
    does not keep in this configuration (grad_avg when not centered) are left out."""
    tensors = {k: torch.nn.Parameter(torch.tensor(v, dtype=torch.float64)) for k, v in params.items()}
    optimizer = build(list(tensors.values()), hyper)
    out = []
    for t, (grad, lr) in enumerate(zip(grads, lrs), start=1):
        for group in optimizer.param_groups:
            group["lr"] = lr
        for k, p in tensors.items():
            p.grad = torch.tensor(grad[k], dtype=torch.float64)
        optimizer.step()
        state = {}
        for name, key in state_keys.items():
            if all(key in optimizer.state[p] for p in tensors.values()):
                state[name] = {k: optimizer.state[p][key].detach().numpy().copy() for k, p in tensors.items()}
        for p in tensors.values():  # the `t` the student is given is the optimizer's own step count
            assert "step" not in optimizer.state[p] or int(optimizer.state[p]["step"]) == t
        out.append((_numpy(tensors), state))
    return out


def formula_trajectory(step: Callable[..., Any], hyper: dict, state_names, params: Arrays, grads: list[Arrays],
                       lrs: list[float]) -> list[tuple[Arrays, dict[str, Arrays]]]:
    """(parameters, state) after each step of a formula step, from zero state."""
    p = {k: torch.tensor(v, dtype=torch.float64) for k, v in params.items()}
    state = {name: {k: torch.zeros_like(v) for k, v in p.items()} for name in state_names}
    out = []
    with torch.no_grad():
        for t, (grad, lr) in enumerate(zip(grads, lrs), start=1):
            g = {k: torch.tensor(v, dtype=torch.float64) for k, v in grad.items()}
            p, state = step(p, g, state, t, {**hyper, "learning_rate": lr})
            out.append((_numpy(p), {name: _numpy(s) for name, s in state.items()}))
    return out


# ----------------------------------------------------------------------------- formula steps


def _coupled(params, grads, h):
    """The gradient with L2 weight decay added to it (torch's `weight_decay` outside AdamW)."""
    return {k: grads[k] + h["weight_decay"] * params[k] for k in params}


def gd_step(params, grads, state, t, h, *, decay=True, decay_times_lr=True):
    """p -= lr * (g + wd * p). Mistakes: decay ignored; decay not scaled by the learning rate."""
    lr, wd = h["learning_rate"], h["weight_decay"] if decay else 0.0
    if decay_times_lr:
        return {k: params[k] - lr * (grads[k] + wd * params[k]) for k in params}, state
    return {k: params[k] - lr * grads[k] - wd * params[k] for k in params}, state


def momentum_step(params, grads, state, t, h, *, dampen_first_step=False, dampening=True):
    """torch's SGD momentum: buf = g on the first step, then beta * buf + (1 - dampening) * g;
    p -= lr * buf. Mistakes: (1 - dampening) * g on the first step too; dampening ignored."""
    g = _coupled(params, grads, h)
    keep = 1.0 - (h.get("dampening", 0.0) if dampening else 0.0)
    if t == 1:
        v = {k: keep * g[k] if dampen_first_step else g[k].clone() for k in g}
    else:
        v = {k: h["beta"] * state["v"][k] + keep * g[k] for k in g}
    return {k: params[k] - h["learning_rate"] * v[k] for k in params}, {"v": v}


def nesterov_step(params, grads, state, t, h, *, lookahead=True, decay_in_lookahead=True):
    """torch's nesterov: buf as momentum (no dampening); p -= lr * (g + beta * buf).
    Mistakes: the plain momentum step (no lookahead); the lookahead with the gradient before weight decay."""
    g = _coupled(params, grads, h)
    v = {k: g[k].clone() if t == 1 else h["beta"] * state["v"][k] + g[k] for k in g}
    if not lookahead:
        update = v
    else:
        update = {k: (g[k] if decay_in_lookahead else grads[k]) + h["beta"] * v[k] for k in g}
    return {k: params[k] - h["learning_rate"] * update[k] for k in params}, {"v": v}


def cs231n_momentum_step(params, grads, state, t, h):
    """CS231n's convention: v = beta * v - lr * g, p += v. It is -lr times torch's buffer while the
    learning rate stays the same (dampening, as torch's, spares the first step)."""
    g = _coupled(params, grads, h)
    lr, keep = h["learning_rate"], 1.0 - h.get("dampening", 0.0)
    v = {k: -lr * g[k] if t == 1 else h["beta"] * state["v"][k] - lr * keep * g[k] for k in g}
    return {k: params[k] + v[k] for k in params}, {"v": v}


def cs231n_nesterov_step(params, grads, state, t, h):
    """CS231n's nesterov: v_prev = v; v = beta * v - lr * g; p += -beta * v_prev + (1 + beta) * v."""
    g = _coupled(params, grads, h)
    beta, old = h["beta"], state["v"]
    v = {k: beta * old[k] - h["learning_rate"] * g[k] for k in g}
    return {k: params[k] - beta * old[k] + (1 + beta) * v[k] for k in params}, {"v": v}


def rmsprop_step(params, grads, state, t, h, *, eps_inside_sqrt=False, centered=None):
    """torch's RMSprop: s = alpha * s + (1 - alpha) * g**2 (m likewise with g when centered);
    p -= lr * g / (sqrt(s - m**2) + eps). Mistakes: eps inside the square root; centering ignored."""
    g = _coupled(params, grads, h)
    alpha, eps = h["alpha"], h["epsilon"]
    centered = bool(h["centered"]) if centered is None else centered
    s = {k: alpha * state["s"][k] + (1 - alpha) * g[k] ** 2 for k in g}
    m = {k: alpha * state["m"][k] + (1 - alpha) * g[k] for k in g} if centered else state["m"]
    new = {}
    for k in params:
        variance = s[k] - m[k] ** 2 if centered else s[k]
        denom = torch.sqrt(variance + eps) if eps_inside_sqrt else torch.sqrt(variance) + eps
        new[k] = params[k] - h["learning_rate"] * g[k] / denom
    return new, {"s": s, "m": m}


def adam_step(params, grads, state, t, h, *, decoupled=False, bias_correction=True, eps_in_step_size=False,
              decay_times_lr=True):
    """torch's Adam (decoupled=False: weight decay added to g) and AdamW (decoupled=True:
    p *= 1 - lr * wd first). v, s: first and second moments; with bias correction,
    p -= lr * v_hat / (sqrt(s_hat) + eps). Mistakes: no bias correction; eps_in_step_size, the Adam
    paper's efficient form lr * sqrt(1 - beta2**t) / (1 - beta1**t) * v / (sqrt(s) + eps); decoupled
    decay not scaled by the learning rate."""
    lr, wd, b1, b2, eps = h["learning_rate"], h["weight_decay"], h["beta1"], h["beta2"], h["epsilon"]
    if decoupled:
        factor = 1 - (lr * wd if decay_times_lr else wd)
        params = {k: params[k] * factor for k in params}
        g = grads
    else:
        g = _coupled(params, grads, h)
    v = {k: b1 * state["v"][k] + (1 - b1) * g[k] for k in g}
    s = {k: b2 * state["s"][k] + (1 - b2) * g[k] ** 2 for k in g}
    c1, c2 = (1 - b1 ** t, 1 - b2 ** t) if bias_correction else (1.0, 1.0)
    new = {}
    for k in params:
        if eps_in_step_size:
            new[k] = params[k] - lr * c2 ** 0.5 / c1 * v[k] / (torch.sqrt(s[k]) + eps)
        else:
            new[k] = params[k] - lr * (v[k] / c1) / (torch.sqrt(s[k] / c2) + eps)
    return new, {"v": v, "s": s}
