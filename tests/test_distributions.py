"""grader/distributions.py stands in for scipy.stats's norm and uniform where grading a random initializer
uses them (cdf, moments, the Kolmogorov-Smirnov distance), with the same numbers; everything else is the
scipy.stats distribution's own."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from grader.distributions import Normal, Uniform, ks_statistic

PAIRS = [(Normal(0.0, 0.3), stats.norm(loc=0.0, scale=0.3)), (Normal(1.5, 2.0), stats.norm(loc=1.5, scale=2.0)),
         (Uniform(-0.2, 0.4), stats.uniform(loc=-0.2, scale=0.4)), (Uniform(3.0, 1.0), stats.uniform(loc=3.0, scale=1.0))]


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=[repr(o) for o, _t in PAIRS])
def test_cdf_and_moments_are_scipy_stats(ours, theirs):
    x = np.concatenate([np.linspace(theirs.ppf(1e-12), theirs.isf(1e-12), 2001), [-np.inf, np.inf, -50.0, 50.0]])
    np.testing.assert_allclose(ours.cdf(x), theirs.cdf(x), rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(ours.stats(moments="mvk"), [float(v) for v in theirs.stats(moments="mvk")],
                               rtol=1e-14, atol=1e-15)
    assert ours.stats() == ours.stats(moments="mv")


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=[repr(o) for o, _t in PAIRS])
def test_the_ks_distance_is_kstests_statistic(ours, theirs):
    rng = np.random.default_rng(3)
    for sample in (theirs.rvs(size=5000, random_state=rng), rng.normal(size=777) * 0.5, np.full(10, 0.1)):
        assert ks_statistic(sample, ours.cdf) == pytest.approx(stats.kstest(sample, theirs.cdf).statistic,
                                                               rel=1e-12, abs=1e-15)


def test_anything_else_is_the_scipy_distributions_own():
    normal = Normal(0.0, 2.0)
    assert normal.ppf(0.975) == pytest.approx(stats.norm(scale=2.0).ppf(0.975))
    assert normal.expect(lambda t: t ** 2) == pytest.approx(4.0)
    draws = normal.rvs(size=4, random_state=np.random.default_rng(0))
    assert np.array_equal(draws, stats.norm(scale=2.0).rvs(size=4, random_state=np.random.default_rng(0)))
    with pytest.raises(AttributeError):
        normal._private
