"""Exercise `regularization`: inverted dropout and batch normalization (training and eval mode), with
their backward functions, in NumPy.

Conventions: batch-first arrays, x is (N, D); every hyperparameter (p_drop, momentum, eps) and the
mode (`training`) is an argument. Features-first assignments (grader/layout.py) send x as (D, N) and
the per-feature vectors as (D, 1). Dropout's random mask is an argument too: the grader supplies it, so
that every way of drawing it (rand < p, binomial, default_rng) is graded alike.
"""

from grader.lazy import torch
from grader.layout import COLUMN, TRANSPOSE
from grader.reference import regularization as ref
from grader.spec import Arg, Backward, Case, Exercise, Function, Mistake

CHECKS = {"interface": 0.5, "forward": 2.0, "backward": 2.0, "gradcheck": 1.0, "inputs": 0.5}
P_DROP = 0.2  # not 0.5, where 1 / (1 - p) and 1 / p coincide and a keep/drop mix-up would pass
MOMENTUM = 0.1
EPS = 1e-5
EVAL = {"training": False}


def _batchnorm_variant(*, normalize_unbiased=False, running_unbiased=True, momentum_on_old=False):
    """batchnorm in training mode with one convention changed, for the mistake catalogue."""
    def forward(x, gamma, beta, running_mean, running_var, momentum, eps, training):
        mean = x.mean(0)
        biased, unbiased = x.var(0, unbiased=False), x.var(0, unbiased=True)
        var = unbiased if normalize_unbiased else biased
        out = gamma * (x - mean) / torch.sqrt(var + eps) + beta
        if not training:
            return ref.batchnorm(x, gamma, beta, running_mean, running_var, momentum, eps, training)
        keep, new = (momentum, 1 - momentum) if momentum_on_old else (1 - momentum, momentum)
        batch_var = unbiased if running_unbiased else biased
        return out, keep * running_mean + new * mean, keep * running_var + new * batch_var
    return forward


def _batchnorm_grads(dout, x, gamma, eps):
    """(dx, dgamma, dbeta) of training-mode batchnorm, the part of a wrong backward that is right."""
    x_hat = (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + eps)
    dx = gamma / torch.sqrt(x.var(0, unbiased=False) + eps) * (dout - dout.mean(0) - x_hat * (dout * x_hat).mean(0))
    return dx, (dout * x_hat).sum(0), dout.sum(0)


def _batchnorm_eval_with_batch_stats(x, gamma, beta, running_mean, running_var, momentum, eps, training):
    out, _m, _v = ref.batchnorm(x, gamma, beta, running_mean, running_var, momentum, eps, True)
    return out, running_mean, running_var


dropout = Function(
    name="dropout_forward",
    args={"x": Arg(shape=("N", "D"), features_first=TRANSPOSE),
          "mask": Arg(shape=("N", "D"), kind="mask", differentiable=False, features_first=TRANSPOSE),
          "p_drop": Arg(kind="fixed", value=P_DROP), "training": Arg(kind="fixed", value=True)},
    features_first={"out": TRANSPOSE},
    reference=ref.dropout,
    cases=(Case({"N": 4, "D": 5}), Case({"N": 8, "D": 3}), Case({"N": 1, "D": 6}),
           Case({"N": 3, "D": 6}, values=EVAL, label="training=False")),
    checks=CHECKS,
    backward=Backward(
        name="dropout_backward", args=("dout", "mask", "p_drop", "training"), wrt=("x",),
        doc=("Gradient of inverted dropout: dx = dout * mask / (1 - p_drop) in training mode, dx = dout in eval "
             "mode.\n\ndout: (N, D) upstream gradient; mask, p_drop, training: as given to dropout_forward."),
        mistakes=(
            Mistake("dropout_backward_not_rescaled", "Your backward multiplies by the mask but not by 1 / (1 - "
                    "p_drop): the forward scales the kept units, so their gradient is scaled too.",
                    lambda dout, mask, p, training: dout * mask if training else dout, check="backward"),
            Mistake("dropout_backward_masks_in_eval_mode", "Your backward applies the mask in eval mode "
                    "(training=False), where dropout is the identity and dx = dout.",
                    lambda dout, mask, p, training: dout * mask / (1 - p), check="backward"),
        )),
    mistakes=(
        Mistake("dropout_not_rescaled", "You multiply by the mask but do not divide by 1 - p_drop: inverted dropout "
                "scales the kept units up so that the expected output equals x and eval mode is the identity.",
                lambda x, mask, p, training: x * mask if training else x),
        Mistake("dropout_keep_drop_confused", "You divide by p_drop; p_drop is the probability of DROPPING a unit "
                "(PyTorch's p), so the kept units are divided by the keep probability 1 - p_drop.",
                lambda x, mask, p, training: x * mask / p if training else x),
        Mistake("dropout_in_eval_mode", "You drop units in eval mode (training=False), where dropout must return x "
                "unchanged.", lambda x, mask, p, training: x * mask / (1 - p)),
    ),
    doc=("Inverted dropout: out = x * mask / (1 - p_drop) when training, out = x when not.\n\n"
         "x: (N, D) array; mask: (N, D) array of 0.0 (dropped) and 1.0 (kept), drawn by the caller, so do not draw "
         "your own; p_drop: float, the probability of dropping a unit (PyTorch's p, not the keep probability); "
         "training: bool, False in eval mode, where dropout is the identity. Returns an array of x's shape."),
)

