"""Correct `scipy_network` in another style: expit, logsumexp, one-hot labels, einsum."""
import numpy as np
from scipy.special import expit, logsumexp


def cost_function(flat_params, input_size, hidden_size, num_labels, X, y, lambda_):
    D, H, C = input_size, hidden_size, num_labels
    i = 0
    W1 = flat_params[i:i + D * H].reshape(D, H); i += D * H
    b1 = flat_params[i:i + H]; i += H
    W2 = flat_params[i:i + H * C].reshape(H, C); i += H * C
    b2 = flat_params[i:i + C]
    m = len(X)
    Y = np.eye(C)[y]
    A1 = expit(X @ W1 + b1)
    Z2 = A1 @ W2 + b2
    log_p = Z2 - logsumexp(Z2, axis=1, keepdims=True)
    J = -np.sum(Y * log_p) / m + lambda_ / (2 * m) * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dZ2 = (np.exp(log_p) - Y) / m
    dZ1 = np.einsum("nc,hc->nh", dZ2, W2) * A1 * (1 - A1)
    grad = [X.T @ dZ1 + (lambda_ / m) * W1, dZ1.sum(0), A1.T @ dZ2 + (lambda_ / m) * W2, dZ2.sum(0)]
    return J, np.concatenate([g.ravel() for g in grad])
