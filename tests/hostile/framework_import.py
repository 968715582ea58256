"""A NumPy exercise done with PyTorch, imported the plain way."""
import numpy as np
import torch


def relu_forward(x):
    return torch.relu(torch.from_numpy(np.asarray(x))).numpy()
