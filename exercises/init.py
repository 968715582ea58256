"""Exercise `init`: Xavier/Glorot and He/Kaiming weight initialization, normal and uniform, in NumPy.

Each function returns a (fan_in, fan_out) weight matrix (batch-first: x @ W; features-first
assignments ask for (fan_out, fan_in), W @ x) of independent draws from a generator seeded with
`seed`. Graded statistically against the exact target distribution (grader/checks/statistical.py):
mean, variance and the distribution's shape, and two calls with different seeds must differ.
"""
import math

from grader.layout import TRANSPOSE
from grader.reference import init as ref
from grader.spec import Arg, Case, Exercise, Function, Mistake

CHECKS = {"interface": 0.5, "distribution": 2.5}
DIST = "distribution"  # the check kind catalogued variants imitate
# fan_in and fan_out 4 times apart, so that every catalogued variant's variance is at least 1.3 times
# every other's and the target's (with fan_out = 3 * fan_in, sqrt(6 / fan_out) = sqrt(2 / fan_in) would
# make two mistakes one); 14 400 and 10 000 draws per call, 2 calls per case: the sample sizes behind
# the statistical guarantees in grader/checks/statistical.py (tests/test_curriculum_a.py checks them).
CASES = (Case({"fan_in": 60, "fan_out": 240}), Case({"fan_in": 200, "fan_out": 50}))
SIZES = {"fan_in": Arg(kind="fixed"), "fan_out": Arg(kind="fixed"), "seed": Arg(kind="fixed")}
SEED_DOC = ("seed: an int (or a np.random.Generator); draw with rng = np.random.default_rng(seed), which accepts "
            "both, so that different seeds give different matrices.")


def _init(name, reference, formula, *mistakes):
    return Function(
        name=name, args=SIZES, reference=reference, cases=CASES, checks=CHECKS, batch_dim=None,
        features_first={"out": TRANSPOSE},  # W is (fan_out, fan_in) in a features-first assignment
        mistakes=mistakes,
        doc=(f"{formula}\n\nfan_in, fan_out: ints, the layer's numbers of inputs and outputs. {SEED_DOC} Returns a "
             "(fan_in, fan_out) array of independent draws."),
    )


def _xavier_std(fan_in, fan_out):
    return math.sqrt(2.0 / (fan_in + fan_out))


xavier_normal = _init(
    "xavier_normal", ref.xavier_normal,
    "Xavier/Glorot normal initialization: W ~ Normal(0, std**2) with std = sqrt(2 / (fan_in + fan_out)), as "
    "torch.nn.init.xavier_normal_.",
    Mistake("xavier_normal_fan_in_only", "Your variance is 1 / fan_in (LeCun's); Xavier's averages both fans: "
            "std = sqrt(2 / (fan_in + fan_out)).", lambda fi, fo: ref.normal(math.sqrt(1.0 / fi)), check=DIST),
    Mistake("xavier_normal_drawn_uniform", "Your draws are uniform; xavier_normal draws from a normal distribution "
            "(rng.normal) with std = sqrt(2 / (fan_in + fan_out)).",
            lambda fi, fo: ref.uniform(math.sqrt(3) * _xavier_std(fi, fo)), check=DIST),
    Mistake("xavier_normal_variance_as_std", "You passed the variance 2 / (fan_in + fan_out) where the standard "
            "deviation belongs: rng.normal takes std = sqrt(2 / (fan_in + fan_out)).",
            lambda fi, fo: ref.normal(2.0 / (fi + fo)), check=DIST),
    Mistake("xavier_normal_fan_out_only", "Your variance is 1 / fan_out: Xavier's averages both fans, "
            "std = sqrt(2 / (fan_in + fan_out)).", lambda fi, fo: ref.normal(math.sqrt(1.0 / fo)), check=DIST),
)

