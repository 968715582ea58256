"""Exercise `layernorm`: layer normalization, forward and backward, in NumPy.

Each example (row) of x is normalized over its own features: with mu and var the mean and biased
variance of the row, out = gamma * (x - mu) / sqrt(var + eps) + beta.
"""
import torch

from grader.spec import Arg, Backward, Case, Exercise, Function, Mistake

EPS = 1e-5


def layernorm(x, gamma, beta, eps):
    """The reference: ordinary PyTorch on float64 tensors. The backward is graded against its autograd
    gradients, so there is no backward reference to write."""
    return torch.nn.functional.layer_norm(x, x.shape[-1:], gamma, beta, eps)


def _normalized(x, eps, *, dim=1, unbiased=False):
    mean = x.mean(dim, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(dim, unbiased=unbiased, keepdim=True) + eps)


def _wrong_grads(dout, x, gamma, eps, *, through_statistics=True, dgamma_with_x=False):
    """(dx, dgamma, dbeta) written out by hand, with one step changed: the mistakes' outputs."""
    x_hat, std = _normalized(x, eps), torch.sqrt(x.var(1, unbiased=False, keepdim=True) + eps)
    g = dout * gamma
    dx = g / std
    if through_statistics:
        dx = dx - (g.mean(1, keepdim=True) + x_hat * (g * x_hat).mean(1, keepdim=True)) / std
    return dx, (dout * (x if dgamma_with_x else x_hat)).sum(0), dout.sum(0)


layernorm_unit = Function(
    name="layernorm_forward",
    # Arguments in the order the student's function takes them; shapes in named dimensions, sized per case.
    args={"x": Arg(shape=("N", "D"), scale=2.0),
          "gamma": Arg(shape=("D",), kind="positive"),
          "beta": Arg(shape=("D",)),
          "eps": Arg(kind="fixed", value=EPS)},
    reference=layernorm,
    # D >= 2: a row of one feature normalizes to 0 whatever the code does.
    cases=(Case({"N": 4, "D": 6}), Case({"N": 1, "D": 5}), Case({"N": 7, "D": 3})),
    checks={"interface": 0.5, "forward": 2.0, "backward": 2.0, "gradcheck": 1.0, "inputs": 0.5},
    axis=1,  # the axis it normalizes over: a submission using another one gets the wrong-axis hint
    backward=Backward(
        name="layernorm_backward", args=("dout", "x", "gamma", "eps"), wrt=("x", "gamma", "beta"),
        doc=("Gradients of layernorm_forward: returns (dx, dgamma, dbeta).\n\n"
             "dout: (N, D) upstream gradient; x: (N, D); gamma: (D,); eps: float. dx is (N, D); dgamma and dbeta "
             "are (D,) (or (1, D))."),
        mistakes=(
            Mistake("layernorm_backward_ignores_statistics", "Your dx treats each row's mean and variance as "
                    "constants, but they depend on x. With g = dout * gamma and x_hat the normalized x: dx = (g - "
                    "g.mean(axis=1, keepdims=True) - x_hat * (g * x_hat).mean(axis=1, keepdims=True)) / "
                    "sqrt(var + eps).",
                    lambda dout, x, gamma, eps: _wrong_grads(dout, x, gamma, eps, through_statistics=False),
                    check="backward"),
            Mistake("layernorm_backward_dgamma_with_x", "Your dgamma uses x where the normalized x_hat belongs: "
                    "dgamma = (dout * x_hat).sum(axis=0).",
                    lambda dout, x, gamma, eps: _wrong_grads(dout, x, gamma, eps, dgamma_with_x=True),
                    check="backward"),
        )),
    mistakes=(
        Mistake("layernorm_over_the_batch", "You normalize each feature over the batch (axis 0), as batch "
                "normalization does; layer normalization normalizes each example over its features (axis 1).",
                lambda x, gamma, beta, eps: gamma * _normalized(x, eps, dim=0) + beta),
        Mistake("layernorm_unbiased_variance", "You divide the variance by D - 1; layer normalization uses the "
                "biased variance (divide by D), as np.var does by default.",
                lambda x, gamma, beta, eps: gamma * _normalized(x, eps, unbiased=True) + beta),
    ),
    doc=("Layer normalization of each row of x: out = gamma * (x - mu) / sqrt(var + eps) + beta, where mu and var "
         "are the mean and the biased variance of the row (over axis 1).\n\n"
         "x: (N, D); gamma, beta: (D,); eps: float. Returns (N, D)."),
)

EXERCISE = Exercise(
    id="layernorm",
    title="Layer normalization",
    units=(layernorm_unit,),
    starter="layernorm.py",
    description=__doc__,
    visibility={"gradcheck": "after_due_date"},  # Gradescope shows this check once the deadline has passed
)
