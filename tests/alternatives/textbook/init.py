"""Correct `init` from other generator calls: standard_normal times the deviation, uniform from random()."""
import numpy as np


def _std_normal(fan_in, fan_out, seed, std):
    return np.random.default_rng(seed).standard_normal((fan_in, fan_out)) * std


def _uniform(fan_in, fan_out, seed, limit):
    return (np.random.default_rng(seed).random((fan_in, fan_out)) * 2 - 1) * limit


def xavier_normal(fan_in, fan_out, seed):
    return _std_normal(fan_in, fan_out, seed, (2.0 / (fan_in + fan_out)) ** 0.5)


def xavier_uniform(fan_in, fan_out, seed):
    return _uniform(fan_in, fan_out, seed, (6.0 / (fan_in + fan_out)) ** 0.5)


def he_normal(fan_in, fan_out, seed):
    return _std_normal(fan_in, fan_out, seed, (2.0 / fan_in) ** 0.5)


def he_uniform(fan_in, fan_out, seed):
    return _uniform(fan_in, fan_out, seed, (6.0 / fan_in) ** 0.5)