xavier_uniform = _init(
    "xavier_uniform", ref.xavier_uniform,
    "Xavier/Glorot uniform initialization: W ~ Uniform(-a, a) with a = sqrt(6 / (fan_in + fan_out)), as "
    "torch.nn.init.xavier_uniform_.",
    Mistake("xavier_uniform_fan_in_only", "Your limit is sqrt(3 / fan_in) (LeCun's); Xavier's averages both fans: "
            "a = sqrt(6 / (fan_in + fan_out)).", lambda fi, fo: ref.uniform(math.sqrt(3.0 / fi)), check=DIST),
    Mistake("xavier_uniform_std_as_limit", "Your limit is the standard deviation sqrt(2 / (fan_in + fan_out)); a "
            "uniform on (-a, a) has standard deviation a / sqrt(3), so a = sqrt(6 / (fan_in + fan_out)).",
            lambda fi, fo: ref.uniform(_xavier_std(fi, fo)), check=DIST),
    Mistake("xavier_uniform_drawn_normal", "Your draws are normal; xavier_uniform draws from a uniform distribution "
            "(rng.uniform(-a, a)) with a = sqrt(6 / (fan_in + fan_out)).",
            lambda fi, fo: ref.normal(_xavier_std(fi, fo)), check=DIST),
    Mistake("xavier_uniform_fan_out_only", "Your limit is sqrt(3 / fan_out): Xavier's averages both fans, "
            "a = sqrt(6 / (fan_in + fan_out)).", lambda fi, fo: ref.uniform(math.sqrt(3.0 / fo)), check=DIST),
)

he_normal = _init(
    "he_normal", ref.he_normal,
    "He/Kaiming normal initialization for ReLU layers: W ~ Normal(0, std**2) with std = sqrt(2 / fan_in), as "
    "torch.nn.init.kaiming_normal_(mode='fan_in', nonlinearity='relu').",
    Mistake("he_normal_missing_sqrt2", "Your std is sqrt(1 / fan_in): He initialization has the ReLU gain sqrt(2), "
            "std = sqrt(2 / fan_in).", lambda fi, fo: ref.normal(math.sqrt(1.0 / fi)), check=DIST),
    Mistake("he_normal_fan_out", "Your std uses fan_out; He initialization (mode='fan_in') uses the number of "
            "inputs: std = sqrt(2 / fan_in).", lambda fi, fo: ref.normal(math.sqrt(2.0 / fo)), check=DIST),
    Mistake("he_normal_drawn_uniform", "Your draws are uniform; he_normal draws from a normal distribution "
            "(rng.normal) with std = sqrt(2 / fan_in).", lambda fi, fo: ref.uniform(math.sqrt(6.0 / fi)),
            check=DIST),
    Mistake("he_normal_both_fans", "Your std is sqrt(2 / (fan_in + fan_out)), Xavier's; He initialization "
            "(mode='fan_in') uses the number of inputs only: std = sqrt(2 / fan_in).",
            lambda fi, fo: ref.normal(math.sqrt(2.0 / (fi + fo))), check=DIST),
)

he_uniform = _init(
    "he_uniform", ref.he_uniform,
    "He/Kaiming uniform initialization for ReLU layers: W ~ Uniform(-a, a) with a = sqrt(6 / fan_in), as "
    "torch.nn.init.kaiming_uniform_(mode='fan_in', nonlinearity='relu').",
    Mistake("he_uniform_missing_sqrt2", "Your limit is sqrt(3 / fan_in): He initialization has the ReLU gain "
            "sqrt(2), a = sqrt(2) * sqrt(3 / fan_in) = sqrt(6 / fan_in).",
            lambda fi, fo: ref.uniform(math.sqrt(3.0 / fi)), check=DIST),
    Mistake("he_uniform_std_as_limit", "Your limit is the standard deviation sqrt(2 / fan_in); a uniform on (-a, a) "
            "has standard deviation a / sqrt(3), so a = sqrt(6 / fan_in).",
            lambda fi, fo: ref.uniform(math.sqrt(2.0 / fi)), check=DIST),
    Mistake("he_uniform_fan_out", "Your limit uses fan_out; He initialization (mode='fan_in') uses the number of "
            "inputs: a = sqrt(6 / fan_in).", lambda fi, fo: ref.uniform(math.sqrt(6.0 / fo)), check=DIST),
    Mistake("he_uniform_both_fans", "Your limit is sqrt(6 / (fan_in + fan_out)), Xavier's; He initialization "
            "(mode='fan_in') uses the number of inputs only: a = sqrt(6 / fan_in).",
            lambda fi, fo: ref.uniform(math.sqrt(6.0 / (fi + fo))), check=DIST),
)

EXERCISE = Exercise(
    id="init",
    title="Weight initialization",
    units=(xavier_normal, xavier_uniform, he_normal, he_uniform),
    starter="init.py",
    description=__doc__,
)
