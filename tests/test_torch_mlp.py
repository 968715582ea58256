"""`torch_mlp`: the student's builder of the regularized MLP (BatchNorm, Dropout, ReLU/GELU/tanh)."""
from __future__ import annotations

import pytest
from helpers import SOLUTION
from torch_harness import bridge_harness

from grader.assignment import builtin_dir, load_assignment
from grader.results import PASSED

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

BRIDGE = builtin_dir() / "bridge.toml"

VARIANTS = '''
import torch
import torch.nn as nn
import torch.nn.functional as F

ACTS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def build_mlp(input_size, hidden_sizes, output_size, dropout=0.2, activations=("relu", "relu", "gelu", "tanh")):
    layers = [nn.Linear(input_size, hidden_sizes[0]), ACTS[activations[0]](), nn.BatchNorm1d(hidden_sizes[0]),
              nn.Dropout(dropout)]
    for a, b, name in zip(hidden_sizes[:-1], hidden_sizes[1:], activations[1:]):
        layers += [nn.Linear(a, b), ACTS[name]()]
    return nn.Sequential(*layers, nn.Linear(hidden_sizes[-1], output_size))


class Net(nn.Module):  # a module of its own, functional activations
    def __init__(self, sizes, output_size, p, activations):
        super().__init__()
        self.first = nn.Linear(sizes[0], sizes[1])
        self.bn = nn.BatchNorm1d(sizes[1])
        self.drop = nn.Dropout(p)
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[1:-1], sizes[2:]))
        self.out = nn.Linear(sizes[-1], output_size)
        self.acts = [{"relu": F.relu, "gelu": F.gelu, "tanh": torch.tanh}[a] for a in activations]

    def forward(self, x):
        x = self.drop(self.bn(self.acts[0](self.first(x))))
        for layer, act in zip(self.hidden, self.acts[1:]):
            x = act(layer(x))
        return self.out(x)


def build_module(input_size, hidden_sizes, output_size, dropout=0.2, activations=("relu",)):
    return Net([input_size, *hidden_sizes], output_size, dropout, activations)


def build_fixed_rate(input_size, hidden_sizes, output_size, dropout=0.2, activations=("relu",)):
    return build_mlp(input_size, hidden_sizes, output_size, 0.2, activations)


class LooseDropout(nn.Module):  # F.dropout without training=self.training: on in eval mode too
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        return F.dropout(x, self.p)


class UnscaledDropout(nn.Module):  # drops, but does not scale what it keeps
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if not self.training:
            return x
        return x * (torch.rand_like(x) >= self.p)


def _with_dropout(kind, input_size, hidden_sizes, output_size, dropout, activations):
    model = build_mlp(input_size, hidden_sizes, output_size, dropout, activations)
    model[3] = kind(dropout)
    return model


def build_loose(input_size, hidden_sizes, output_size, dropout=0.2, activations=("relu",)):
    return _with_dropout(LooseDropout, input_size, hidden_sizes, output_size, dropout, activations)


def build_unscaled(input_size, hidden_sizes, output_size, dropout=0.2, activations=("relu",)):
    return _with_dropout(UnscaledDropout, input_size, hidden_sizes, output_size, dropout, activations)


def build_bn_momentum(input_size, hidden_sizes, output_size, dropout=0.2, activations=("relu",)):
    model = build_mlp(input_size, hidden_sizes, output_size, dropout, activations)
    model[2].momentum = 0.5
    return model


def build_bn_first(input_size, hidden_sizes, output_size, dropout=0.2, activations=("relu",)):
    model = build_mlp(input_size, hidden_sizes, output_size, dropout, activations)
    model[1], model[2] = model[2], model[1]
    return model


def train_model(model, loader, optimizer, criterion, epochs, device):
    losses = []
    for _ in range(epochs):
        model.train()
        total = 0.0
        for x, t in loader:
            x, t = x.to(device), t.to(device)
            optimizer.zero_grad()
            loss = criterion(model(x), t)
            loss.backward()
            optimizer.step()
            total += loss.item()
        losses.append(total / len(loader))
    return losses


def train_never_steps(model, loader, optimizer, criterion, epochs, device):
    losses = []
    for _ in range(epochs):
        total = 0.0
        for x, t in loader:
            optimizer.zero_grad()
            loss = criterion(model(x.to(device)), t.to(device))
            loss.backward()
            total += loss.item()
        losses.append(total / len(loader))
    return losses


def build_all_relu(input_size, hidden_sizes, output_size, dropout=0.2, activations=("relu",)):
    return build_mlp(input_size, hidden_sizes, output_size, dropout, ["relu"] * len(hidden_sizes))
'''

