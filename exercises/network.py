"""Exercise `network`: the course's two-layer NeuralNetwork class (ReLU hidden layer, softmax output,
cross-entropy loss, plain SGD), every method checked against the same network in PyTorch."""

from grader.lazy import torch
from grader.reference import network as ref
from grader.spec import Case, Exercise, Mistake, Model, Param

STUB = '''
class NeuralNetwork:
    """A two-layer network: X -> Linear(W1, b1) -> ReLU -> Linear(W2, b2) -> softmax.

    Attributes (the grader sets them after construction, and reads them back after updates):
      W1: (input_size, hidden_size)   b1: (1, hidden_size) or (hidden_size,)
      W2: (hidden_size, output_size)  b2: (1, output_size) or (output_size,)
    Arrays are batch-first: X is (N, input_size).
    """

    def __init__(self, input_size, hidden_size, output_size):
        """Create W1, b1, W2, b2 with the shapes above (any initialization you like)."""
        raise NotImplementedError

    def forward(self, X):
        """Softmax probabilities (N, output_size); keep in self whatever backward needs."""
        raise NotImplementedError

    def cross_entropy_loss(self, y_pred, y_true):
        """Mean loss of the probabilities y_pred (N, C) for one-hot y_true (N, C):
        -(y_true * log(y_pred)).sum(axis=1).mean(). Returns a float."""
        raise NotImplementedError

    def backward(self, y_true):
        """Gradients of the mean loss of the last forward pass, for one-hot y_true (N, C).

        Returns a dict {"dW1", "db1", "dW2", "db2"} with arrays in the parameters' shapes."""
        raise NotImplementedError

    def update_params(self, grads, learning_rate):
        """One plain SGD step: W <- W - learning_rate * dW for every parameter. Do not modify grads."""
        raise NotImplementedError

    def train_step(self, X, y_true, learning_rate):
        """forward, loss, backward and update_params on one batch; returns the loss before the update."""
        raise NotImplementedError

    def predict(self, X):
        """Class labels (N,) of integers: the most probable class of each row."""
        raise NotImplementedError
'''


def _grads_summed(params, X, y):
    """The gradients of the summed (not mean) loss: a missing 1/N."""
    tensors = {k: v.clone().requires_grad_(True) for k, v in params.items()}
    loss = ref.cross_entropy(ref.probabilities(tensors, X), y) * X.shape[0]
    return dict(zip(tensors, torch.autograd.grad(loss, list(tensors.values()))))


def _grads_no_relu_mask(params, X, y):
    """Backpropagation through the hidden layer without ReLU's mask."""
    hidden_pre = X @ params["W1"] + params["b1"].reshape(-1)
    hidden = torch.relu(hidden_pre)
    probs = torch.softmax(hidden @ params["W2"] + params["b2"].reshape(-1), 1)
    dz2 = (probs - y) / X.shape[0]
    dhidden = dz2 @ params["W2"].T
    return {"W1": X.T @ dhidden, "b1": dhidden.sum(0), "W2": hidden.T @ dz2, "b2": dz2.sum(0)}


def _grads_hidden_times_activation(params, X, y):
    """The hidden gradient multiplied by ReLU's output instead of masked by the pre-activation's sign."""
    hidden = torch.relu(X @ params["W1"] + params["b1"].reshape(-1))
    probs = torch.softmax(hidden @ params["W2"] + params["b2"].reshape(-1), 1)
    dz2 = (probs - y) / X.shape[0]
    dz1 = (dz2 @ params["W2"].T) * hidden
    return {"W1": X.T @ dz1, "b1": dz1.sum(0), "W2": hidden.T @ dz2, "b2": dz2.sum(0)}


EXERCISE = Exercise(
    id="network",
    title="Two-layer neural network",
    units=(
        Model(
            class_name="NeuralNetwork",
            init_args={"input_size": "D", "hidden_size": "H", "output_size": "C"},
            params={"W1": Param(("D", "H")), "b1": Param(("H",), bias=True),
                    "W2": Param(("H", "C")), "b2": Param(("C",), bias=True)},
            reference=ref.probabilities,
            loss=ref.cross_entropy,
            methods={"forward": "forward", "loss": "cross_entropy_loss", "backward": "backward",
                     "update": "update_params", "train_step": "train_step", "predict": "predict"},
            checks={"forward": 2.0, "loss": 1.0, "backward": 3.0, "gradcheck": 1.0,
                    "update": 1.5, "train_step": 1.5, "predict": 1.0, "training": 2.0},
            # The large case (inputs ~1000x, logits in the thousands) is for the forward pass and predict:
            # a softmax without the max shift overflows there. The loss of such logits is not defined
            # without the course's log guard, so the other checks keep to ordinary inputs.
            cases=(Case({"N": 1, "D": 4, "H": 5, "C": 3}), Case({"N": 7, "D": 6, "H": 9, "C": 4}),
                   Case({"N": 12, "D": 10, "H": 8, "C": 5}),
                   Case({"N": 6, "D": 5, "H": 7, "C": 4}, large=True, kinds=("forward", "predict"))),
            learning_rate=0.1,
            # training (grader/checks/training.py): digits, full-batch then mini-batch, from the same weights.
            training={"dataset": "digits", "hidden": 64, "learning_rate": 0.5, "full_batch_steps": 100,
                      "batch_size": 32, "minibatch_steps": 90, "accuracy_margin": 0.01},
            optional_checks={"timing": {"timing": 0.0}},  # grade --timing: information, no points
            mistakes=(
                Mistake("network_grads_summed", "Your gradients are N times too large: the loss is a mean over "
                        "the batch, so dZ2 = (probs - y) / N.", _grads_summed, check="backward"),
                Mistake("network_no_relu_mask", "Your backward ignores ReLU's mask: the gradient flowing into the "
                        "hidden layer must be zeroed where the pre-activation was <= 0.", _grads_no_relu_mask,
                        check="backward"),
                Mistake("network_hidden_grad_times_activation", "Your backward multiplies the hidden gradient by "
                        "ReLU's output A1; ReLU's derivative is the mask of the pre-activation: dZ1 = dA1 * (Z1 > 0).",
                        _grads_hidden_times_activation, check="backward"),
                Mistake("network_update_ascent", "Your update adds the gradients: a descent step subtracts "
                        "learning_rate * gradient.",
                        lambda params, grads, lr: {k: params[k] + lr * grads[k] for k in params}, check="update"),
            ),
            doc=STUB,
        ),
    ),
    starter="network.py",
    description=__doc__,
)
