"""Exercise `layers`: functional forward/backward pairs, a loss and an SGD step, in NumPy.

Conventions (stated in every docstring): batch-first arrays, x is (N, D); backward functions take
the upstream gradient `dout` and the forward's own inputs, and return gradients of the same shapes
as those inputs. An assignment with `layout = "features_first"` grades the same functions with x as
(D, N), W as (H, D) and b as (H, 1) (the `features_first` fields below; grader/layout.py).
"""

from grader.lazy import torch
from grader.reference import layers as ref
from grader.layout import COLUMN, TRANSPOSE
from grader.spec import Arg, Backward, Case, Exercise, Function, Mistake

ELEMENTWISE_CASES = (Case({"N": 1, "D": 7}), Case({"N": 4, "D": 3}), Case({"N": 6, "D": 11}))
CHECKS = {"interface": 0.5, "forward": 2.0, "backward": 2.0, "gradcheck": 1.0, "inputs": 0.5}


def _activation(name, reference, doc, backward_doc, mistakes=(), away_from=(), extra_checks=None, kinks=()):
    return Function(
        name=f"{name}_forward",
        args={"x": Arg(shape=("N", "D"), scale=2.0, away_from=away_from, features_first=TRANSPOSE)},
        features_first={"out": TRANSPOSE},
        reference=reference,
        cases=ELEMENTWISE_CASES,
        checks={**CHECKS, **(extra_checks or {})},
        backward=Backward(name=f"{name}_backward", args=("dout", "x"), wrt=("x",), mistakes=mistakes,
                          doc=backward_doc),
        kinks=kinks,
        doc=doc,
    )


relu = _activation(
    "relu", ref.relu,
    doc="ReLU, elementwise: out = max(0, x).\n\nx: (N, D) array. Returns an array of the same shape.",
    backward_doc=("Gradient of ReLU: dx = dout * (x > 0).\n\ndout: (N, D) upstream gradient; x: (N, D) the "
                  "forward's input. At the kink x == 0 the derivative is 0 (PyTorch's convention)."),
    away_from=(0.0,),
    extra_checks={"kink": 0.5},
    kinks=({"x": [[0.0, 1.5, -2.0], [0.0, 0.0, 3.0]]},),
    mistakes=(Mistake("relu_backward_passes_dout", "Your backward returns dout unchanged: ReLU's gradient is "
                      "zero wherever x <= 0.", lambda dout, x: dout, check="backward"),
              Mistake("relu_backward_one_at_zero", "Your backward takes ReLU's derivative as 1 at x == 0 (x >= 0); "
                      "the convention (PyTorch's) is 0 there: dx = dout * (x > 0).",
                      lambda dout, x: dout * (x >= 0), check="backward")),
)

sigmoid = _activation(
    "sigmoid", ref.sigmoid,
    doc="Logistic sigmoid, elementwise: out = 1 / (1 + exp(-x)).\n\nx: (N, D). Must not overflow for large |x|.",
    backward_doc=("Gradient of sigmoid: dx = dout * s * (1 - s) where s = sigmoid(x).\n\n"
                  "dout: (N, D) upstream gradient; x: (N, D) the forward's input (not its output)."),
    mistakes=(Mistake("sigmoid_backward_uses_z", "Your backward computes dout * z * (1 - z) with the input z; "
                      "the derivative is s * (1 - s) with s = sigmoid(z).",
                      lambda dout, x: dout * x * (1 - x), check="backward"),
              Mistake("sigmoid_backward_no_dout", "Your backward forgets to multiply by the upstream gradient dout.",
                      lambda dout, x: torch.sigmoid(x) * (1 - torch.sigmoid(x)), check="backward")),
)

tanh = _activation(
    "tanh", ref.tanh,
    doc="Hyperbolic tangent, elementwise.\n\nx: (N, D). Returns an array of the same shape.",
    backward_doc=("Gradient of tanh: dx = dout * (1 - tanh(x)**2).\n\ndout: (N, D) upstream gradient; "
                  "x: (N, D) the forward's input."),
    mistakes=(Mistake("tanh_backward_uses_x", "Your backward computes 1 - x**2 with the input x; the derivative "
                      "is 1 - tanh(x)**2.", lambda dout, x: dout * (1 - x ** 2), check="backward"),),
)

softmax = Function(
    name="softmax",
    args={"x": Arg(shape=("N", "C"), kind="logits", scale=2.0, large=500.0, features_first=TRANSPOSE)},
    features_first={"out": TRANSPOSE},
    reference=ref.softmax,
    cases=(Case({"N": 1, "C": 5}), Case({"N": 4, "C": 3}), Case({"N": 5, "C": 10}),
           Case({"N": 3, "C": 4}, large=True)),
    checks=CHECKS,
    axis=1,
    backward=Backward(
        name="softmax_backward", args=("dout", "x"), wrt=("x",),
        doc=("Gradient of softmax along each row: with s = softmax(x), dx = s * (dout - sum(dout * s, axis=1, "
             "keepdims=True)).\n\ndout: (N, C) upstream gradient; x: (N, C) the forward's input."),
        mistakes=(Mistake("softmax_backward_diagonal", "Your backward uses only the diagonal of the softmax "
                          "Jacobian, dout * s * (1 - s); every output depends on every input of its row.",
                          lambda dout, x: dout * torch.softmax(x, 1) * (1 - torch.softmax(x, 1)),
                          check="backward"),)),
    doc=("Softmax over each row (axis 1): out[i] = exp(x[i]) / sum(exp(x[i])).\n\nx: (N, C) logits. Subtract "
         "each row's maximum before exponentiating, so logits around 1e3 do not overflow."),
)

