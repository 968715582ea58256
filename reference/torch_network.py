"""PyTorch references of the bridge week's modules: the two-layer twin of the NumPy class and the
course's MNISTNet (784-128-64-10, ReLU). Both return logits; softmax is left to nn.CrossEntropyLoss."""
import torch

from .network import TwoLayerNet


def two_layer(D, H, C, **_dims):
    return TwoLayerNet(D, H, C)


class MNISTNet(torch.nn.Module):
    def __init__(self, dtype=torch.float64):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, 128, dtype=dtype)
        self.fc2 = torch.nn.Linear(128, 64, dtype=dtype)
        self.fc3 = torch.nn.Linear(64, 10, dtype=dtype)

    def forward(self, x):
        x = x.reshape(-1, 784)
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


def mnist_net(**_dims):
    return MNISTNet()


def softmax_logits(logits):
    """Probabilities where logits belong: what nn.CrossEntropyLoss then softmaxes a second time."""
    return torch.softmax(logits, dim=1)


def cross_entropy_of_softmax(logits, labels):
    """nn.CrossEntropyLoss applied to probabilities: softmax applied twice."""
    return torch.nn.functional.cross_entropy(torch.softmax(logits, dim=1), labels)
