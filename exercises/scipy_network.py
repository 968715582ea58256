"""Exercise `scipy_network`: the cost function of a two-layer network for scipy.optimize.minimize, as
taught in courses that train with SciPy instead of writing their own gradient descent.

The student writes cost_function(flat_params, ...) -> (J, grad). The grader checks J and grad against
torch autograd, grad against finite differences of the student's own J, and trains: the grader runs
scipy.optimize.minimize(jac=True, method="L-BFGS-B") itself, calling the student's function for every
evaluation, and measures the test accuracy of the parameters it gets back (grader/checks/scipy_train.py).

The packing of flat_params is W1, b1, W2, b2, each in C order, unless the assignment's [scipy_network]
table says otherwise (`blocks = [...]`, `order = "F"`); with `layout = "features_first"` the weights
are W1 (H, D), W2 (C, H) and X is (D, m).
"""
from functools import partial

from grader.reference import scipy_network as ref
from grader.spec import Arg, Case, Exercise, Function, Mistake

DOC = """Cost and gradient of a two-layer network, for scipy.optimize.minimize(..., jac=True).

flat_params: 1-D array holding W1 (input_size, hidden_size), b1 (hidden_size,),
    W2 (hidden_size, num_labels) and b2 (num_labels,), in that order, each flattened in C order:
    np.concatenate([W1.ravel(), b1, W2.ravel(), b2]). Unpack it with slices and reshape.
input_size, hidden_size, num_labels: the layer sizes D, H, C (ints).
X: (m, input_size) examples; y: (m,) integer labels in 0..num_labels-1; lambda_: regularization strength.

Network: A1 = sigmoid(X @ W1 + b1); P = softmax(A1 @ W2 + b2), over each row.
Cost: J = -(1/m) * sum_i log(P[i, y[i]]) + lambda_ / (2*m) * (sum(W1**2) + sum(W2**2)).
The biases are not regularized.

Returns (J, grad): J a float, grad the gradient of J as a 1-D array packed exactly like flat_params
(dW1, db1, dW2, db2, each in C order).
"""


def _grad_without_regularization(flat, D, H, C, X, y, lambda_, **packing):
    """The right J with the gradient of the data term only."""
    J, _grad = ref.cost_and_grad(flat, D, H, C, X, y, lambda_, **packing)
    return J, ref.cost_and_grad(flat, D, H, C, X, y, 0.0, **packing)[1]


def _grad_in_other_order(flat, D, H, C, X, y, lambda_, **packing):
    other = "F" if packing.get("order", "C") == "C" else "C"
    return ref.cost_and_grad(flat, D, H, C, X, y, lambda_, grad_order=other, **packing)


cost_function = Function(
    name="cost_function",
    # The documented signature; grader/checks/scipy_train.py draws the values (sizes from each case's
    # dims, lambda_ from its values).
    args={"flat_params": Arg(shape=("P",)), "input_size": Arg(kind="fixed"), "hidden_size": Arg(kind="fixed"),
          "num_labels": Arg(kind="fixed"), "X": Arg(shape=("N", "D")),
          "y": Arg(shape=("N",), kind="labels", differentiable=False), "lambda_": Arg(kind="fixed", value=1.0)},
    reference=ref.cost_and_grad,
    outputs=("J", "grad"),
    cases=(Case({"N": 7, "D": 5, "H": 4, "C": 3}, values={"lambda_": 0.7}),
           Case({"N": 12, "D": 3, "H": 6, "C": 4}, values={"lambda_": 2.5}),
           Case({"N": 1, "D": 4, "H": 3, "C": 5}, values={"lambda_": 1.3}),
           Case({"N": 9, "D": 6, "H": 5, "C": 2}, values={"lambda_": 0.0})),
    checks={"interface": 0.5, "cost_value": 1.5, "cost_gradient": 2.0, "cost_gradcheck": 1.0, "cost_training": 2.0},
    # References of mistakes: (flat, D, H, C, X, y, lambda_, **packing) -> (J, grad), like ref.cost_and_grad.
    mistakes=(
        Mistake("scipy_bias_regularized", "Your regularization includes the biases; only W1 and W2 are "
                "regularized (neither in J nor in grad do b1 and b2 get a lambda_ term).",
                partial(ref.cost_and_grad, regularize_biases=True), check="cost"),
        Mistake("scipy_reg_not_halved", "Your regularization term is lambda_ / m * sum(W**2); the cost uses "
                "lambda_ / (2*m) * sum(W**2), whose gradient is lambda_ / m * W.",
                partial(ref.cost_and_grad, reg_factor=1.0), check="cost"),
        Mistake("scipy_grad_no_regularization", "Your gradient leaves out the regularization: add "
                "lambda_ / m * W1 to dW1 and lambda_ / m * W2 to dW2 (not to the biases).",
                _grad_without_regularization, check="cost"),
        Mistake("scipy_sum_not_mean", "Your data term sums the cross-entropy over the examples; J averages "
                "it: -(1/m) * sum_i log P[i, y[i]].", partial(ref.cost_and_grad, reduction="sum"), check="cost"),
        Mistake("scipy_grad_wrong_order", "Your gradient has the right numbers in the wrong order: flatten dW1 "
                "and dW2 exactly as flat_params was packed (C order: dW.ravel(), not dW.ravel(order='F') or "
                "dW.T.ravel()).", _grad_in_other_order, check="cost"),
        Mistake("scipy_grad_no_sigmoid_derivative", "Your gradient passes through the hidden layer without "
                "sigmoid's derivative: dZ1 = (dZ2 @ W2.T) * A1 * (1 - A1), with A1 = sigmoid(X @ W1 + b1).",
                partial(ref.cost_and_grad, sigmoid_derivative=False), check="cost"),
    ),
    batch_dim=None,
    doc=DOC,
)

EXERCISE = Exercise(
    id="scipy_network",
    title="A network trained with scipy.optimize",
    units=(cost_function,),
    starter="scipy_network.py",
    description=__doc__,
)
