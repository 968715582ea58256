"""PyTorch references of the course's utilities.

predict and compute_cost evaluate the two-layer network of the `network` exercise (Linear -> ReLU ->
Linear -> softmax) from a parameter dict W1 (D, H), b1 (H,), W2 (H, C), b2 (C,) of NumPy arrays.
shuffle_data, split_data and save_model/load_model are correct implementations of the documented
behaviour; their checks test properties (pairing, disjointness, a round trip), never equality with
these, since the randomness and the file format are the student's.
"""
import math

import numpy as np

from grader.lazy import F, torch


def _tensor(value):
    return torch.as_tensor(np.asarray(value, dtype=np.float64)) if not torch.is_tensor(value) else value


def logits(params, X):
    p = {k: _tensor(v) for k, v in params.items()}
    hidden = torch.relu(_tensor(X) @ p["W1"] + p["b1"].reshape(-1))
    return hidden @ p["W2"] + p["b2"].reshape(-1)


def predict(params, X):
    """The most probable class of each row, (N,) integers."""
    return logits(params, X).argmax(dim=1)


def compute_cost(params, X, y):
    """Mean softmax cross-entropy of integer labels y (N,) under the network."""
    return F.cross_entropy(logits(params, X), torch.as_tensor(y), reduction="mean")


def shuffle_data(X, y, seed):
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(int(seed)))
    return X[order], y[order]


def split_data(X, y, test_size, seed, stratify):
    """(X_train, X_test, y_train, y_test); ceil(test_size * n) test examples of every class when stratified."""
    generator = torch.Generator().manual_seed(int(seed))
    groups = [torch.nonzero(y == c).flatten() for c in torch.unique(y)] if stratify else [torch.arange(len(y))]
    test, train = [], []
    for group in groups:
        group = group[torch.randperm(len(group), generator=generator)]
        n_test = math.ceil(test_size * len(group))
        test.append(group[:n_test])
        train.append(group[n_test:])
    test, train = torch.cat(test), torch.cat(train)
    return X[train], X[test], y[train], y[test]


def save_model(params, path):
    torch.save({k: _tensor(v) for k, v in params.items()}, path)


def load_model(path):
    return {k: v.numpy() for k, v in torch.load(path, weights_only=True).items()}
