"""PyTorch references of the training week's loops: one epoch of mini-batch training and an evaluation,
as the course writes them (zero_grad, forward, nn.CrossEntropyLoss on logits, backward, step), and the
catalogued wrong loops whose parameters name a student's mistake."""
import torch

from grader import optim

# torch.optim's classes without the compiler import (grader/optim.py): the grader's reference loop.
OPTIMIZERS = {"sgd": optim.SGD, "adam": optim.Adam, "rmsprop": optim.RMSprop}


def batches(X, y, batch_size):
    X, y = torch.as_tensor(X), torch.as_tensor(y)
    return [(X[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(X), batch_size)]


def train_epoch(model, data, optimizer, criterion):
    """The loop itself; returns the mean of the batches' losses (each before its step)."""
    model.train()
    losses = []
    for X, y in data:
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    return sum(losses) / len(losses)


def no_zero_grad(model, data, optimizer, criterion):
    """Gradients accumulate over the batches."""
    model.train()
    for X, y in data:
        criterion(model(X), y).backward()
        optimizer.step()


def step_before_backward(model, data, optimizer, criterion):
    """optimizer.step() before loss.backward(): every step uses the previous batch's gradients (none at first)."""
    model.train()
    for X, y in data:
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        optimizer.step()
        loss.backward()


def softmax_before_loss(model, data, optimizer, criterion):
    """nn.CrossEntropyLoss of softmax probabilities: softmax applied twice."""
    model.train()
    for X, y in data:
        optimizer.zero_grad()
        criterion(torch.softmax(model(X), dim=1), y).backward()
        optimizer.step()


@torch.no_grad()
def accuracy(model, X, y):
    model.eval()
    return float((model(torch.as_tensor(X)).argmax(dim=1) == torch.as_tensor(y)).double().mean())
