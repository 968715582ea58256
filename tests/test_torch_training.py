"""`torch_training`: the student's train_epoch and evaluate, called by the grader with its own model,
loader, optimizer and loss in the child; compared with the reference loop from the same weights."""
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
import torch.nn.functional as F


def train_epoch(model, loader, optimizer, criterion, device):  # the course's loop
    total_loss = 0
    for batch_idx, (data, target) in enumerate(loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = criterion(output, target)
        loss.backward()
        optimizer.step()
        total_loss += loss.item()
    return total_loss / len(loader)


def train_weighted(model, loader, optimizer, criterion, device):  # mean over samples, model.zero_grad, to(model)
    model.to(device)
    model.train()
    total, seen = 0.0, 0
    for x, t in loader:
        x, t = x.to(device), t.to(device)
        model.zero_grad(set_to_none=False)
        loss = criterion(model(x), t)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(x)
        seen += len(x)
    return total / seen


def train_no_zero_grad(model, loader, optimizer, criterion, device):
    total = 0.0
    for x, t in loader:
        x, t = x.to(device), t.to(device)
        loss = criterion(model(x), t)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader)


def train_step_first(model, loader, optimizer, criterion, device):
    total = 0.0
    for x, t in loader:
        x, t = x.to(device), t.to(device)
        optimizer.zero_grad()
        loss = criterion(model(x), t)
        optimizer.step()
        loss.backward()
        total += loss.item()
    return total / len(loader)


def train_softmax(model, loader, optimizer, criterion, device):
    total = 0.0
    for x, t in loader:
        x, t = x.to(device), t.to(device)
        optimizer.zero_grad()
        loss = criterion(F.softmax(model(x), dim=1), t)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader)


def train_tensor_total(model, loader, optimizer, criterion, device):
    total = 0
    for x, t in loader:
        x, t = x.to(device), t.to(device)
        optimizer.zero_grad()
        loss = criterion(model(x), t)
        loss.backward()
        optimizer.step()
        total += loss
    return total / len(loader)


def train_cuda(model, loader, optimizer, criterion, device):
    total = 0.0
    for x, t in loader:
        x, t = x.to("cuda"), t.to("cuda")
        optimizer.zero_grad()
        loss = criterion(model(x), t)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader)


def train_never_moves(model, loader, optimizer, criterion, device):
    total = 0.0
    for x, t in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), t)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader)


def evaluate(model, loader, device):  # the course's
    model.eval()
    correct = 0
    with torch.no_grad():
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            pred = model(data).argmax(dim=1)
            correct += (pred == target).sum().item()
    return correct / len(loader.dataset)


def evaluate_percent(model, loader, device):  # percentage, inference_mode
    model.eval()
    correct = total = 0
    with torch.inference_mode():
        for x, t in loader:
            out = model(x.to(device))
            correct += int((out.argmax(1) == t.to(device)).sum())
            total += t.numel()
    return 100.0 * correct / total


def evaluate_no_eval(model, loader, device):
    correct = 0
    with torch.no_grad():
        for x, t in loader:
            x, t = x.to(device), t.to(device)
            correct += (model(x).argmax(dim=1) == t).sum().item()
    return correct / len(loader.dataset)


def evaluate_no_grad_missing(model, loader, device):
    model.eval()
    correct = 0
    for x, t in loader:
        x, t = x.to(device), t.to(device)
        correct += (model(x).argmax(dim=1) == t).sum().item()
    return correct / len(loader.dataset)
'''

NAMES = ["train_epoch", "train_weighted", "train_no_zero_grad", "train_step_first", "train_softmax",
         "train_tensor_total", "train_cuda", "train_never_moves", "evaluate", "evaluate_percent",
         "evaluate_no_eval", "evaluate_no_grad_missing"]


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    yield from bridge_harness(tmp_path_factory, "torch_training", "loops", VARIANTS, NAMES)


def train(harness, name, kinds=None):
    return harness.grade({"train_epoch": name}, units=["train_epoch"], kinds=kinds)


def evaluate(harness, name, kinds=None):
    return harness.grade({"evaluate": name}, units=["evaluate"], kinds=kinds)


@pytest.mark.parametrize("name", ["train_epoch", "train_weighted"])
def test_correct_training_loops_get_full_marks(harness, name):
    checks = train(harness, name)
    assert all(c.status == PASSED for c in checks.values()), {k: c.message for k, c in checks.items()}


@pytest.mark.parametrize("name", ["evaluate", "evaluate_percent"])
def test_correct_evaluations_get_full_marks(harness, name):
    checks = evaluate(harness, name)
    assert all(c.status == PASSED for c in checks.values()), {k: c.message for k, c in checks.items()}


@pytest.mark.parametrize("name, code", [("train_no_zero_grad", "mistake:torch_no_zero_grad"),
                                        ("train_step_first", "mistake:torch_step_before_backward"),
                                        ("train_softmax", "mistake:torch_softmax_before_loss"),
                                        ("train_tensor_total", "mistake:torch_loss_tensor_accumulated")])
def test_training_mistakes_are_named(harness, name, code):
    check = train(harness, name, kinds=["torch_train_epoch"])["torch_train_epoch"]
    assert check.score == 0 and check.hint is not None and check.hint.code == code, (check.message, check.hint)


@pytest.mark.parametrize("name, code", [("evaluate_no_eval", "mistake:torch_eval_mode_missing"),
                                        ("evaluate_no_grad_missing", "mistake:torch_no_grad_missing")])
def test_evaluation_mistakes_are_named(harness, name, code):
    check = evaluate(harness, name, kinds=["torch_evaluate"])["torch_evaluate"]
    assert check.score == 0 and check.hint.code == code, (check.message, check.hint)


def test_hard_coded_cuda_and_unmoved_batches_fail_with_a_device_message(harness):
    cuda = train(harness, "train_cuda")
    # Without a GPU the CPU run fails, and says why first.
    for kind in ("torch_train_epoch", "torch_loop_device"):
        assert "moved tensors to 'cuda' although it was given device='cpu'" in cuda[kind].message
    assert cuda["torch_loop_device"].hint.code == "mistake:hard_coded_device"
    unmoved = train(harness, "train_never_moves")
    assert unmoved["torch_train_epoch"].status == PASSED  # on the CPU nothing shows
    assert unmoved["torch_loop_device"].score == 0
    assert "Some tensors stay where they were created" in unmoved["torch_loop_device"].message


def test_model_solution_gets_full_marks(grade_it):
    result = grade_it(SOLUTION, exercises=["torch_training"], spec=load_assignment(BRIDGE))
    assert all(c.score == c.max_score for c in result.exercises[0].checks), [
        (c.name, c.message) for c in result.exercises[0].checks]
