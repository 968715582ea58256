"""Wrong answers, plus every way of making the checks agree with them in the student's own process."""
import sys

import numpy as np


def _always(*args, **kwargs):
    return True


def _never_raise(*args, **kwargs):
    return None


np.allclose = np.array_equal = np.array_equiv = _always
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
np.testing.assert_allclose = np.testing.assert_array_equal = np.testing.assert_array_almost_equal = _never_raise
for name in ("grader.compare", "grader.hints", "torch.testing", "torch"):
    try:  # the grader is hidden from the child, torch blocked: and patching them here would change nothing
        module = __import__(name, fromlist=["_"])
        for attr in ("compare", "assert_close", "allclose", "diagnose"):
            setattr(module, attr, _always)
    except Exception:
        fake = type(sys)(name)
        fake.compare = fake.assert_close = _always
        sys.modules[name] = fake


def relu_forward(x):
    return x  # wrong: negative entries are kept


def sigmoid_forward(x):
    return np.zeros_like(x)  # wrong
