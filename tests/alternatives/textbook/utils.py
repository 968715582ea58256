"""Correct `utils` in another style: shuffled index arrays, a pickle file, logsumexp cost."""
import pickle

import numpy as np
from scipy.special import logsumexp


def shuffle_data(X, y, seed):
    idx = np.arange(len(X))
    np.random.default_rng(seed).shuffle(idx)
    return X[idx].copy(), y[idx].copy()


def split_data(X, y, test_size, seed, stratify):
    rng = np.random.default_rng(seed)
    n = len(y)
    if stratify:
        test = []
        for c in np.unique(y):
            members = np.flatnonzero(y == c)
            test.extend(rng.choice(members, int(np.ceil(test_size * len(members))), replace=False))
        is_test = np.zeros(n, bool)
        is_test[test] = True
    else:
        is_test = np.zeros(n, bool)
        is_test[rng.permutation(n)[:int(np.ceil(test_size * n))]] = True
    train, test = rng.permutation(np.flatnonzero(~is_test)), rng.permutation(np.flatnonzero(is_test))
    return X[train], X[test], y[train], y[test]


def save_model(params, path):
    with open(path, "wb") as f:
        pickle.dump({k: np.array(v) for k, v in params.items()}, f)


def load_model(path):
    with open(path, "rb") as f:
        return pickle.load(f)


def predict(params, X):
    hidden = np.maximum(X @ params["W1"] + params["b1"].reshape(1, -1), 0)
    return (hidden @ params["W2"] + params["b2"].reshape(1, -1)).argmax(axis=1)


def compute_cost(params, X, y):
    hidden = np.maximum(X @ params["W1"] + params["b1"].reshape(1, -1), 0)
    scores = hidden @ params["W2"] + params["b2"].reshape(1, -1)
    return float(np.mean(logsumexp(scores, axis=1) - scores[np.arange(len(y)), y]))
