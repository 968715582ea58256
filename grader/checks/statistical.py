"""Check kind `distribution`: a random initializer graded by statistics, not by values.

The exercise declares the exact target distribution; this module does the statistics. A Function
graded here has arguments named after its case's dimensions (the sizes, e.g. fan_in and fan_out)
and one `seed` argument; `reference(*sizes)` returns a frozen scipy.stats distribution (or one of
grader/distributions.py, which grade without importing scipy.stats), and so does every catalogued
mistake's `reference` (the distribution of that wrong variant). The student returns
an array of shape `sizes` (in argument order) of independent draws; in a features-first
assignment, that shape as the function's `features_first["out"]` says (a weight (fan_in, fan_out)
becomes (fan_out, fan_in)).

Per case the grader calls the function DRAWS times with different seeds, requires arrays of the right
shape that are finite and differ between calls, pools the n draws and runs three two-sided tests
against the target distribution F (mean mu, variance v, excess kurtosis g2):

  mean      z = (mean(x) - mu) * sqrt(n / v)                         reject if |z| > Z
  variance  m2 = mean((x - mu)**2);  z = (m2 / v - 1) / sqrt((g2 + 2) / n)   reject if |z| > Z
  shape     D = sup |F_n - F| (Kolmogorov-Smirnov)                    reject if D > sqrt(ln(2 / ALPHA) / (2 n))

Why these thresholds. Each test has size ALPHA = 1e-8, so Z = Phi^-1(1 - ALPHA / 2) = 5.73. The mean
of normal draws is exactly normal; for the uniform its CLT error at 5.73 sd is negligible (symmetric,
bounded). n * m2 / v is exactly chi-square(n) for normal draws; the normal approximation of its tail
at 5.73 sd is off by the Edgeworth term g1 (Z^2 - 1) / 6 with skewness g1 = sqrt(8 / n), i.e. by
11% at n = 20000 (less for uniform draws, whose squares are less skewed). The KS bound is the Dvoretzky-Kiefer-Wolfowitz inequality with Massart's constant,
P(D > eps) <= 2 exp(-2 n eps^2), which holds for every n without approximation. So a correct
implementation fails one test with probability <= 1.2 * ALPHA, and a whole exercise (4 functions x 2
cases x 3 tests = 24 tests) fails with probability <= 24 * 1.2e-8 < 3e-7, below 1e-6.

A wrong variant G is missed only if it passes all three tests, so P(miss) <= the smallest of: the
probability that its m2 (mean E_G[(x - mu)^2], sd sqrt(Var_G((x - mu)^2) / n)) lands in the variance
test's acceptance band, the same for its mean, and, with d = sup |G - F| > eps, the DKW bound
2 exp(-2 n (d - eps)^2). `miss_probability` computes this bound; the tests require it to be below
1e-6 for every catalogued mistake at every case, against the target and against every other
catalogued variant (at n = 20000 a variance 1.3 times off is missed with probability below 1e-100, a
uniform passed off as a normal, d = 0.057, below 1e-20).
"""
from __future__ import annotations

import math

import statistics

import numpy as np

from ..compare import coerce, shapes_equivalent
from ..distributions import ks_statistic
from ..i18n import _
from ..inputs import draw
from ..layout import Layout, symbolic_shape
from ..results import ERROR, FAILED, CaseResult, Hint
from ..spec import Function
from .base import Replay, attempt, check_kind, outcome_failure, run_check

ALPHA = 1e-8  # size of each test

Z = statistics.NormalDist().inv_cdf(1 - ALPHA / 2)  # 5.73
NORMAL_CDF = statistics.NormalDist().cdf
DRAWS = 2  # calls per case: the pooled sample, and two calls that must differ
SEED_ARG = "seed"


def _moments(dist) -> tuple[float, float, float]:
    mean, var, kurtosis = dist.stats(moments="mvk")
    return float(mean), float(var), float(kurtosis)


def ks_threshold(n: int) -> float:
    """The KS distance a correct sample of n exceeds with probability <= ALPHA (DKW-Massart)."""
    return math.sqrt(math.log(2 / ALPHA) / (2 * n))


def statistics(x: np.ndarray, dist) -> dict[str, float]:
    """The three test statistics of sample `x` against distribution `dist`."""
    n = x.size
    mu, v, g2 = _moments(dist)
    m2 = float(np.mean((x - mu) ** 2))
    return {
        "n": n, "mean": float(x.mean()), "var": m2, "target_mean": mu, "target_var": v,
        "z_mean": (float(x.mean()) - mu) * math.sqrt(n / v),
        "z_var": (m2 / v - 1) / math.sqrt((g2 + 2) / n),
        "ks": ks_statistic(x, dist.cdf),
        "ks_max": ks_threshold(n),
    }


