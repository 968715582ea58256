"""PyTorch references for the `activations` exercise: float64 tensors in the documented argument
order, the student's return value out."""
from grader.lazy import F


def leaky_relu(x, negative_slope):
    return F.leaky_relu(x, negative_slope=negative_slope)


def gelu(x):
    return F.gelu(x, approximate="none")  # the exact erf form


def log_softmax(x):
    return F.log_softmax(x, dim=1)
