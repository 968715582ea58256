"""PyTorch reference of the regularized MLP of the optimizers week (the course builds it in Keras for
CIFAR-10): Linear -> activation -> BatchNorm1d -> Dropout after the first hidden layer, then Linear ->
activation for every further hidden layer, and a Linear output of logits."""
import torch

ACTIVATIONS = {"relu": torch.nn.ReLU, "gelu": torch.nn.GELU, "tanh": torch.nn.Tanh}


def mlp(D, C, hidden, p, acts, **_dims):
    nn = torch.nn
    layers = [nn.Linear(D, hidden[0]), ACTIVATIONS[acts[0]](), nn.BatchNorm1d(hidden[0]), nn.Dropout(p)]
    for fan_in, fan_out, act in zip(hidden[:-1], hidden[1:], acts[1:]):
        layers += [nn.Linear(fan_in, fan_out), ACTIVATIONS[act]()]
    layers.append(nn.Linear(hidden[-1], C))
    return nn.Sequential(*layers)
