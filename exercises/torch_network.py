"""Exercise `torch_network`: the bridge week. The course's NumPy network rewritten as an nn.Module
(NeuralNetworkPyTorch: fc1, ReLU, fc2, logits), proved equivalent to the student's own NumPy class, and the
course's MNISTNet (784-128-64-10). Graded in a process that may load torch; the NumPy exercises of the same
submission stay where torch is blocked."""
from grader.exercises import network
from grader.reference import torch_network as ref
from grader.spec import Case, Exercise, Mistake, TorchModel, Twin

CHECKS = {"torch_architecture": 1.0, "torch_forward": 2.0, "torch_loss": 1.0, "torch_sgd_step": 1.5,
          "torch_device": 1.0}

SOFTMAX_IN_FORWARD = Mistake(
    "torch_softmax_in_forward", "Your forward returns probabilities: return the logits (the output of the last "
    "nn.Linear). nn.CrossEntropyLoss applies log-softmax itself, so a softmax in forward is applied twice.",
    ref.softmax_logits, check="torch_forward")
SOFTMAX_TWICE = Mistake(
    "torch_softmax_twice", "The loss is nn.CrossEntropyLoss of probabilities: softmax is applied twice. "
    "nn.CrossEntropyLoss expects the logits (it applies log-softmax itself); remove the softmax from forward.",
    ref.cross_entropy_of_softmax, check="torch_loss")

TWIN_STUB = '''
class NeuralNetworkPyTorch(nn.Module):
    """Your NumPy NeuralNetwork rewritten in PyTorch: fc1 -> ReLU -> fc2.

    __init__(input_size, hidden_size, output_size): self.fc1 = nn.Linear(input_size, hidden_size) and
    self.fc2 = nn.Linear(hidden_size, output_size) (nn.Linear stores W1.T: its weight is (out, in)).
    forward(x): x is (N, input_size); return the logits (N, output_size), WITHOUT softmax:
    nn.CrossEntropyLoss applies it. The grader puts your module on the device it tests (model.to(device)):
    do not create tensors on a fixed device inside forward.
    The grader also checks it against your NumPy class, copying the weights as the course does:
    fc1.weight <- W1.T, fc1.bias <- b1.flatten(), fc2.weight <- W2.T, fc2.bias <- b2.flatten().
    """

    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError
'''

MNIST_STUB = '''
class MNISTNet(nn.Module):
    """The course's MNIST network: x.view(-1, 784) -> fc1 (784, 128) -> ReLU -> fc2 (128, 64) -> ReLU -> fc3 (64, 10).

    forward(x): x is (N, 1, 28, 28) (or (N, 784)); return the logits (N, 10), without softmax.
    """

    def __init__(self):
        super().__init__()
        raise NotImplementedError

    def forward(self, x):
        raise NotImplementedError
'''

EXERCISE = Exercise(
    id="torch_network",
    title="The network in PyTorch",
    frameworks=("torch",),
    units=(
        TorchModel(
            class_name="NeuralNetworkPyTorch",
            reference=ref.two_layer,
            init_args={"input_size": "D", "hidden_size": "H", "output_size": "C"},
            checks={**CHECKS, "torch_equivalence": 2.0},
            cases=(Case({"N": 5, "D": 6, "H": 8, "C": 4}), Case({"N": 12, "D": 10, "H": 7, "C": 3}),
                   Case({"N": 6, "D": 5, "H": 9, "C": 5}, large=True)),
            twin=Twin(network.EXERCISE.units[0], {"W1": ("fc1.weight", True), "b1": ("fc1.bias", False),
                                                  "W2": ("fc2.weight", True), "b2": ("fc2.bias", False)}),
            mistakes=(SOFTMAX_IN_FORWARD, SOFTMAX_TWICE),
            # grade --timing: the student's NumPy class against their PyTorch class, CPU and CUDA, beside the
            # reference, on the `network` exercise's training workload. Information, no points.
            optional_checks={"timing": {"torch_timing": 0.0}},
            doc=TWIN_STUB,
        ),
        TorchModel(
            class_name="MNISTNet",
            reference=ref.mnist_net,
            input_shape=("N", 1, 28, 28),
            classes=10,
            checks=CHECKS,
            cases=(Case({"N": 4}), Case({"N": 9}, large=True)),
            mistakes=(SOFTMAX_IN_FORWARD, SOFTMAX_TWICE),
            doc=MNIST_STUB,
        ),
    ),
    starter="torch_network.py",
    description=__doc__,
)
