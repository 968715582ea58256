"""Exercise `losses`: softmax cross-entropy with one-hot targets, binary cross-entropy from
probabilities and from logits, and mean squared error, each with its gradient, in NumPy.

Conventions: batch-first arrays; every loss is the mean over all elements of the per-element loss
(PyTorch's reduction="mean"; for cross-entropy, the mean over the N examples) and is returned as a
float; a gradient function takes the loss's own arguments and returns the gradient of its first one.
Features-first assignments (grader/layout.py) send the (N, C) and (N, K) arrays transposed.
"""
import numpy as np

from grader.lazy import F, torch
from grader.layout import TRANSPOSE
from grader.reference import losses as ref
from grader.spec import Arg, Backward, Case, Exercise, Function, Mistake

CHECKS = {"interface": 0.5, "forward": 2.0, "backward": 2.0, "gradcheck": 1.0, "inputs": 0.5}


def _naive_bce_of_logits(logits, y):
    """sigmoid then log, as written from the formula: NaN once exp(-z) overflows or sigmoid rounds to 1."""
    z, y = logits.numpy(), y.numpy()
    with np.errstate(all="ignore"):
        p = 1 / (1 + np.exp(-z))
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


def _naive_onehot_cross_entropy(logits, y):
    """softmax without the max shift, then log: NaN once exp overflows."""
    x, y = logits.numpy(), y.numpy()
    with np.errstate(all="ignore"):
        p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
        return -np.sum(y * np.log(p)) / x.shape[0]


onehot_cross_entropy = Function(
    name="softmax_cross_entropy_onehot",
    args={"logits": Arg(shape=("N", "C"), kind="logits", scale=2.0, large=500.0, features_first=TRANSPOSE),
          "y_onehot": Arg(shape=("N", "C"), kind="onehot", differentiable=False, features_first=TRANSPOSE)},
    reference=ref.softmax_cross_entropy_onehot,
    cases=(Case({"N": 1, "C": 4}), Case({"N": 6, "C": 3}), Case({"N": 9, "C": 10}),
           Case({"N": 4, "C": 5}, large=True)),
    checks=CHECKS,
    axis=1,
    backward=Backward(
        name="softmax_cross_entropy_onehot_backward", args=("logits", "y_onehot"), wrt=("logits",),
        doc=("Gradient of the mean softmax cross-entropy with respect to the logits: (softmax(logits) - y_onehot) "
             "/ N.\n\nlogits: (N, C); y_onehot: (N, C) one-hot rows. Returns (N, C)."),
        mistakes=(
            Mistake("onehot_cross_entropy_grad_not_averaged", "Your gradient is not divided by the batch size N; "
                    "the loss is a mean over the batch, so its gradient carries a 1/N.",
                    lambda logits, y: torch.softmax(logits, 1) - y, check="backward"),
            Mistake("onehot_cross_entropy_grad_without_softmax", "Your gradient uses the logits where the "
                    "probabilities belong: it is (softmax(logits) - y_onehot) / N.",
                    lambda logits, y: (logits - y) / logits.shape[0], check="backward"),
        )),
    mistakes=(
        Mistake("onehot_cross_entropy_sum", "Your loss sums over the batch; it must be the mean over the N "
                "examples.", lambda logits, y: F.cross_entropy(logits, y, reduction="sum")),
        Mistake("onehot_cross_entropy_unstable", "Your loss is NaN on large logits: exp overflows. Compute "
                "log-softmax with the log-sum-exp trick (subtract each row's maximum) instead of log(softmax).",
                _naive_onehot_cross_entropy),
    ),
    doc=("Mean softmax cross-entropy of one-hot targets: loss = -mean_i sum_c y_onehot[i, c] * "
         "log softmax(logits)[i, c].\n\nlogits: (N, C) unnormalized scores; y_onehot: (N, C) one-hot rows. Returns "
         "a float. Use the log-sum-exp trick so that logits around 1e3 do not overflow."),
)

binary_cross_entropy = Function(
    name="binary_cross_entropy",
    # Probabilities in [0.2, 0.8]: the common log(p + 1e-8) guard then changes the loss by < 1e-7 relative.
    args={"probs": Arg(shape=("N", "K"), kind="positive", scale=0.4, features_first=TRANSPOSE),
          "y": Arg(shape=("N", "K"), kind="mask", differentiable=False, features_first=TRANSPOSE)},
    reference=ref.binary_cross_entropy,
    cases=(Case({"N": 1, "K": 1}), Case({"N": 8, "K": 1}), Case({"N": 5, "K": 3})),
    checks=CHECKS,
    backward=Backward(
        name="binary_cross_entropy_backward", args=("probs", "y"), wrt=("probs",),
        doc=("Gradient of the mean binary cross-entropy with respect to probs: (probs - y) / (probs * (1 - probs)) "
             "/ probs.size.\n\nprobs, y: arrays of the same shape. Returns an array of probs's shape."),
        mistakes=(
            Mistake("bce_grad_with_respect_to_logits", "Your gradient is (probs - y) / size, the gradient with "
                    "respect to the logits; with respect to the probabilities it is (probs - y) / (probs * (1 - "
                    "probs)) / size.", lambda p, y: (p - y) / p.numel(), check="backward"),
            Mistake("bce_grad_not_averaged", "Your gradient is not divided by the number of elements; the loss is "
                    "a mean, so its gradient carries 1 / probs.size.",
                    lambda p, y: (p - y) / (p * (1 - p)), check="backward"),
        )),
    mistakes=(
        Mistake("bce_missing_negative_term", "Your loss keeps only -y * log(p); binary cross-entropy also has the "
                "term -(1 - y) * log(1 - p) for the examples whose label is 0.",
                lambda p, y: -(y * torch.log(p)).mean()),
        Mistake("bce_sum", "Your loss sums over the elements; it must be their mean.",
                lambda p, y: F.binary_cross_entropy(p, y, reduction="sum")),
    ),
    doc=("Mean binary cross-entropy of probabilities: loss = -mean(y * log(probs) + (1 - y) * log(1 - probs)), "
         "the mean over all elements.\n\nprobs: (N, K) predicted probabilities in (0, 1); y: (N, K) labels 0.0 "
         "or 1.0. Returns a float."),
)

