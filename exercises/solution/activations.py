"""Model solution of the `activations` exercise."""
import numpy as np
from scipy.special import erf


def leaky_relu_forward(x, negative_slope):
    return np.where(x > 0, x, negative_slope * x)


def leaky_relu_backward(dout, x, negative_slope):
    return dout * np.where(x > 0, 1.0, negative_slope)


def gelu_forward(x):
    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def gelu_backward(dout, x):
    cdf = 0.5 * (1 + erf(x / np.sqrt(2)))
    pdf = np.exp(-0.5 * x ** 2) / np.sqrt(2 * np.pi)
    return dout * (cdf + x * pdf)


def log_softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def log_softmax_backward(dout, x):
    s = np.exp(log_softmax(x))
    return dout - s * dout.sum(axis=1, keepdims=True)
