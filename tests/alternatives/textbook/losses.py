"""Correct `losses` in another style: logsumexp, xlogy, logaddexp, expit."""
import numpy as np
from scipy.special import expit, logsumexp, xlogy


def softmax_cross_entropy_onehot(logits, y_onehot):
    log_probs = logits - logsumexp(logits, axis=1, keepdims=True)
    return float(-np.sum(y_onehot * log_probs) / logits.shape[0])


def softmax_cross_entropy_onehot_backward(logits, y_onehot):
    probs = np.exp(logits - logsumexp(logits, axis=1, keepdims=True))
    return (probs - y_onehot) / len(logits)


def binary_cross_entropy(probs, y):
    return float(-np.mean(xlogy(y, probs) + xlogy(1 - y, 1 - probs)))


def binary_cross_entropy_backward(probs, y):
    return (probs - y) / (probs * (1 - probs)) / probs.size


def binary_cross_entropy_with_logits(logits, y):
    return float(np.mean(np.logaddexp(0, logits) - y * logits))


def binary_cross_entropy_with_logits_backward(logits, y):
    return (expit(logits) - y) / logits.size


def mean_squared_error(pred, target):
    d = (pred - target).ravel()
    return float(d @ d / d.size)


def mean_squared_error_backward(pred, target):
    return (pred - target) * (2.0 / pred.size)
