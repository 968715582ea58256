"""Correct `layers` in textbook style: Jacobian products, einsum, logsumexp, new arrays, (1, n) views."""
import numpy as np
from scipy.special import expit, logsumexp


def relu_forward(x):
    return x * (x > 0)


def relu_backward(dout, x):
    return np.where(x > 0, dout, 0.0)


def sigmoid_forward(x):
    return expit(x)


def sigmoid_backward(dout, x):
    # s * (1 - s) = exp(-softplus(-x) - softplus(x)): another algebra, no cancellation
    return dout * np.exp(-np.logaddexp(0, -x) - np.logaddexp(0, x))


def tanh_forward(x):
    return 2 * expit(2 * x) - 1


def tanh_backward(dout, x):
    return dout / np.cosh(x) ** 2


def softmax(x):
    return np.exp(x - logsumexp(x, axis=1, keepdims=True))


def softmax_backward(dout, x):
    s = softmax(x)
    # the per-row Jacobian diag(s) - s s^T, applied to dout (the textbook form)
    return np.stack([(np.diag(row) - np.outer(row, row)) @ d for row, d in zip(s, dout)])


def linear_forward(x, W, b):
    return np.einsum("nd,dh->nh", x, W) + np.reshape(b, (1, -1))


def linear_backward(dout, x, W, b):
    dx = np.einsum("nh,dh->nd", dout, W)
    dW = np.einsum("nd,nh->dh", x, dout)
    db = np.ones(dout.shape[0]) @ dout
    return dx, dW, db.reshape(np.shape(b))


def softmax_cross_entropy(logits, y):
    n = logits.shape[0]
    return float(np.mean(logsumexp(logits, axis=1) - logits[np.arange(n), y]))


def softmax_cross_entropy_backward(logits, y):
    n, c = logits.shape
    return (softmax(logits) - np.eye(c)[y]) / n


def sgd_update(param, grad, lr):
    return param - lr * grad