batchnorm = Function(
    name="batchnorm_forward",
    args={"x": Arg(shape=("N", "D"), scale=2.0, features_first=TRANSPOSE),
          "gamma": Arg(shape=("D",), features_first=COLUMN), "beta": Arg(shape=("D",), features_first=COLUMN),
          "running_mean": Arg(shape=("D",), differentiable=False, features_first=COLUMN),
          "running_var": Arg(shape=("D",), kind="positive", differentiable=False, features_first=COLUMN),
          "momentum": Arg(kind="fixed", value=MOMENTUM), "eps": Arg(kind="fixed", value=EPS),
          "training": Arg(kind="fixed", value=True)},
    reference=ref.batchnorm,
    outputs=("out", "running_mean", "running_var"),
    features_first={"out": TRANSPOSE, "running_mean": COLUMN, "running_var": COLUMN},
    # Batches of at least 2 (the unbiased variance divides by N - 1); eval mode has no backward to check.
    cases=(Case({"N": 2, "D": 3}), Case({"N": 5, "D": 4}), Case({"N": 16, "D": 6}),
           Case({"N": 4, "D": 3}, values=EVAL, label="training=False", kinds=("forward",))),
    checks=CHECKS,
    mutates=("running_mean", "running_var"),
    axis=0,
    backward=Backward(
        name="batchnorm_backward", args=("dout", "x", "gamma", "eps"), wrt=("x", "gamma", "beta"),
        doc=("Gradients of batchnorm_forward's out in training mode: returns (dx, dgamma, dbeta).\n\n"
             "With mu, var the batch mean and biased variance of x (axis 0), x_hat = (x - mu) / sqrt(var + eps):\n"
             "dbeta = dout.sum(axis=0), dgamma = (dout * x_hat).sum(axis=0), and dx = gamma / sqrt(var + eps) * "
             "(dout - dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0)).\n\n"
             "dout: (N, D) upstream gradient; x: (N, D); gamma: (D,); eps: float. dx is (N, D), dgamma and "
             "dbeta are (D,) (or (1, D))."),
        mistakes=(
            Mistake("batchnorm_backward_ignores_batch_statistics", "Your dx treats the batch mean and variance as "
                    "constants (dout * gamma / sqrt(var + eps)); they depend on x, which adds the two terms "
                    "- dout.mean(axis=0) - x_hat * (dout * x_hat).mean(axis=0) inside the bracket.",
                    lambda dout, x, gamma, eps: (dout * gamma / torch.sqrt(x.var(0, unbiased=False) + eps),
                                                 *_batchnorm_grads(dout, x, gamma, eps)[1:]), check="backward"),
            Mistake("batchnorm_backward_dgamma_with_x", "Your dgamma uses x where the normalized x_hat belongs: "
                    "dgamma = (dout * x_hat).sum(axis=0).",
                    lambda dout, x, gamma, eps: (_batchnorm_grads(dout, x, gamma, eps)[0], (dout * x).sum(0),
                                                 dout.sum(0)), check="backward"),
        )),
    mistakes=(
        Mistake("batchnorm_running_var_biased", "Your running variance is updated with the biased batch variance; "
                "torch.nn.BatchNorm1d normalizes with the biased variance but updates the running estimate with the "
                "unbiased one (divide by N - 1).", _batchnorm_variant(running_unbiased=False)),
        Mistake("batchnorm_normalizes_with_unbiased_var", "You normalize with the unbiased batch variance (divide by "
                "N - 1); normalization uses the biased variance (divide by N), only the running estimate uses the "
                "unbiased one.", _batchnorm_variant(normalize_unbiased=True)),
        Mistake("batchnorm_momentum_on_old_value", "Your running statistics put the momentum on the old value "
                "(Keras's convention); PyTorch's is new = (1 - momentum) * old + momentum * batch statistic.",
                _batchnorm_variant(momentum_on_old=True)),
        Mistake("batchnorm_eval_uses_batch_statistics", "In eval mode (training=False) you normalize with the batch's "
                "statistics; eval mode uses the running mean and variance, and leaves them unchanged.",
                _batchnorm_eval_with_batch_stats),
    ),
    doc=("Batch normalization over the batch (axis 0), exactly as torch.nn.BatchNorm1d.\n\n"
         "Training mode (training=True): with mu and var the batch mean and biased variance (divide by N),\n"
         "out = gamma * (x - mu) / sqrt(var + eps) + beta, and the running statistics become\n"
         "running_mean = (1 - momentum) * running_mean + momentum * mu,\n"
         "running_var = (1 - momentum) * running_var + momentum * var_unbiased (divide by N - 1).\n"
         "Eval mode (training=False): out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta, and the "
         "running statistics are unchanged.\n\n"
         "x: (N, D) with N >= 2; gamma, beta, running_mean, running_var: (D,); momentum, eps: floats; training: "
         "bool. Returns (out, new_running_mean, new_running_var). Updating running_mean and running_var in place is "
         "fine too, as long as you also return them."),
)

EXERCISE = Exercise(
    id="regularization",
    title="Dropout and batch normalization",
    units=(dropout, batchnorm),
    starter="regularization.py",
    description=__doc__,
)
