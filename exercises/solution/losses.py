"""Model solution of the `losses` exercise."""
import numpy as np


def _log_softmax_rows(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax_cross_entropy_onehot(logits, y_onehot):
    return float(-(y_onehot * _log_softmax_rows(logits)).sum() / logits.shape[0])


def softmax_cross_entropy_onehot_backward(logits, y_onehot):
    return (np.exp(_log_softmax_rows(logits)) - y_onehot) / logits.shape[0]


def binary_cross_entropy(probs, y):
    return float(-np.mean(y * np.log(probs) + (1 - y) * np.log(1 - probs)))


def binary_cross_entropy_backward(probs, y):
    return -(y / probs - (1 - y) / (1 - probs)) / probs.size


def binary_cross_entropy_with_logits(logits, y):
    return float(np.mean(np.maximum(logits, 0) - logits * y + np.log1p(np.exp(-np.abs(logits)))))


def binary_cross_entropy_with_logits_backward(logits, y):
    # sigmoid from exp(-|z|), which never overflows
    e = np.exp(-np.abs(logits))
    s = np.where(logits >= 0, 1 / (1 + e), e / (1 + e))
    return (s - y) / logits.size


def mean_squared_error(pred, target):
    return float(np.mean((pred - target) ** 2))


def mean_squared_error_backward(pred, target):
    return 2 * (pred - target) / pred.size
