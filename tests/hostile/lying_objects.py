"""Return values that claim to be equal to anything."""
import numpy as np


class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    __ne__ = lambda self, other: np.zeros(np.shape(other), dtype=bool)  # noqa: E731

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.view(np.ndarray) + 1.0)  # "use these values instead"


class Magic:
    shape = property(lambda self: (4, 3))
    dtype = np.dtype("float64")

    def __eq__(self, other):
        return True

    def __array__(self, dtype=None, copy=None):
        return np.zeros((4, 3))

    def __float__(self):
        return 0.0

    def __len__(self):
        return 4


def relu_forward(x):
    return np.zeros_like(x).view(Liar)  # wrong values in an array subclass that lies about equality


def sigmoid_forward(x):
    return Magic()  # not an array at all