def failures(x: np.ndarray, dist) -> list[str]:
    """What sample `x` gets wrong about `dist`, one clause per failed test (empty: consistent)."""
    s = statistics(x, dist)
    found = []
    if abs(s["z_mean"]) > Z:
        found.append(_("the mean of your {n} draws is {mean:.4g}, but the target distribution has mean {target:.4g} "
                       "({z:.1f} standard errors away, at most {Z:.1f} allowed)").format(
                           n=s["n"], mean=s["mean"], target=s["target_mean"], z=abs(s["z_mean"]), Z=Z))
    if abs(s["z_var"]) > Z:
        found.append(_("the variance of your draws is {var:.4g}, {ratio:.3g} times the target's {target:.4g} "
                       "({z:.1f} standard errors away, at most {Z:.1f} allowed)").format(
                           var=s["var"], ratio=s["var"] / s["target_var"], target=s["target_var"],
                           z=abs(s["z_var"]), Z=Z))
    if s["ks"] > s["ks_max"] and found:  # a wrong scale also changes the shape: say it briefly
        found.append(_("the Kolmogorov-Smirnov distance to the target distribution is {ks:.4f} (at most {limit:.4f} "
                       "allowed)").format(ks=s["ks"], limit=s["ks_max"]))
    elif s["ks"] > s["ks_max"]:
        found.append(_("your draws have the right mean and variance, but not the target distribution's shape: the "
                       "Kolmogorov-Smirnov distance is {ks:.4f} (at most {limit:.4f} allowed), e.g. uniform draws "
                       "where normal ones are asked for, or the reverse").format(ks=s["ks"], limit=s["ks_max"]))
    return found


def miss_probability(target, variant, n: int) -> float:
    """An upper bound on the probability that n draws from `variant` pass all tests against `target`
    (normal approximation for the mean and variance tests, DKW for the shape test)."""
    mu, v, g2 = _moments(target)
    mean_g, var_g, _k = _moments(variant)
    # Mean test: mean(x) ~ N(mean_g, var_g / n); accepted within mu +- Z sqrt(v / n).
    half = Z * math.sqrt(v / n)
    sd = math.sqrt(var_g / n)
    p_mean = NORMAL_CDF((mu + half - mean_g) / sd) - NORMAL_CDF((mu - half - mean_g) / sd)
    # Variance test: m2 ~ N(E_G[(x-mu)^2], Var_G((x-mu)^2) / n); accepted within v (1 +- Z sqrt((g2+2)/n)).
    e2 = float(variant.expect(lambda t: (t - mu) ** 2))
    e4 = float(variant.expect(lambda t: (t - mu) ** 4))
    band = Z * math.sqrt((g2 + 2) / n)
    sd = math.sqrt(max(e4 - e2 ** 2, 0.0) / n)
    p_var = NORMAL_CDF((v * (1 + band) - e2) / sd) - NORMAL_CDF((v * (1 - band) - e2) / sd)
    # Shape test: the grid maximum underestimates sup |G - F|, which only loosens the bound.
    lo = min(target.ppf(1e-9), variant.ppf(1e-9))
    hi = max(target.isf(1e-9), variant.isf(1e-9))
    grid = np.linspace(lo, hi, 200_001)
    d = float(np.max(np.abs(variant.cdf(grid) - target.cdf(grid))))
    eps = ks_threshold(n)
    p_ks = 2 * math.exp(-2 * n * (d - eps) ** 2) if d > eps else 1.0
    return float(min(p_mean, p_var, p_ks, 1.0))


def _sizes(fn: Function, dims: dict[str, int]) -> dict[str, int]:
    return {name: dims[name] for name in fn.args if name in dims}


def _shape(ctx, fn: Function, sizes: dict[str, int]) -> tuple[int, ...]:
    layout = Layout.of(ctx.options)
    shape = tuple(sizes.values())
    return tuple(symbolic_shape(shape, layout.how(fn, fn.outputs[0]))) if layout.features_first else shape


def _call_values(fn: Function, case, sizes: dict[str, int], seed: int, rng) -> list:
    values = []
    for name, arg in fn.args.items():
        if name == SEED_ARG:
            values.append(seed)
        elif name in sizes:
            values.append(sizes[name])
        else:
            values.append(case.values[name] if name in case.values else draw(arg, case, rng))
    return values


