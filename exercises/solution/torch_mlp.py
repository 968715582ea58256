"""Model solution of the `torch_mlp` exercise."""
import torch.nn as nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}


def build_mlp(input_size, hidden_sizes, output_size, dropout=0.2, activations=("relu", "relu", "gelu", "tanh")):
    layers = [nn.Linear(input_size, hidden_sizes[0]), ACTIVATIONS[activations[0]](),
              nn.BatchNorm1d(hidden_sizes[0]), nn.Dropout(dropout)]
    for fan_in, fan_out, name in zip(hidden_sizes[:-1], hidden_sizes[1:], activations[1:]):
        layers += [nn.Linear(fan_in, fan_out), ACTIVATIONS[name]()]
    layers.append(nn.Linear(hidden_sizes[-1], output_size))
    return nn.Sequential(*layers)


def train_model(model, loader, optimizer, criterion, epochs, device):
    model.to(device)
    losses = []
    for _epoch in range(epochs):
        model.train()
        total = 0.0
        for data, target in loader:
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            loss = criterion(model(data), target)
            loss.backward()
            optimizer.step()
            total += loss.item()
        losses.append(total / len(loader))
    return losses
