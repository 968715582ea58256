"""Exercise `activations`: leaky ReLU, GELU and log-softmax with their backward functions, in NumPy.

Conventions as in `layers`: batch-first arrays, x is (N, D) (features-first assignments send it as
(D, N), grader/layout.py); every hyperparameter is an argument (no defaults); a backward takes the
upstream gradient `dout` and the forward's own inputs and returns the gradient of x, of x's shape.
Catalogued mistakes that only break on large inputs are imitated in NumPy, so that their overflows are
the student's own.
"""
import numpy as np

from grader.lazy import F, torch
from grader.layout import TRANSPOSE
from grader.reference import activations as ref
from grader.spec import Arg, Backward, Case, Exercise, Function, Mistake

ELEMENTWISE_CASES = (Case({"N": 1, "D": 7}), Case({"N": 4, "D": 3}), Case({"N": 6, "D": 11}))
CHECKS = {"interface": 0.5, "forward": 2.0, "backward": 2.0, "gradcheck": 1.0, "inputs": 0.5}
# Not torch's default 0.01, so a slope written into the code instead of read from the argument shows.
NEGATIVE_SLOPE = 0.1


def _autograd(forward):
    """dx of sum(forward(x) * dout), for imitating a backward that differentiates the wrong forward."""
    def backward(dout, x, *rest):
        with torch.enable_grad():
            x = x.detach().clone().requires_grad_(True)
            from grader.torch_bridge import vjp  # torch is imported lazily here
            (dx,) = vjp(forward(x, *rest), x, dout)
        return dx
    return backward


def _np_softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _log_of_softmax(x):
    with np.errstate(all="ignore"):
        return np.log(_np_softmax(x.numpy()))


def _log_softmax_unshifted(x):
    x = x.numpy()
    with np.errstate(all="ignore"):
        return x - np.log(np.exp(x).sum(axis=1, keepdims=True))


leaky_relu = Function(
    name="leaky_relu_forward",
    args={"x": Arg(shape=("N", "D"), scale=2.0, away_from=(0.0,), features_first=TRANSPOSE),
          "negative_slope": Arg(kind="fixed", value=NEGATIVE_SLOPE)},
    features_first={"out": TRANSPOSE},
    reference=ref.leaky_relu,
    cases=ELEMENTWISE_CASES,
    checks={**CHECKS, "kink": 0.5},
    kinks=({"x": [[0.0, 1.5, -2.0], [0.0, -0.5, 3.0]], "negative_slope": NEGATIVE_SLOPE},),
    backward=Backward(
        name="leaky_relu_backward", args=("dout", "x", "negative_slope"), wrt=("x",),
        doc=("Gradient of leaky ReLU: dx = dout where x > 0, dout * negative_slope where x <= 0.\n\n"
             "dout: (N, D) upstream gradient; x: (N, D) the forward's input; negative_slope: float. At the kink "
             "x == 0 the derivative is negative_slope (PyTorch's convention)."),
        mistakes=(
            Mistake("leaky_relu_backward_like_relu", "Your backward is ReLU's: it is zero where x <= 0, but leaky "
                    "ReLU's derivative there is negative_slope, so dx = negative_slope * dout.",
                    lambda dout, x, slope: dout * (x > 0), check="backward"),
            Mistake("leaky_relu_backward_fixed_slope", "Your backward uses a slope of 0.01 written into the code; "
                    "use the negative_slope argument.",
                    lambda dout, x, slope: dout * torch.where(x > 0, 1.0, 0.01), check="backward"),
        )),
    mistakes=(Mistake("leaky_relu_fixed_slope", "Your leaky ReLU uses a slope of 0.01 (PyTorch's default) written "
                      "into the code; use the negative_slope argument.",
                      lambda x, slope: F.leaky_relu(x, 0.01)),),
    doc=("Leaky ReLU, elementwise: out = x where x > 0, negative_slope * x elsewhere.\n\n"
         "x: (N, D) array; negative_slope: float, the slope for negative inputs (use the argument: the grader "
         "does not pass PyTorch's default 0.01). Returns an array of x's shape."),
)

