"""PyTorch references for the functional layers. Every function takes float64 tensors in the
documented argument order and returns what the student's function must return."""
from grader.lazy import F, optim, torch


def relu(x):
    return torch.relu(x)


def sigmoid(x):
    return torch.sigmoid(x)


def tanh(x):
    return torch.tanh(x)


def softmax(x):
    return torch.softmax(x, dim=1)


def linear(x, W, b):
    return x @ W + b


def softmax_cross_entropy(logits, y):
    """Mean cross-entropy of integer labels; F.cross_entropy takes logits, as the student's function."""
    return F.cross_entropy(logits, y, reduction="mean")


def sgd_step(param, grad, lr):
    """One torch.optim.SGD step on a copy of `param` with gradient `grad`."""
    p = torch.nn.Parameter(param.detach().clone())
    p.grad = grad.detach().clone()
    optim.SGD([p], lr=lr, momentum=0.0, dampening=0.0, weight_decay=0.0).step()
    return p.detach()