linear = Function(
    name="linear_forward",
    args={"x": Arg(shape=("N", "D"), features_first=TRANSPOSE), "W": Arg(shape=("D", "H"), features_first=TRANSPOSE),
          "b": Arg(shape=("H",), features_first=COLUMN)},
    features_first={"out": TRANSPOSE},
    reference=ref.linear,
    cases=(Case({"N": 1, "D": 4, "H": 3}), Case({"N": 5, "D": 3, "H": 6}), Case({"N": 8, "D": 7, "H": 2})),
    checks=CHECKS,
    backward=Backward(
        name="linear_backward", args=("dout", "x", "W", "b"), wrt=("x", "W", "b"),
        doc=("Gradients of the affine layer: returns (dx, dW, db) with dx = dout @ W.T, dW = x.T @ dout, "
             "db = dout.sum(axis=0).\n\ndout: (N, H); x: (N, D); W: (D, H); b: (H,)."),
        mistakes=(Mistake("linear_backward_db_mean", "Your db averages over the batch; the bias is used once per "
                          "example, so its gradient is the sum of dout over the batch.",
                          lambda dout, x, W, b: (dout @ W.T, x.T @ dout, dout.mean(0)), check="backward"),)),
    doc=("Affine layer: out = x @ W + b.\n\nx: (N, D) inputs; W: (D, H) weights; b: (H,) bias (a (1, H) bias "
         "also works). Returns (N, H)."),
)

cross_entropy = Function(
    name="softmax_cross_entropy",
    args={"logits": Arg(shape=("N", "C"), kind="logits", scale=2.0, large=500.0, features_first=TRANSPOSE),
          "y": Arg(shape=("N",), kind="labels", differentiable=False)},
    reference=ref.softmax_cross_entropy,
    cases=(Case({"N": 1, "C": 4}), Case({"N": 6, "C": 3}), Case({"N": 9, "C": 10}),
           Case({"N": 4, "C": 5}, large=True)),
    checks=CHECKS,
    axis=1,
    backward=Backward(
        name="softmax_cross_entropy_backward", args=("logits", "y"), wrt=("logits",),
        doc=("Gradient of the mean softmax cross-entropy with respect to the logits: (softmax(logits) - "
             "onehot(y)) / N.\n\nlogits: (N, C); y: (N,) integer labels. Returns (N, C)."),
        mistakes=(Mistake("cross_entropy_grad_not_averaged", "Your gradient is not divided by the batch size N; "
                          "the loss is a mean over the batch, so its gradient carries a 1/N.",
                          lambda logits, y: torch.softmax(logits, 1) - torch.nn.functional.one_hot(
                              y, logits.shape[1]).double(), check="backward"),)),
    mistakes=(Mistake("cross_entropy_sum", "Your loss sums over the batch; it must be the mean over the N examples.",
                      lambda logits, y: torch.nn.functional.cross_entropy(logits, y, reduction="sum")),),
    doc=("Mean softmax cross-entropy of integer labels: loss = -mean_i log softmax(logits)[i, y[i]].\n\n"
         "logits: (N, C) unnormalized scores; y: (N,) integer labels in 0..C-1. Returns a float. Use the "
         "log-sum-exp trick so logits around 1e3 do not overflow."),
)

sgd = Function(
    name="sgd_update",
    args={"param": Arg(shape=("D", "H")), "grad": Arg(shape=("D", "H"), differentiable=False),
          "lr": Arg(kind="fixed", value=0.1)},
    reference=ref.sgd_step,
    cases=(Case({"D": 3, "H": 4}), Case({"D": 1, "H": 5})),
    checks={"interface": 0.5, "update": 2.0, "inputs": 0.5},
    mutates=("param",),
    batch_dim=None,
    mistakes=(Mistake("sgd_ascent", "Your step adds the gradient: gradient descent moves against it, "
                      "param - lr * grad.", lambda p, g, lr: p + lr * g, check="update"),),
    doc=("One plain SGD step: param <- param - lr * grad.\n\nparam, grad: arrays of the same shape; lr: float. "
         "Update in place and return None, or return the new array: both are accepted. Do not modify grad."),
)

EXERCISE = Exercise(
    id="layers",
    title="Functional layers",
    units=(relu, sigmoid, tanh, softmax, linear, cross_entropy, sgd),
    starter="layers.py",
    description=__doc__,
)
