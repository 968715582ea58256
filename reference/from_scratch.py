"""PyTorch references of the `from_scratch` exercise: the course's L-layer network as a set of functions.

The network is batch-first, as the course's NeuralNetwork class: X is (N, n0), parameters hold
Wl (n_{l-1}, n_l) and bl (n_l,) or (1, n_l) for l = 1..L; hidden layers are ReLU, the output layer is
a softmax over the classes, and the cost is the mean cross-entropy -(Y * log AL).sum(1).mean() of
one-hot labels Y (N, C). Gradients come from torch autograd; optimizer trajectories from torch.optim
itself, driven on the network's own gradients (reference/optimizers.py builds the optimizers).
"""
from __future__ import annotations

import math

import numpy as np
import torch

ACTIVATIONS = ("relu", "sigmoid", "tanh")


def _tensor(value):
    return value if torch.is_tensor(value) else torch.as_tensor(np.asarray(value, dtype=np.float64))


def depth(parameters) -> int:
    return sum(1 for k in parameters if k.startswith("W"))


# ----------------------------------------------------------------------------- activations


def activation(Z, name):
    """relu, sigmoid or tanh of Z, elementwise."""
    return {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[name](Z)


def activation_derivative(Z, name):
    """The elementwise derivative of `activation(., name)` at Z, by autograd (ReLU's is 0 at 0, as torch's)."""
    with torch.enable_grad():
        Z = Z.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(activation(Z, name).sum(), Z)
    return grad


# ----------------------------------------------------------------------------- the network


def forward(parameters, X, hidden=torch.relu):
    """AL, the softmax probabilities (N, C)."""
    p = {k: _tensor(v) for k, v in parameters.items()}
    A = _tensor(X)
    L = depth(p)
    for layer in range(1, L + 1):
        Z = A @ p[f"W{layer}"] + p[f"b{layer}"].reshape(-1)
        A = hidden(Z) if layer < L else torch.softmax(Z, dim=1)
    return A


def cost(AL, Y):
    """The mean cross-entropy of probabilities AL (N, C) for one-hot Y (N, C)."""
    return -(Y * torch.log(AL)).sum(dim=1).mean()


def predict(parameters, X):
    return forward(parameters, X).argmax(dim=1)


def gradients(parameters: dict, X: np.ndarray, Y: np.ndarray, loss=None) -> tuple[float, dict]:
    """The cost and its gradients {"dW1": ..., "db1": ...} (each in its parameter's shape), by autograd.
    `loss(params, X, Y)` replaces the course's cost (catalogued mistakes use it)."""
    tensors = {k: torch.tensor(np.asarray(v, dtype=np.float64), requires_grad=True) for k, v in parameters.items()}
    X, Y = _tensor(X), _tensor(Y)
    value = (loss or (lambda p, x, y: cost(forward(p, x), y)))(tensors, X, Y)
    grads = torch.autograd.grad(value, list(tensors.values()))
    return float(value.detach()), {f"d{k}": g.numpy() for k, g in zip(tensors, grads)}


# ----------------------------------------------------------------------------- initialization


def init_distribution(fan_in, fan_out, method):
    """The distribution of every weight of a layer: He (kaiming_normal_, fan_in, ReLU gain) or Xavier
    (xavier_normal_, gain 1), as torch.nn.init draws them."""
    from . import init
    std = math.sqrt(2.0 / fan_in) if method == "he" else math.sqrt(2.0 / (fan_in + fan_out))
    return init.normal(std)


# ----------------------------------------------------------------------------- training


def trajectory(build, hyper: dict, parameters: dict, X: np.ndarray, Y: np.ndarray, iterations: int,
               step=None) -> tuple[np.ndarray, dict]:
    """(costs, final parameters) of `iterations` full-batch steps from `parameters`: costs[i] is the cost
    before step i + 1. The step is torch.optim's (`build(parameters, hyper)`, reference/optimizers.py) or,
    when `step` is given, a one-step formula of reference/optimizers.py (catalogued mistakes)."""
    p = {k: torch.nn.Parameter(torch.tensor(np.asarray(v, dtype=np.float64))) for k, v in parameters.items()}
    X, Y = _tensor(X), _tensor(Y)
    optimizer = build(list(p.values()), hyper) if step is None else None
    state = {name: {k: torch.zeros_like(v) for k, v in p.items()} for name in ("v", "s", "m")}
    costs = []
    for t in range(1, iterations + 1):
        value = cost(forward(p, X), Y)
        costs.append(float(value.detach()))
        grads = torch.autograd.grad(value, list(p.values()))
        with torch.no_grad():
            if optimizer is not None:
                for param, grad in zip(p.values(), grads):
                    param.grad = grad
                optimizer.step()
            else:
                new, state = step({k: v.detach() for k, v in p.items()}, dict(zip(p, grads)), state, t, hyper)
                for k, v in new.items():
                    p[k].copy_(v)
    return np.array(costs), {k: v.detach().numpy().copy() for k, v in p.items()}
