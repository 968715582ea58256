"""float32 arithmetic throughout (the model solution's algebra) for the `layers` exercise."""
import numpy as np


def _float32(fn):
    """Compute in float32: every float array argument is cast on the way in (a student's float32 code)."""
    def wrapped(*args):
        return fn(*(a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args))
    wrapped.__name__ = fn.__name__
    return wrapped


@_float32
def relu_forward(x):
    return np.maximum(0, x)


@_float32
def relu_backward(dout, x):
    return dout * (x > 0)


@_float32
def sigmoid_forward(x):
    # Two branches so neither exp overflows.
    out = np.empty_like(x, dtype=np.float32)
    positive = x >= 0
    out[positive] = 1.0 / (1.0 + np.exp(-x[positive]))
    e = np.exp(x[~positive])
    out[~positive] = e / (1.0 + e)
    return out


@_float32
def sigmoid_backward(dout, x):
    s = sigmoid_forward(x)
    return dout * s * (1 - s)


@_float32
def tanh_forward(x):
    return np.tanh(x)


@_float32
def tanh_backward(dout, x):
    return dout * (1 - np.tanh(x) ** 2)


@_float32
def softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


@_float32
def softmax_backward(dout, x):
    s = softmax(x)
    return s * (dout - (dout * s).sum(axis=1, keepdims=True))


@_float32
def linear_forward(x, W, b):
    return x @ W + b


@_float32
def linear_backward(dout, x, W, b):
    return dout @ W.T, x.T @ dout, dout.sum(axis=0)


@_float32
def softmax_cross_entropy(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return np.float32(-log_probs[np.arange(len(y)), y].mean())


@_float32
def softmax_cross_entropy_backward(logits, y):
    probs = softmax(logits)
    probs[np.arange(len(y)), y] -= 1
    return probs / len(y)


def sgd_update(param, grad, lr):
    return param.astype(np.float32) - np.float32(lr) * grad.astype(np.float32)
