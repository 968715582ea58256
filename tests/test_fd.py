"""Directional finite differences (grader/checks/fd.py) evaluate a check's points together, in one request
to the student's process; the verdicts, the messages and the random directions are those of a check that
goes direction by direction (written out here as the reference)."""
from __future__ import annotations

import numpy as np
import pytest

from grader.checks import fd


def sequential(value_at, point, grads, rng, step, rtol):
    """The direction-by-direction check, as fd.py did it before it evaluated the points together."""
    def one_pass(step, rtol):
        for d in range(fd.DIRECTIONS):
            direction = {n: rng.uniform(-1.0, 1.0, np.shape(v)) for n, v in grads.items()}
            plus = value_at({n: v + step * direction[n] if n in direction else v for n, v in point.items()})
            minus = value_at({n: v - step * direction[n] if n in direction else v for n, v in point.items()})
            if plus is None or minus is None:
                return f"failed {d + 1}"
            terms = [grads[n] * direction[n] for n in grads]
            allowed = rtol * float(sum(np.abs(t).sum() for t in terms)) + 1e-12
            if not abs((plus - minus) / (2 * step) - float(sum(t.sum() for t in terms))) <= allowed:
                return f"direction {d + 1}"
        return None
    message = one_pass(step, rtol)
    loose = fd.FD_SETTINGS[np.dtype(np.float32)]
    return one_pass(*loose) if message is not None and step < loose[0] else message


X = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
CASES = {
    "right gradient": (lambda p: float(np.sum(np.tanh(p["x"]))), lambda x: 1 - np.tanh(x) ** 2),
    "wrong gradient": (lambda p: float(np.sum(np.tanh(p["x"]))), lambda x: 2 * (1 - np.tanh(x) ** 2)),
    "float32 inside": (lambda p: float(np.sum(np.tanh(p["x"].astype(np.float32)).astype(np.float64))),
                       lambda x: 1 - np.tanh(x) ** 2),
    "fails off the point": (lambda p: None if not np.array_equal(p["x"], X) and p["x"][0, 0] > X[0, 0] else
                            float(np.sum(p["x"] ** 2)), lambda x: 2 * x),
}


@pytest.mark.parametrize("name", list(CASES))
def test_evaluating_the_points_together_gives_the_direction_by_direction_verdict(name):
    value, gradient = CASES[name]
    point, grads = {"x": X}, {"x": gradient(X)}
    old, new = np.random.default_rng(5), np.random.default_rng(5)
    want = sequential(value, point, grads, old, 1e-6, 1e-3)
    assert (want is None) == (name in ("right gradient", "float32 inside"))  # the cases mean what they say
    calls = []

    def values_at(points):
        calls.append(len(points))
        return fd._one_by_one(value)(points)
    got = fd.directional_check(None, point, grads, new, 1e-6, 1e-3, values_at=values_at)
    assert (got is None) == (want is None)
    if want is not None:
        assert (f"direction {want.split()[-1]}" in got) and (("failed" in want) == ("failed" in got))
    assert new.bit_generator.state == old.bit_generator.state  # the same directions from here on
    assert calls[0] == 2 * fd.DIRECTIONS  # one evaluation of every point of a pass


def test_value_at_alone_is_still_accepted():
    value, gradient = CASES["wrong gradient"]
    assert "direction 1" in fd.directional_check(value, {"x": X}, {"x": gradient(X)}, np.random.default_rng(0),
                                                 1e-6, 1e-3)