NAMES = ["train_model", "train_never_steps", "build_mlp", "build_module", "build_fixed_rate", "build_loose", "build_unscaled", "build_bn_momentum",
         "build_bn_first", "build_all_relu"]


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    yield from bridge_harness(tmp_path_factory, "torch_mlp", "mlps", VARIANTS, NAMES)


def grade(harness, name, kinds=None):
    return harness.grade({"build_mlp": name}, kinds=kinds, units=["build_mlp"])


@pytest.mark.parametrize("name", ["build_mlp", "build_module"])
def test_correct_builders_get_full_marks(harness, name):
    checks = grade(harness, name)
    assert all(c.status == PASSED for c in checks.values()), {k: c.message for k, c in checks.items()}


@pytest.mark.parametrize("name, kind, code", [
    ("build_fixed_rate", "torch_dropout", "mistake:torch_dropout_rate"),
    ("build_loose", "torch_dropout", "mistake:torch_dropout_in_eval"),
    ("build_unscaled", "torch_dropout", "mistake:torch_dropout_not_scaled"),
])
def test_dropout_mistakes_are_named(harness, name, kind, code):
    check = grade(harness, name, kinds=[kind])[kind]
    assert check.score < check.max_score and check.hint is not None and check.hint.code == code, (
        check.message, check.hint)


def test_a_loose_dropout_also_fails_forward_in_eval_mode(harness):
    assert grade(harness, "build_loose", kinds=["torch_forward"])["torch_forward"].score == 0


def test_batchnorm_statistics_and_layer_order_are_checked(harness):
    momentum = grade(harness, "build_bn_momentum", kinds=["torch_batchnorm", "torch_forward"])
    assert momentum["torch_forward"].status == PASSED and momentum["torch_batchnorm"].score == 0
    first = grade(harness, "build_bn_first", kinds=["torch_forward"])
    assert first["torch_forward"].score == 0


def test_activations_are_the_requested_ones(harness):
    checks = grade(harness, "build_all_relu", kinds=["torch_architecture", "torch_forward"])
    assert checks["torch_architecture"].status == PASSED and checks["torch_forward"].score < 2.0


def test_model_solution_gets_full_marks(grade_it):
    result = grade_it(SOLUTION, exercises=["torch_mlp"], spec=load_assignment(BRIDGE))
    assert all(c.score == c.max_score for c in result.exercises[0].checks), [
        (c.name, c.message) for c in result.exercises[0].checks]


def test_optimizers_compared_beside_the_reference(harness):
    """train_model with the student's own MLP under SGD, Adam and RMSprop: curves, accuracy, macro F1 and
    confusion matrices in the report beside the reference's; a loop that never steps stays at chance."""
    from grader.report import training_figures
    checks = harness.grade({"train_model": "train_model", "build_mlp": "build_module"}, units=["train_model"])
    compared = checks["torch_optimizers"]
    assert compared.status == PASSED, compared.message
    assert [c["run"] for c in compared.extra["metrics"]["runs"]] == ["sgd lr=0.04", "adam lr=0.001",
                                                                    "rmsprop lr=0.001"]
    titles = [title for title, _header, _rows in training_figures.tables(compared)]
    assert any(t.startswith("Optimizers compared on digits") for t in titles)
    assert sum(t.startswith("Confusion matrix of your") for t in titles) == 3
    pictures = training_figures.figures(compared)  # the loss curves, as report.html draws them
    assert len(pictures) == 1 and all(len(p) == 2 and p[1].startswith("data:image/png") for p in pictures)
    stuck = harness.grade({"train_model": "train_never_steps", "build_mlp": "build_mlp"}, units=["train_model"])
    assert stuck["torch_optimizers"].score == 0 and "the reference reaches" in stuck["torch_optimizers"].message
