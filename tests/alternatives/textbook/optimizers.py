"""Correct `optimizers` in another style: every update returns new dicts, formulas rearranged."""
import numpy as np


def initialize_velocity(params):
    return {k: np.zeros(p.shape) for k, p in params.items()}


def initialize_rmsprop(params):
    return {k: 0 * p for k, p in params.items()}, {k: 0 * p for k, p in params.items()}


def initialize_adam(params):
    return initialize_rmsprop(params)


def update_parameters_with_gd(params, grads, learning_rate, weight_decay):
    return {k: (1 - learning_rate * weight_decay) * p - learning_rate * grads[k] for k, p in params.items()}


def update_parameters_with_momentum(params, grads, v, beta, learning_rate, dampening, weight_decay, t):
    new_v = {}
    for k, p in params.items():
        g = grads[k] + weight_decay * p
        new_v[k] = g if t == 1 else beta * v[k] + g - dampening * g
    return {k: p - learning_rate * new_v[k] for k, p in params.items()}, new_v


def update_parameters_with_nesterov(params, grads, v, beta, learning_rate, weight_decay, t):
    new_p, new_v = {}, {}
    for k, p in params.items():
        g = grads[k] + weight_decay * p
        new_v[k] = g if t == 1 else beta * v[k] + g
        new_p[k] = p - learning_rate * g - learning_rate * beta * new_v[k]
    return new_p, new_v


def update_parameters_with_rmsprop(params, grads, s, m, learning_rate, alpha, epsilon, weight_decay, centered):
    new_p, new_s, new_m = {}, {}, {}
    for k, p in params.items():
        g = grads[k] + weight_decay * p
        new_s[k] = s[k] + (1 - alpha) * (g * g - s[k])
        new_m[k] = m[k] + (1 - alpha) * (g - m[k]) if centered else m[k]
        var = new_s[k] - new_m[k] ** 2 if centered else new_s[k]
        new_p[k] = p - learning_rate * g / (np.sqrt(var) + epsilon)
    return new_p, new_s, new_m


def update_parameters_with_adam(params, grads, v, s, t, learning_rate, beta1, beta2, epsilon, weight_decay):
    new_p, new_v, new_s = {}, {}, {}
    for k, p in params.items():
        g = grads[k] + weight_decay * p
        new_v[k] = beta1 * v[k] + (1 - beta1) * g
        new_s[k] = beta2 * s[k] + (1 - beta2) * g * g
        step = learning_rate / (1 - beta1 ** t)
        new_p[k] = p - step * new_v[k] / (np.sqrt(new_s[k]) / np.sqrt(1 - beta2 ** t) + epsilon)
    return new_p, new_v, new_s


def update_parameters_with_adamw(params, grads, v, s, t, learning_rate, beta1, beta2, epsilon, weight_decay):
    new_p, new_v, new_s = {}, {}, {}
    for k, p in params.items():
        g = grads[k]
        new_v[k] = beta1 * v[k] + (1 - beta1) * g
        new_s[k] = beta2 * s[k] + (1 - beta2) * g * g
        v_hat, s_hat = new_v[k] / (1 - beta1 ** t), new_s[k] / (1 - beta2 ** t)
        new_p[k] = p - learning_rate * weight_decay * p - learning_rate * v_hat / (np.sqrt(s_hat) + epsilon)
    return new_p, new_v, new_s
