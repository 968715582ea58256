"""PyTorch reference of the SciPy exercise: the cost and gradient of a two-layer network with its
parameters packed into one flat vector, as scipy.optimize.minimize needs them.

Network: A1 = sigmoid(X @ W1 + b1), P = softmax(A1 @ W2 + b2); cost
J = -mean_i log P[i, y[i]] + lambda_ / (2 m) * (sum(W1**2) + sum(W2**2)), biases not regularized.

Packing (the assignment may choose another): the blocks W1, b1, W2, b2, in that order, each flattened
in C order. In the features-first layout the weights are W1 (H, D) and W2 (C, H) and X is (D, m);
the formula is the same network.
"""
import numpy as np

from grader.lazy import torch

BLOCKS = ("W1", "b1", "W2", "b2")
ORDERS = ("C", "F")


def shapes(input_size, hidden_size, num_labels, features_first=False) -> dict[str, tuple[int, ...]]:
    D, H, C = int(input_size), int(hidden_size), int(num_labels)
    if features_first:
        return {"W1": (H, D), "b1": (H,), "W2": (C, H), "b2": (C,)}
    return {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}


def size(shapes_: dict) -> int:
    return sum(int(np.prod(s)) for s in shapes_.values())


def _block(piece, shape, order):
    if not torch.is_tensor(piece):
        return piece.reshape(shape, order=order)
    if order == "F":  # NumPy's reshape(order="F"): the reversed shape in C order, axes reversed
        return piece.reshape(shape[::-1]).permute(*reversed(range(len(shape))))
    return piece.reshape(shape)


def unpack(flat, shapes_: dict, blocks=BLOCKS, order="C") -> dict:
    """The blocks of a flat tensor (or array) in their shapes."""
    out, start = {}, 0
    for name in blocks:
        n = int(np.prod(shapes_[name]))
        out[name] = _block(flat[start:start + n], shapes_[name], order)
        start += n
    return out


def pack(params: dict, blocks=BLOCKS, order="C") -> np.ndarray:
    return np.concatenate([np.asarray(params[name], dtype=np.float64).ravel(order=order) for name in blocks])


def batch_first(params: dict, features_first: bool) -> dict:
    """Weights as X @ W uses them."""
    if not features_first:
        return params
    return {**params, "W1": params["W1"].T, "W2": params["W2"].T}


def logits(params: dict, X, *, sigmoid_derivative=True):
    """sigmoid_derivative=False: the same values, but backpropagation passes the hidden layer's gradient
    through sigmoid as if its derivative were 1 (a catalogued mistake)."""
    z = X @ params["W1"] + params["b1"].reshape(-1)
    hidden = torch.sigmoid(z) if sigmoid_derivative else z + (torch.sigmoid(z) - z).detach()
    return hidden @ params["W2"] + params["b2"].reshape(-1)


def cost(params: dict, X, y, lambda_, *, regularize_biases=False, reg_factor=0.5, reduction="mean",
         sigmoid_derivative=True):
    """J in float64; the keyword arguments describe catalogued mistakes (the defaults are the formula)."""
    m = X.shape[0]
    data = torch.nn.functional.cross_entropy(logits(params, X, sigmoid_derivative=sigmoid_derivative), y,
                                             reduction=reduction)
    names = ("W1", "W2", "b1", "b2") if regularize_biases else ("W1", "W2")
    return data + reg_factor * lambda_ / m * sum((params[k] ** 2).sum() for k in names)


def cost_and_grad(flat, input_size, hidden_size, num_labels, X, y, lambda_, *, blocks=BLOCKS, order="C",
                  features_first=False, grad_order=None, **variant):
    """(J, grad) as NumPy float64 by autograd through the unpacking, so grad is packed like flat.
    X is batch-first (N, D), y (N,) integer labels. `grad_order` packs the gradient in another order
    (a catalogued mistake); `variant` goes to `cost`."""
    theta = torch.tensor(np.asarray(flat, dtype=np.float64), requires_grad=True)
    layout = shapes(input_size, hidden_size, num_labels, features_first)
    params = batch_first(unpack(theta, layout, blocks, order), features_first)
    J = cost(params, torch.as_tensor(np.asarray(X, dtype=np.float64)), torch.as_tensor(np.asarray(y)),
             float(lambda_), **variant)
    (grad,) = torch.autograd.grad(J, theta)
    grad = grad.numpy()
    if grad_order is not None and grad_order != order:  # the same gradient, packed in the other order
        grad = pack(unpack(grad, layout, blocks, order), blocks, grad_order)
    return float(J.detach()), grad


def accuracy(flat, input_size, hidden_size, num_labels, X, y, *, blocks=BLOCKS, order="C",
             features_first=False) -> float:
    """Accuracy on (X (N, D), y) of the network with these packed parameters."""
    layout = shapes(input_size, hidden_size, num_labels, features_first)
    params = batch_first(unpack(torch.as_tensor(np.asarray(flat, dtype=np.float64)), layout, blocks, order),
                         features_first)
    with torch.no_grad():
        predicted = logits(params, torch.as_tensor(np.asarray(X, dtype=np.float64))).argmax(dim=1).numpy()
    return float(np.mean(predicted == np.asarray(y)))
