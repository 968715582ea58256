"""`torch_network`: the student's nn.Module twin of their NumPy class, and the course's MNISTNet.

Correct modules in several styles get full marks; each catalogued mistake fails the check that shows it,
with the mistake named; the course's own code, exactly as handed out, gets full marks; a module that
imports torch for its PyTorch class still has its NumPy class graded, on whether that class uses torch.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from helpers import SOLUTION, check
from torch_harness import bridge_harness

from grader.assignment import builtin_dir, load_assignment
from grader.results import PASSED

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

COURSE = Path(__file__).parent / "fixtures" / "course_bridge"
BRIDGE = builtin_dir() / "bridge.toml"

VARIANTS = '''
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class NeuralNetworkPyTorch(nn.Module):  # the course's
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class Sequential(nn.Module):  # other names, held in an nn.Sequential: matched by order
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(input_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, output_size))

    def forward(self, x):
        return self.net(x)


class ModuleReLU(nn.Module):  # nn.ReLU as a module, torch.relu, float64 inputs cast
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        h = self.act(self.fc1(x))
        return self.fc2(torch.relu(h))


class ZerosLikeBias(nn.Module):  # creates a tensor in forward, on the input's device: correct
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        floor = torch.zeros(1, device=x.device, dtype=x.dtype)
        return self.fc2(torch.maximum(self.fc1(x), floor))


class SoftmaxForward(nn.Module):  # mistake: probabilities instead of logits
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return F.softmax(self.fc2(F.relu(self.fc1(x))), dim=1)


class NoReLU(nn.Module):  # mistake: no activation
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.fc2(self.fc1(x))


class Transposed(nn.Module):  # mistake: layer sizes swapped
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.fc1 = nn.Linear(hidden_size, input_size)
        self.fc2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x.T).T))


class CpuTensor(nn.Module):  # mistake: a tensor created on the CPU whatever the device
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        floor = torch.zeros(1, dtype=x.dtype)
        return self.fc2(torch.maximum(self.fc1(x), floor))


class ToCpu(nn.Module):  # mistake: moves the input to a fixed device
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        x = x.to("cpu")
        return self.fc2(F.relu(self.fc1(x)))


class NotAModule:  # mistake: not an nn.Module
    def __init__(self, input_size, hidden_size, output_size):
        pass


class MNISTNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, x):
        x = x.view(-1, 784)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class FlattenMNIST(nn.Module):  # nn.Flatten and a Sequential: correct
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                                    nn.Linear(64, 10))

    def forward(self, x):
        return self.layers(x)


class MNISTSoftmax(MNISTNet):  # mistake: softmax at the end
    def forward(self, x):
        return torch.softmax(super().forward(x), dim=1)


class NeuralNetwork:  # the NumPy twin, correct
    def __init__(self, input_size, hidden_size, output_size):
        self.W1 = np.zeros((input_size, hidden_size))
        self.b1 = np.zeros((1, hidden_size))
        self.W2 = np.zeros((hidden_size, output_size))
        self.b2 = np.zeros((1, output_size))

    def forward(self, X):
        Z = np.maximum(0, X @ self.W1 + self.b1) @ self.W2 + self.b2
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)

    def train_step(self, X, Y, learning_rate):  # what --timing times
        H = np.maximum(0, X @ self.W1 + self.b1)
        P = self.forward(X)
        dZ = (P - Y) / len(X)
        dH = (dZ @ self.W2.T) * (H > 0)
        self.W2 -= learning_rate * H.T @ dZ
        self.b2 -= learning_rate * dZ.sum(0)
        self.W1 -= learning_rate * X.T @ dH
        self.b1 -= learning_rate * dH.sum(0)
        return float(-(Y * np.log(P)).sum(1).mean())


class TwinNoReLU(NeuralNetwork):  # a NumPy twin that disagrees with the PyTorch class
    def forward(self, X):
        Z = (X @ self.W1 + self.b1) @ self.W2 + self.b2
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        return E / E.sum(axis=1, keepdims=True)


class TwinUsesTorch(NeuralNetwork):  # a NumPy twin that uses torch: the NumPy process refuses it
    def forward(self, X):
        return torch.softmax(torch.from_numpy(X @ self.W1), 1).numpy()
'''

NAMES = ["NeuralNetworkPyTorch", "Sequential", "ModuleReLU", "ZerosLikeBias", "SoftmaxForward", "NoReLU",
         "Transposed", "CpuTensor", "ToCpu", "NotAModule", "MNISTNet", "FlattenMNIST", "MNISTSoftmax",
         "NeuralNetwork", "TwinNoReLU", "TwinUsesTorch"]


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    yield from bridge_harness(tmp_path_factory, "torch_network", "variants", VARIANTS, NAMES)


def twin(name, numpy="NeuralNetwork"):
    return {"NeuralNetworkPyTorch": name, "NeuralNetwork": numpy}


def scores(checks):
    return {kind: (c.score, c.max_score) for kind, c in checks.items()}


@pytest.mark.parametrize("name", ["NeuralNetworkPyTorch", "Sequential", "ModuleReLU", "ZerosLikeBias"])
def test_correct_twins_get_full_marks(harness, name):
    checks = harness.grade(twin(name), units=["NeuralNetworkPyTorch"])
    assert all(c.status == PASSED and c.score == c.max_score for c in checks.values()), {
        k: c.message for k, c in checks.items() if c.status != PASSED}
    assert "CUDA: skipped" in checks["torch_device"].cases[0].message  # no GPU here: said, not failed


@pytest.mark.parametrize("name", ["MNISTNet", "FlattenMNIST"])
def test_correct_mnist_nets_get_full_marks(harness, name):
    checks = harness.grade({"MNISTNet": name}, units=["MNISTNet"])
    assert all(c.score == c.max_score for c in checks.values()), {k: c.message for k, c in checks.items()}


def test_softmax_in_forward_is_named_in_forward_and_loss(harness):
    checks = harness.grade(twin("SoftmaxForward"), units=["NeuralNetworkPyTorch"])
    assert checks["torch_forward"].score == 0 and checks["torch_loss"].score == 0
    assert checks["torch_forward"].hint.code == "mistake:torch_softmax_in_forward"
    assert checks["torch_loss"].hint.code == "mistake:torch_softmax_twice"
    assert checks["torch_architecture"].score == checks["torch_architecture"].max_score
    mnist = harness.grade({"MNISTNet": "MNISTSoftmax"}, units=["MNISTNet"], kinds=["torch_forward"])
    assert mnist["torch_forward"].hint.code == "mistake:torch_softmax_in_forward"


def test_missing_activation_fails_forward_and_step_but_not_architecture(harness):
    checks = harness.grade(twin("NoReLU"), units=["NeuralNetworkPyTorch"])
    assert checks["torch_architecture"].status == PASSED
    for kind in ("torch_forward", "torch_loss", "torch_sgd_step", "torch_equivalence"):
        assert checks[kind].score == 0, kind


def test_wrong_layer_shapes_and_a_plain_class_fail_with_what_was_expected(harness):
    checks = harness.grade(twin("Transposed"), units=["NeuralNetworkPyTorch"], kinds=["torch_architecture"])
    message = checks["torch_architecture"].message
    assert checks["torch_architecture"].score == 0 and "expected fc1.weight [8, 6]" in message, message
    checks = harness.grade(twin("NotAModule"), units=["NeuralNetworkPyTorch"], kinds=["torch_architecture"])
    assert "must be a subclass of nn.Module" in checks["torch_architecture"].message


@pytest.mark.parametrize("name, says", [("CpuTensor", "Some tensors stay where they were created"),
                                        ("ToCpu", "moves tensors to 'cpu' although it was given device='meta'")])
def test_hard_coded_devices_fail_the_device_check_only(harness, name, says):
    checks = harness.grade(twin(name), units=["NeuralNetworkPyTorch"])
    device = checks["torch_device"]
    assert device.score == 0 and says in device.message, device.message
    assert device.hint.code == "mistake:hard_coded_device"
    assert all(c.score == c.max_score for k, c in checks.items() if k != "torch_device")


def test_equivalence_compares_the_students_own_two_classes(harness):
    checks = harness.grade(twin("NeuralNetworkPyTorch", "TwinNoReLU"), units=["NeuralNetworkPyTorch"],
                           kinds=["torch_forward", "torch_equivalence"])
    assert checks["torch_forward"].status == PASSED
    assert checks["torch_equivalence"].score == 0
    assert "differs from your NumPy class's forward" in checks["torch_equivalence"].message
    missing = harness.grade(twin("NeuralNetworkPyTorch", "NoSuchClass"), units=["NeuralNetworkPyTorch"],
                            kinds=["torch_equivalence"])
    assert "NoSuchClass is not defined" in missing["torch_equivalence"].message


def test_a_numpy_twin_that_uses_torch_is_refused_in_the_numpy_process(harness):
    checks = harness.grade(twin("NeuralNetworkPyTorch", "TwinUsesTorch"), units=["NeuralNetworkPyTorch"],
                           kinds=["torch_equivalence"])
    assert checks["torch_equivalence"].score == 0
    assert "graded in a process without torch" in checks["torch_equivalence"].message


def test_timing_puts_the_students_numpy_and_pytorch_classes_beside_the_reference(harness):
    """grade --timing: the student's own NumPy class against their own PyTorch class (CPU; CUDA when the
    student's process sees one, else skipped), beside PyTorch's reference, in the timing table."""
    from grader.report import training_figures
    fast = {"timing": {"runs": 2, "steps": 2, "warmup": 1, "sweep": False}}
    plain = harness.grade(twin("NeuralNetworkPyTorch"), units=["NeuralNetworkPyTorch"], kinds=["torch_forward"])
    assert "torch_timing" not in plain  # opt-in: only with `timing` (grade --timing)
    timing = harness.grade(twin("NeuralNetworkPyTorch"), units=["NeuralNetworkPyTorch"], options=fast,
                           kinds=["torch_timing"])["torch_timing"]
    rows = {b["backend"]: b for b in timing.extra["timing"]["backends"]}
    assert rows["NumPy (yours)"]["status"] == "ok" and rows["PyTorch (yours) CPU"]["status"] == "ok", [
        (b["backend"], b["note"]) for b in rows.values()]
    assert rows["PyTorch CPU"]["status"] == "ok"
    assert rows["PyTorch (yours) CUDA"]["status"] in ("ok", "skipped")
    assert any(title.startswith("Time per train step") for title, _h, _r in training_figures.tables(timing))


# ------------------------------------------------------------------------- the course's code, end to end

def test_model_solution_and_the_course_code_get_full_marks(grade_it):
    bridge = load_assignment(BRIDGE)
    for path in (SOLUTION, COURSE / "puente.py", COURSE / "puente.ipynb"):
        result = grade_it(path, exercises=["torch_network"], spec=bridge)
        torch_checks = result.exercises[0].checks
        assert all(c.score == c.max_score for c in torch_checks), (path, [(c.name, c.message)
                                                                         for c in torch_checks if c.score < c.max_score])
        assert result.errors == []


def test_the_course_module_that_imports_torch_has_its_numpy_class_graded(grade_it):
    """puente.py starts with `import torch` and holds both classes: the NumPy class is graded on its own
    code, which does not use torch (no policy note, its forward and backward pass)."""
    bridge = load_assignment(BRIDGE)
    result = grade_it(COURSE / "puente.py", exercises=["network"], spec=bridge)
    network = result.exercises[0]
    assert not any("torch" in n for n in network.notes), network.notes
    for name in ("NeuralNetworkNumPy.forward.forward", "NeuralNetworkNumPy.backward.backward"):
        assert check(result, "network", name).status == PASSED