gelu = Function(
    name="gelu_forward",
    args={"x": Arg(shape=("N", "D"), scale=2.0, features_first=TRANSPOSE)},
    features_first={"out": TRANSPOSE},
    reference=ref.gelu,
    cases=ELEMENTWISE_CASES,
    checks=CHECKS,
    backward=Backward(
        name="gelu_backward", args=("dout", "x"), wrt=("x",),
        doc=("Gradient of the exact GELU: dx = dout * (Phi(x) + x * phi(x)), with Phi(x) = 0.5 * (1 + erf(x / "
             "sqrt(2))) and the standard normal density phi(x) = exp(-x**2 / 2) / sqrt(2 * pi).\n\n"
             "dout: (N, D) upstream gradient; x: (N, D) the forward's input."),
        mistakes=(
            Mistake("gelu_backward_missing_density_term", "Your backward is dout * Phi(x): GELU is x * Phi(x), so "
                    "the product rule adds x * phi(x), the standard normal density times x.",
                    lambda dout, x: dout * 0.5 * (1 + torch.erf(x / np.sqrt(2))), check="backward"),
            Mistake("gelu_backward_tanh_approximation", "Your backward is the derivative of the tanh approximation "
                    "of GELU; the exercise is the exact erf form.",
                    _autograd(lambda x: F.gelu(x, approximate="tanh")), check="backward"),
        )),
    mistakes=(
        Mistake("gelu_tanh_approximation", "You used the tanh approximation 0.5 * x * (1 + tanh(sqrt(2 / pi) * "
                "(x + 0.044715 * x**3))); the exercise is the exact form 0.5 * x * (1 + erf(x / sqrt(2))) "
                "(scipy.special.erf or math.erf).", lambda x: F.gelu(x, approximate="tanh")),
        Mistake("gelu_sigmoid_approximation", "You used the sigmoid approximation x * sigmoid(1.702 * x); the "
                "exercise is the exact form 0.5 * x * (1 + erf(x / sqrt(2))).",
                lambda x: x * torch.sigmoid(1.702 * x)),
    ),
    doc=("GELU, the exact form (PyTorch's default, approximate='none'), elementwise:\n"
         "out = x * Phi(x) = 0.5 * x * (1 + erf(x / sqrt(2))).\n\n"
         "x: (N, D) array. Returns an array of x's shape. You may use scipy.special.erf (or np.vectorize(math.erf)); "
         "the tanh approximation is not accepted."),
)

log_softmax = Function(
    name="log_softmax",
    args={"x": Arg(shape=("N", "C"), kind="logits", scale=2.0, large=500.0, features_first=TRANSPOSE)},
    features_first={"out": TRANSPOSE},
    reference=ref.log_softmax,
    cases=(Case({"N": 1, "C": 5}), Case({"N": 4, "C": 3}), Case({"N": 5, "C": 10}),
           Case({"N": 3, "C": 4}, large=True)),
    checks=CHECKS,
    axis=1,
    backward=Backward(
        name="log_softmax_backward", args=("dout", "x"), wrt=("x",),
        doc=("Gradient of log_softmax along each row: with s = softmax(x), dx = dout - s * sum(dout, axis=1, "
             "keepdims=True).\n\ndout: (N, C) upstream gradient; x: (N, C) the forward's input."),
        mistakes=(
            Mistake("log_softmax_backward_missing_row_sum", "Your backward is dout - softmax(x): every output of a "
                    "row depends on every input, so softmax(x) must be multiplied by the row's sum of dout.",
                    lambda dout, x: dout - torch.softmax(x, 1), check="backward"),
            Mistake("log_softmax_backward_of_softmax", "Your backward is softmax's, s * (dout - sum(dout * s)); "
                    "log_softmax's is dout - s * sum(dout) with s = softmax(x).",
                    _autograd(lambda x: torch.softmax(x, 1)), check="backward"),
        )),
    mistakes=(
        Mistake("log_softmax_of_softmax", "You take the log of softmax(x): on large logits softmax underflows to 0 "
                "and its log is -inf. Compute x - max - log(sum(exp(x - max))) directly (log-sum-exp).",
                _log_of_softmax),
        Mistake("log_softmax_unshifted", "Your log-sum-exp does not subtract the row maximum: exp overflows on "
                "large logits. Use x - m - log(sum(exp(x - m))) with m the row maximum.", _log_softmax_unshifted),
        Mistake("log_softmax_max_not_added_back", "You subtracted the row maximum m inside the exponential but not "
                "outside: log-softmax is x - m - log(sum(exp(x - m))).",
                lambda x: x - torch.log(torch.exp(x - x.max(1, keepdim=True).values).sum(1, keepdim=True))),
    ),
    doc=("Log-softmax over each row (axis 1): out[i] = x[i] - log(sum(exp(x[i]))).\n\n"
         "x: (N, C) logits. Returns (N, C). Use the log-sum-exp trick (subtract each row's maximum m: out = x - m - "
         "log(sum(exp(x - m)))) so that logits around 1e3 neither overflow nor underflow to -inf."),
)

EXERCISE = Exercise(
    id="activations",
    title="Activation functions",
    units=(leaky_relu, gelu, log_softmax),
    starter="activations.py",
    description=__doc__,
)
