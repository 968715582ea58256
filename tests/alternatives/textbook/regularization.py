"""Correct `regularization` in textbook style: the step-by-step chain rule through batch norm."""
import numpy as np


def dropout_forward(x, mask, p_drop, training):
    if training:
        return np.multiply(x, mask) * (1.0 / (1.0 - p_drop))
    return x.copy()


def dropout_backward(dout, mask, p_drop, training):
    return dout * mask / (1.0 - p_drop) if training else dout.copy()


def batchnorm_forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    if training:
        n = x.shape[0]
        mu = np.sum(x, axis=0) / n
        xc = x - mu
        var = np.sum(xc * xc, axis=0) / n
        out = gamma * xc / np.sqrt(var + eps) + beta
        running_mean = momentum * mu + (1 - momentum) * running_mean
        running_var = momentum * var * (n / (n - 1)) + (1 - momentum) * running_var
        return out, running_mean, running_var
    return (x - running_mean) / np.sqrt(running_var + eps) * gamma + beta, running_mean.copy(), running_var.copy()


def batchnorm_backward(dout, x, gamma, eps):
    n = x.shape[0]
    mu = x.mean(axis=0)
    xc = x - mu
    var = (xc ** 2).mean(axis=0)
    std = np.sqrt(var + eps)
    xhat = xc / std
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    dvar = np.sum(dxhat * xc, axis=0) * -0.5 * std ** -3
    dmu = np.sum(-dxhat / std, axis=0) + dvar * np.mean(-2 * xc, axis=0)
    dx = dxhat / std + dvar * 2 * xc / n + dmu / n
    return dx, dgamma, dbeta
