"""The normal and uniform distributions of the `init` exercise, with what grading a random initializer
needs of a frozen scipy.stats distribution (grader/checks/statistical.py: `cdf` and `stats`), computed
here in closed form: importing scipy.stats takes about a second, more than grading the exercise.

Everything else a frozen distribution offers (rvs, ppf, isf, expect: what `grade validate` and the tests
use) is the scipy.stats distribution's own, built on first use, so these stand in for it everywhere."""
from __future__ import annotations

import math

import numpy as np

_ERFC = np.frompyfunc(math.erfc, 1, 1)


class _Frozen:
    """A frozen distribution with location `loc` and scale `scale`, as scipy.stats parametrizes it."""

    family = ""  # the scipy.stats distribution's name

    def __init__(self, loc: float = 0.0, scale: float = 1.0):
        self.loc, self.scale = float(loc), float(scale)
        self._scipy = None

    def scipy(self):
        """The same distribution as a frozen scipy.stats one."""
        if self._scipy is None:
            from scipy import stats
            self._scipy = getattr(stats, self.family)(loc=self.loc, scale=self.scale)
        return self._scipy

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.scipy(), name)

    def stats(self, moments: str = "mv") -> tuple[float, ...]:
        """Mean (m), variance (v), skewness (s) and excess kurtosis (k), in the order asked, as scipy's."""
        values = dict(zip("mvsk", self._moments()))
        return tuple(values[m] for m in moments)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(loc={self.loc:g}, scale={self.scale:g})"


class Normal(_Frozen):
    family = "norm"

    def cdf(self, x):
        z = (np.asarray(x, dtype=np.float64) - self.loc) / (self.scale * math.sqrt(2.0))
        return 0.5 * _ERFC(-z).astype(np.float64)

    def _moments(self):
        return self.loc, self.scale ** 2, 0.0, 0.0


class Uniform(_Frozen):
    """Uniform on [loc, loc + scale]."""

    family = "uniform"

    def cdf(self, x):
        return np.clip((np.asarray(x, dtype=np.float64) - self.loc) / self.scale, 0.0, 1.0)

    def _moments(self):
        return self.loc + self.scale / 2, self.scale ** 2 / 12, 0.0, -1.2


def ks_statistic(x, cdf) -> float:
    """The two-sided Kolmogorov-Smirnov distance sup |F_n - F| of sample x to the distribution with this
    cdf: scipy.stats.kstest's statistic, max(D+, D-), over the sorted sample."""
    x = np.sort(np.asarray(x, dtype=np.float64).ravel())
    n = x.size
    values = np.asarray(cdf(x), dtype=np.float64)
    d_plus = np.max(np.arange(1, n + 1) / n - values)
    d_minus = np.max(values - np.arange(0, n) / n)
    return float(max(d_plus, d_minus))
