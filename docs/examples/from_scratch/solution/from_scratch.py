"""Model solution of the `from_scratch` exercise: the course's function list for an L-layer network."""
import matplotlib.pyplot as plt
import numpy as np


def activation_function(Z, name):
    if name == "relu":
        return np.maximum(0, Z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if name == "tanh":
        return np.tanh(Z)
    raise ValueError(f"unknown activation {name!r}")


def activation_derivative(Z, name):
    if name == "relu":
        return (Z > 0).astype(float)
    A = activation_function(Z, name)
    if name == "sigmoid":
        return A * (1 - A)
    return 1 - A ** 2


def initialize_parameters(layer_dims, seed, method="he"):
    rng = np.random.default_rng(seed)
    parameters = {}
    for l in range(1, len(layer_dims)):
        fan_in, fan_out = layer_dims[l - 1], layer_dims[l]
        std = np.sqrt(2 / fan_in) if method == "he" else np.sqrt(2 / (fan_in + fan_out))
        parameters[f"W{l}"] = rng.standard_normal((fan_in, fan_out)) * std
        parameters[f"b{l}"] = np.zeros((1, fan_out))
    return parameters


def softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


def forward_propagation(X, parameters):
    L = len(parameters) // 2
    A, caches = X, []
    for l in range(1, L + 1):
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        Z = A @ W + b
        caches.append((A, W, b, Z))
        A = activation_function(Z, "relu") if l < L else softmax(Z)
    return A, caches


def compute_cost(AL, Y):
    return float(-(Y * np.log(AL)).sum(axis=1).mean())


def backward_propagation(AL, Y, caches):
    grads = {}
    L = len(caches)
    dZ = (AL - Y) / Y.shape[0]
    for l in range(L, 0, -1):
        A_prev, W, b, _ = caches[l - 1]
        grads[f"dW{l}"] = A_prev.T @ dZ
        grads[f"db{l}"] = dZ.sum(axis=0).reshape(b.shape)
        if l > 1:
            dZ = (dZ @ W.T) * activation_derivative(caches[l - 2][3], "relu")
    return grads


def update_parameters(parameters, grads, learning_rate):
    return {k: v - learning_rate * grads["d" + k] for k, v in parameters.items()}


def predict(X, parameters):
    AL, _ = forward_propagation(X, parameters)
    return np.argmax(AL, axis=1)


def initialize_velocity(parameters):
    return {k: np.zeros_like(v) for k, v in parameters.items()}


def initialize_adam(parameters):
    return initialize_velocity(parameters), initialize_velocity(parameters)


def optimize(X, Y, layer_dims, optimizer="gd", learning_rate=0.01, num_iterations=1000, beta=0.9, beta1=0.9,
             beta2=0.999, epsilon=1e-8, parameters=None, seed=0):
    if parameters is None:
        parameters = initialize_parameters(layer_dims, seed)
    parameters = {k: np.array(v, dtype=float) for k, v in parameters.items()}
    v = initialize_velocity(parameters)
    v, s = initialize_adam(parameters) if optimizer == "adam" else (v, None)
    costs = []
    for t in range(1, num_iterations + 1):
        AL, caches = forward_propagation(X, parameters)
        costs.append(compute_cost(AL, Y))
        grads = backward_propagation(AL, Y, caches)
        if optimizer == "gd":
            parameters = update_parameters(parameters, grads, learning_rate)
            continue
        for k in parameters:
            g = grads["d" + k]
            if optimizer == "momentum":
                v[k] = beta * v[k] + g
                parameters[k] -= learning_rate * v[k]
            elif optimizer == "adam":
                v[k] = beta1 * v[k] + (1 - beta1) * g
                s[k] = beta2 * s[k] + (1 - beta2) * g ** 2
                v_hat, s_hat = v[k] / (1 - beta1 ** t), s[k] / (1 - beta2 ** t)
                parameters[k] -= learning_rate * v_hat / (np.sqrt(s_hat) + epsilon)
            else:
                raise ValueError(f"unknown optimizer {optimizer!r}")
    return parameters, costs


def plot_cost(costs):
    fig, ax = plt.subplots()
    ax.plot(costs)
    ax.set_xlabel("iteration")
    ax.set_ylabel("cost")
    return fig
