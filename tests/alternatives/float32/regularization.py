"""float32 arithmetic throughout (the model solution's algebra) for the `regularization` exercise."""
import numpy as np


def _float32(fn):
    """Compute in float32: every float array argument is cast on the way in (a student's float32 code)."""
    def wrapped(*args):
        return fn(*(a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args))
    wrapped.__name__ = fn.__name__
    return wrapped


@_float32
def dropout_forward(x, mask, p_drop, training):
    if not training:
        return x
    return x * mask / (1 - p_drop)


@_float32
def dropout_backward(dout, mask, p_drop, training):
    if not training:
        return dout
    return dout * mask / (1 - p_drop)


@_float32
def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    if not training:
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        return out, running_mean, running_var
    n = x.shape[0]
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    out = gamma * (x - mu) / np.sqrt(var + eps) + beta
    new_mean = (1 - momentum) * running_mean + momentum * mu
    new_var = (1 - momentum) * running_var + momentum * var * n / (n - 1)
    return out, new_mean, new_var


@_float32
def batchnorm_backward(dout, x, gamma, eps):
    mu = x.mean(axis=0)
    inv_std = 1 / np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - mu) * inv_std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = gamma * inv_std * (dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0))
    return dx, dgamma, dbeta
