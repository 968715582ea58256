"""The course's two-layer network as an nn.Module, for the training check and the timing workload."""
import torch


class TwoLayerNet(torch.nn.Module):
    """The same network as an nn.Module: nn.Linear -> ReLU -> nn.Linear, returning logits.

    Trained with softmax cross-entropy on the logits (F.cross_entropy) and torch.optim.SGD, which is
    the course's mean -(y * log softmax).sum(1) loss and plain W <- W - lr * dW step. Weights move in
    and out in the course's layout (W1 is (D, H); nn.Linear stores its transpose).
    """

    def __init__(self, input_size, hidden_size, output_size, dtype=torch.float64, device="cpu"):
        super().__init__()
        self.fc1 = torch.nn.Linear(input_size, hidden_size, dtype=dtype, device=device)
        self.fc2 = torch.nn.Linear(hidden_size, output_size, dtype=dtype, device=device)

    def forward(self, X):
        return self.fc2(torch.relu(self.fc1(X)))

    @torch.no_grad()
    def load_params(self, params):
        """Copy W1 (D, H), b1, W2 (H, C), b2 (NumPy arrays or tensors; biases (n,) or (1, n)) in."""
        for layer, w, b in ((self.fc1, "W1", "b1"), (self.fc2, "W2", "b2")):
            layer.weight.copy_(torch.as_tensor(params[w]).T)
            layer.bias.copy_(torch.as_tensor(params[b]).reshape(-1))
        return self

    @torch.no_grad()
    def params(self):
        """W1, b1, W2, b2 as float64 NumPy arrays in the course's layout."""
        tensors = {"W1": self.fc1.weight.T, "b1": self.fc1.bias, "W2": self.fc2.weight.T, "b2": self.fc2.bias}
        return {k: v.detach().to("cpu", torch.float64).numpy().copy() for k, v in tensors.items()}