def _as_draws(value, shape: tuple[int, ...]) -> tuple[np.ndarray | None, str]:
    """The student's return as float64 draws of `shape`, or (None, why not)."""
    array, what = coerce(value)
    if array is None or array.dtype.kind not in "biuf":
        return None, _("expected an array of shape {shape}, got {got}.").format(shape=shape, got=what or array.dtype)
    if not shapes_equivalent(array.shape, shape):
        return None, _("expected an array of shape {shape}, got shape {got}.").format(shape=shape,
                                                                                     got=tuple(array.shape))
    array = array.astype(np.float64).reshape(shape)
    if not np.isfinite(array).all():
        return None, _("your array contains NaN or Inf.")
    return array, ""


def _describe(name: str, fn: Function, values: list) -> str:
    return f"{name}({', '.join(f'{n}={v!r}' for n, v in zip(fn.args, values))})"


@check_kind("distribution", units=(Function,), main=True)
def distribution(ctx, fn: Function, points: float):
    """Draws consistent with the declared distribution; a catalogued variant's distribution is named."""
    name = ctx.student_name(fn.name)

    def body(result):
        for i, case in enumerate(fn.cases):
            rng = ctx.rng(fn.name, "distribution", str(i))
            sizes = _sizes(fn, case.dims)
            shape = _shape(ctx, fn, sizes)
            label = _("case {i}: {sizes}").format(i=i + 1, sizes=", ".join(f"{k}={v}" for k, v in sizes.items()))
            seeds = [int(s) for s in rng.choice(2**31, size=DRAWS, replace=False)]
            draws, call, message = [], "", ""
            for seed in seeds:
                values = _call_values(fn, case, sizes, seed, rng)
                call = _describe(name, fn, values)
                outcome = ctx.call(fn.name, *values)
                message = outcome_failure(outcome, f"{name}()")
                if message is None:
                    array, message = _as_draws(outcome.value, shape)
                    draws.append(array)
                if message:
                    break
            status = ERROR  # the call raised, or returned no usable array
            if not message and np.array_equal(draws[0], draws[1]):
                status = FAILED
                message = _("two calls with different seeds returned the same array: draw from "
                            "np.random.default_rng(seed), not a fixed seed or a constant.")
            if message:
                result.cases.append(CaseResult(label=label, passed=False, call=call, message=message, status=status))
                continue
            sample = np.concatenate([d.ravel() for d in draws])
            wrong = failures(sample, fn.reference(*sizes.values()))
            verdict = CaseResult(label=label, passed=not wrong, call=call,
                                 message="; ".join(wrong) + ("." if wrong else ""))
            if wrong:
                verdict.hint = _named_variant(fn, sample, sizes)
            result.cases.append(verdict)
    return run_check(ctx, "distribution", fn, name, points, body, ctx.location(fn.name))



def _named_variant(fn: Function, sample: np.ndarray, sizes: dict[str, int]) -> Hint | None:
    """The first catalogued wrong variant whose distribution the sample is consistent with."""
    for mistake in fn.mistakes:
        if mistake.check == "distribution" and not failures(sample, mistake.reference(*sizes.values())):
            return Hint(code=f"mistake:{mistake.id}", text=_(mistake.explanation))
    return None


@distribution.replays
def _replay_distribution(ctx, fn: Function):
    """Per case, a sample as large as the check pools, drawn from the target distribution (expected) and
    from each catalogued variant's (the mistakes), judged by the same three tests: the target's sample
    must pass, each variant's must fail and be named."""
    for i, case in enumerate(fn.cases):
        sizes = _sizes(fn, case.dims)
        n = DRAWS * math.prod(sizes.values())
        rng = ctx.rng(fn.name, "distribution", "replay", str(i))
        target = fn.reference(*sizes.values())
        expected = (np.asarray(target.rvs(size=n, random_state=rng), dtype=np.float64),)
        mistakes = [m for m in fn.mistakes if m.check == "distribution"]
        outs = {m.id: attempt(lambda m=m: (np.asarray(m.reference(*sizes.values()).rvs(size=n, random_state=rng),
                                                      dtype=np.float64),)) for m in mistakes}

        def grade(outputs, target=target, sizes=sizes):
            sample = np.asarray(outputs[0], dtype=np.float64).ravel()
            if failures(sample, target):
                hint = _named_variant(fn, sample, sizes)
                return False, hint.code if hint else None
            return True, None
        label = _("case {i}: {sizes}").format(i=i + 1, sizes=", ".join(f"{k}={v}" for k, v in sizes.items()))
        yield Replay(label, expected, ["draws"], grade, outs)
