"""PyTorch reference of the course's two-layer network: Linear -> ReLU -> Linear -> softmax,
trained with softmax cross-entropy and torch.optim.SGD. The network as an nn.Module, `TwoLayerNet`,
is in network_module.py (a class needs torch to be defined; this file is read without it) and can be
imported from here too."""
from grader.lazy import optim, torch


def __getattr__(name):
    if name == "TwoLayerNet":
        from .network_module import TwoLayerNet
        return TwoLayerNet
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def probabilities(params, X):
    """Softmax probabilities (N, C) from float64 parameters W1 (D, H), b1 (H,), W2 (H, C), b2 (C,)."""
    hidden = torch.relu(X @ params["W1"] + params["b1"].reshape(-1))
    return torch.softmax(hidden @ params["W2"] + params["b2"].reshape(-1), dim=1)


def cross_entropy(probs, y_onehot):
    """The mean loss of given probabilities: -(y * log p).sum(1).mean(), as the course defines it."""
    return -(y_onehot * torch.log(probs)).sum(dim=1).mean()


def sgd(model, lr):
    return optim.SGD(model.parameters(), lr=lr, momentum=0.0, dampening=0.0, weight_decay=0.0)


def train_step(model, optimizer, X, labels):
    """One step on one batch; returns the loss before the update (a 0-d tensor, not synchronised)."""
    optimizer.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(X), labels)
    loss.backward()
    optimizer.step()
    return loss.detach()
