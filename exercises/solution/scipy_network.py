"""Model solution of the `scipy_network` exercise (the bundled example submission)."""
import numpy as np


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|


def cost_function(flat_params, input_size, hidden_size, num_labels, X, y, lambda_):
    D, H, C = input_size, hidden_size, num_labels
    sizes = [D * H, H, H * C, C]
    W1, b1, W2, b2 = np.split(flat_params, np.cumsum(sizes)[:-1])
    W1, W2 = W1.reshape(D, H), W2.reshape(H, C)
    m = X.shape[0]

    A1 = _sigmoid(X @ W1 + b1)
    Z2 = A1 @ W2 + b2
    Z2 = Z2 - Z2.max(axis=1, keepdims=True)
    P = np.exp(Z2)
    P /= P.sum(axis=1, keepdims=True)
    rows = np.arange(m)
    J = -np.log(P[rows, y]).mean() + lambda_ / (2 * m) * ((W1 ** 2).sum() + (W2 ** 2).sum())

    dZ2 = P.copy()
    dZ2[rows, y] -= 1
    dZ2 /= m
    dW2 = A1.T @ dZ2 + lambda_ / m * W2
    db2 = dZ2.sum(axis=0)
    dZ1 = (dZ2 @ W2.T) * A1 * (1 - A1)
    dW1 = X.T @ dZ1 + lambda_ / m * W1
    db1 = dZ1.sum(axis=0)
    return float(J), np.concatenate([dW1.ravel(), db1, dW2.ravel(), db2])
