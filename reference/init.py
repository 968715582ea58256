"""Target distributions of the `init` exercise, as frozen distributions (grader/distributions.py: what
grading needs of scipy.stats's norm and uniform, without importing scipy.stats): the grader tests a
student's draws against them (grader/checks/statistical.py). The formulas are torch.nn.init's for a
weight of fan_in inputs and fan_out outputs: xavier_* with gain 1, kaiming_* with mode="fan_in" and
nonlinearity="relu" (gain sqrt(2)). A uniform U(-a, a) has variance a**2 / 3."""
import math

from grader.distributions import Normal, Uniform


def normal(std):
    return Normal(loc=0.0, scale=std)


def uniform(limit):
    return Uniform(loc=-limit, scale=2 * limit)


def xavier_normal(fan_in, fan_out):
    """torch.nn.init.xavier_normal_: std = sqrt(2 / (fan_in + fan_out))."""
    return normal(math.sqrt(2.0 / (fan_in + fan_out)))


def xavier_uniform(fan_in, fan_out):
    """torch.nn.init.xavier_uniform_: limit = sqrt(6 / (fan_in + fan_out))."""
    return uniform(math.sqrt(6.0 / (fan_in + fan_out)))


def he_normal(fan_in, fan_out):
    """torch.nn.init.kaiming_normal_(mode="fan_in", nonlinearity="relu"): std = sqrt(2 / fan_in)."""
    return normal(math.sqrt(2.0 / fan_in))


def he_uniform(fan_in, fan_out):
    """torch.nn.init.kaiming_uniform_(mode="fan_in", nonlinearity="relu"): limit = sqrt(6 / fan_in)."""
    return uniform(math.sqrt(6.0 / fan_in))
