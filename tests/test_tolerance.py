"""The tolerance model (grader/compare.py, grader/terms.py): each element is judged against what a
correct computation in any reasonable order can produce, scaled by the terms that form it."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from grader import terms, torch_bridge
from grader.compare import compare
from grader.reference import layers as ref


def _saturated(seed=0, n=4, c=5):
    rng = np.random.default_rng(seed)
    return rng.normal(0, 1000.0, (n, c)), rng.normal(0, 1.0, (n, c))


def _jacobian_softmax_backward(dout, x):
    s = np.exp(x - x.max(axis=1, keepdims=True))
    s /= s.sum(axis=1, keepdims=True)
    return np.stack([(np.diag(r) - np.outer(r, r)) @ d for r, d in zip(s, dout)])


@pytest.mark.parametrize("seed", range(6))
def test_jacobian_softmax_backward_passes_on_saturated_logits(seed):
    x, dout = _saturated(seed)
    (expected,), (scale,) = torch_bridge.gradients_terms(ref.softmax, {"x": x}, ("x",), dout)
    got = _jacobian_softmax_backward(dout, x)
    assert compare(got, expected, terms=scale).passed
    assert compare(got.astype(np.float32), expected, terms=scale).passed
    # The same element scaled by the largest output (the old rule) fails: the outputs are rounding leftovers.
    assert np.abs(expected).max() < 1e-30


def test_saturated_terms_still_catch_wrong_gradients():
    x, dout = _saturated(1)
    (expected,), (scale,) = torch_bridge.gradients_terms(ref.softmax, {"x": x}, ("x",), dout)
    assert not compare(dout, expected, terms=scale).passed  # forgot the softmax Jacobian entirely
    assert not compare(-dout * 0.01, expected, terms=scale).passed


def test_terms_of_a_product_are_the_products_of_absolute_values():
    rng = np.random.default_rng(0)
    x, W, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)
    (out,), (scale,) = torch_bridge.forward_terms(ref.linear, {"x": x, "W": W, "b": b})
    np.testing.assert_allclose(scale, np.maximum(np.abs(x) @ np.abs(W) + np.abs(b), np.abs(out)))


def test_terms_of_a_cancelling_update_are_its_operands():
    p, g = np.ones(3), np.full(3, 10.0)
    (out,), (scale,) = torch_bridge.forward_terms(ref.sgd_step, {"param": p, "grad": g, "lr": 0.1})
    assert np.abs(out).max() < 1e-15 and np.allclose(scale, 2.0)
    assert compare(np.full(3, 1e-16), out, terms=scale).passed  # p - lr*g in another order
    assert not compare(np.full(3, 2.0), out, terms=scale).passed  # ascent


def test_tolerance_stays_tight_where_the_terms_are_small():
    """Elementwise results scale by themselves: a 1e-3 error on an output of 1e-6 fails, although the
    largest output is 1e3 (the old rule would have allowed it)."""
    x = np.array([[1e-6, 1e3]])
    (out,), (scale,) = torch_bridge.forward_terms(ref.relu, {"x": x})
    assert compare(out * (1 + 1e-12), out, terms=scale).passed
    assert not compare(out + np.array([[1e-3, 0.0]]), out, terms=scale).passed
    assert compare(out + np.array([[1e-5, 0.0]]), out).passed  # old rule, for contrast


def test_unknown_operations_are_linearized():
    """An op without a rule gets |value| + its change when inputs move by their magnitudes."""
    def fn(a, b):
        return torch.nn.functional.mse_loss(a, b)
    a = torch.tensor([1.0, 2.0], dtype=torch.float64)
    out, magnitude_of = terms.evaluate(fn, a, a + 1e-9)
    assert float(magnitude_of(out)) > 1e-9  # the difference cancels: its terms are the operands


def test_underflow_is_rounding_for_float32():
    e = np.array([1e-60, 1.0])
    assert compare(np.array([0.0, 1.0], dtype=np.float32), e, terms=np.abs(e)).passed
    assert not compare(np.array([0.0, 1.0], dtype=np.float64), np.array([1e-20, 1.0]), terms=[1e-20, 1]).passed


def test_slack_allows_a_documented_freedom():
    assert compare(2.0 + 5e-7, 2.0, terms=2.0, slack=1e-6).passed
    assert not compare(2.0 + 5e-7, 2.0, terms=2.0).passed


def test_no_numeric_warning_reaches_the_grader_terminal(grade_it, tmp_path):
    """A student's Inf and NaN flow through finite differences and mistake references: the verdict says
    so, and no RuntimeWarning is emitted in the grading process."""
    import warnings

    from helpers import make_submission
    # log-softmax without the max added back: on large logits its finite differences overflow
    sub = make_submission(tmp_path, {"activations.py": [(
        "shifted = x - x.max(axis=1, keepdims=True)\n    return shifted - np.log(np.exp(shifted).sum(axis=1, "
        "keepdims=True))",
        "shifted = x - x.max(axis=1, keepdims=True)\n    return x - np.log(np.exp(shifted).sum(axis=1, "
        "keepdims=True))")]})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = grade_it(sub, ["activations"])
    assert result.score < result.max_score
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []


def test_starter_kit_headers_are_whole_sentences(assignment):
    """Each module docstring of the kit carries the exercise's first paragraph whole, never cut mid-sentence."""
    from grader.starter import first_paragraph, starter_source
    for exercise in assignment.select(None):
        source = starter_source(exercise)
        header = source.split('"""')[1]
        paragraph = first_paragraph(exercise.description)
        assert " ".join(header.split()).count(paragraph) == 1, exercise.id
        assert paragraph.endswith((".", ")")), exercise.id
    losses = starter_source(assignment.exercise("losses"))
    assert "and mean squared error, each with its gradient, in NumPy." in " ".join(losses.split())


@pytest.mark.parametrize("name", ["exp", "log", "tanh", "sigmoid", "sqrt", "ones_like"])
def test_the_rules_of_smooth_functions_and_fills_agree_with_linearizing_them(name, monkeypatch):
    """terms.py's closed-form rules (|f(x)| + |f'(x)| m(x); a fill has no terms) give what moving the
    input by its magnitude measures (the rule for an operation without one), to first order."""
    fn = getattr(torch, name)
    x = torch.from_numpy(np.random.default_rng(1).normal(0, 3, (40, 7)))
    x = x.abs() + 1e-3 if name in ("log", "sqrt") else x

    def magnitudes():
        out, magnitude_of = terms.evaluate(lambda a: fn(a * 1.5), x)  # a * 1.5: an input with terms of its own
        return magnitude_of(out)
    ruled = magnitudes()
    monkeypatch.setattr(terms, "_DERIVATIVES", {})
    monkeypatch.setattr(terms, "_CONSTANTS", set())
    linearized = magnitudes()
    torch.testing.assert_close(ruled, linearized, rtol=1e-4, atol=0)