bce_with_logits = Function(
    name="binary_cross_entropy_with_logits",
    args={"logits": Arg(shape=("N", "K"), kind="logits", scale=2.0, large=500.0, features_first=TRANSPOSE),
          "y": Arg(shape=("N", "K"), kind="mask", differentiable=False, features_first=TRANSPOSE)},
    reference=ref.binary_cross_entropy_with_logits,
    cases=(Case({"N": 1, "K": 1}), Case({"N": 8, "K": 1}), Case({"N": 5, "K": 3}),
           Case({"N": 6, "K": 2}, large=True)),
    checks=CHECKS,
    backward=Backward(
        name="binary_cross_entropy_with_logits_backward", args=("logits", "y"), wrt=("logits",),
        doc=("Gradient of the mean binary cross-entropy with respect to the logits: (sigmoid(logits) - y) / "
             "logits.size.\n\nlogits, y: arrays of the same shape. Returns an array of logits's shape; it must stay "
             "finite for logits around 1e3."),
        mistakes=(
            Mistake("bce_logits_grad_not_averaged", "Your gradient is not divided by the number of elements; the "
                    "loss is a mean, so its gradient carries 1 / logits.size.",
                    lambda z, y: torch.sigmoid(z) - y, check="backward"),
            Mistake("bce_logits_grad_extra_sigmoid_derivative", "Your gradient multiplies (sigmoid(z) - y) by "
                    "sigmoid'(z) = s * (1 - s): with the logits as input that factor cancels against the loss's "
                    "derivative, and the gradient is (sigmoid(z) - y) / size.",
                    lambda z, y: (torch.sigmoid(z) - y) * torch.sigmoid(z) * (1 - torch.sigmoid(z)) / z.numel(),
                    check="backward"),
        )),
    mistakes=(
        Mistake("bce_logits_unstable", "Your loss is NaN on large logits: sigmoid saturates to 0 or 1 and its log "
                "is -inf. Use the stable form max(z, 0) - z * y + log(1 + exp(-|z|)).", _naive_bce_of_logits),
        Mistake("bce_logits_sum", "Your loss sums over the elements; it must be their mean.",
                lambda z, y: F.binary_cross_entropy_with_logits(z, y, reduction="sum")),
    ),
    doc=("Mean binary cross-entropy of logits z: loss = mean(-y * log(sigmoid(z)) - (1 - y) * log(1 - "
         "sigmoid(z))), computed stably as mean(max(z, 0) - z * y + log(1 + exp(-|z|))).\n\nlogits: (N, K) "
         "real-valued scores; y: (N, K) labels 0.0 or 1.0. Returns a float; it must stay finite for logits "
         "around 1e3."),
)

mse = Function(
    name="mean_squared_error",
    args={"pred": Arg(shape=("N", "K"), features_first=TRANSPOSE),
          "target": Arg(shape=("N", "K"), differentiable=False, features_first=TRANSPOSE)},
    reference=ref.mean_squared_error,
    cases=(Case({"N": 1, "K": 1}), Case({"N": 6, "K": 1}), Case({"N": 4, "K": 3})),
    checks=CHECKS,
    backward=Backward(
        name="mean_squared_error_backward", args=("pred", "target"), wrt=("pred",),
        doc=("Gradient of the mean squared error with respect to pred: 2 * (pred - target) / pred.size.\n\n"
             "pred, target: arrays of the same shape. Returns an array of pred's shape."),
        mistakes=(
            Mistake("mse_grad_not_averaged", "Your gradient is not divided by the number of elements; the loss is "
                    "a mean, so its gradient carries 1 / pred.size.", lambda p, t: 2 * (p - t), check="backward"),
            Mistake("mse_grad_missing_factor_2", "Your gradient lacks the factor 2 from the derivative of the "
                    "square: it is 2 * (pred - target) / pred.size.", lambda p, t: (p - t) / p.numel(),
                    check="backward"),
        )),
    mistakes=(
        Mistake("mse_half", "Your loss has a factor 1/2 (a convention of some courses); this exercise's loss is "
                "mean((pred - target) ** 2), without it.", lambda p, t: 0.5 * F.mse_loss(p, t)),
        Mistake("mse_sum_over_outputs", "Your loss sums over the K outputs and averages over the N examples only; "
                "it must be the mean over all N * K elements.", lambda p, t: ((p - t) ** 2).sum(1).mean()),
    ),
    doc=("Mean squared error: loss = mean((pred - target) ** 2), the mean over all elements.\n\npred, target: (N, "
         "K) arrays. Returns a float."),
)

EXERCISE = Exercise(
    id="losses",
    title="Loss functions",
    units=(onehot_cross_entropy, binary_cross_entropy, bce_with_logits, mse),
    starter="losses.py",
    description=__doc__,
)
