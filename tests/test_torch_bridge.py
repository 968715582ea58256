"""torch_bridge.vjp: torch.autograd.grad with an upstream gradient, computed without the import of sympy
that torch.autograd.grad makes for a tensor grad_outputs, and with the same numbers and term magnitudes."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from grader import terms, torch_bridge

REFERENCES = {
    "softmax": lambda x, w: torch.softmax(x @ w, dim=1),
    "layer norm": lambda x, w: torch.nn.functional.layer_norm(x, x.shape[-1:]) * w[0, : x.shape[1]],
    "log-sum-exp with cancellation": lambda x, w: torch.logsumexp(1e3 * x @ w, dim=1, keepdim=True) - 1e3 * x @ w,
    "relu of a product": lambda x, w: torch.relu(x @ w) * x.sum(),
}


def _direct(reference, x, w, upstream):
    """torch.autograd.grad with grad_outputs, and the magnitudes of its terms."""
    with terms.Recording() as rec:
        x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
        grads = torch.autograd.grad(reference(x, w), (x, w), upstream)
    return [g.numpy() for g in grads], [rec.of(g).numpy() for g in grads]


@pytest.mark.parametrize("name", list(REFERENCES))
def test_vjp_gives_autograd_grad_bit_for_bit_with_the_same_terms(name):
    rng = np.random.default_rng(0)
    x, w = torch.from_numpy(rng.normal(size=(6, 5))), torch.from_numpy(rng.normal(size=(5, 5)))
    reference = REFERENCES[name]
    upstream = torch.from_numpy(rng.normal(size=tuple(reference(x, w).shape)))
    want, want_terms = _direct(reference, x, w, upstream)
    grads, grad_terms = torch_bridge.gradients_terms(lambda x, w: reference(x, w), {"x": x.numpy(), "w": w.numpy()},
                                                     ("x", "w"), upstream.numpy())
    for got, expected in zip(grads, want):
        assert np.array_equal(got, expected)
    for got, expected in zip(grad_terms, want_terms):
        assert np.array_equal(got, expected)


def test_vjp_refuses_an_upstream_of_another_shape_as_autograd_does():
    x = torch.ones(3, 4, dtype=torch.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        torch_bridge.vjp(x * 2, (x,), torch.ones(1, 4, dtype=torch.float64))  # would broadcast in a product


def test_vjp_without_upstream_is_the_gradient_of_a_scalar():
    x = torch.arange(4.0, dtype=torch.float64, requires_grad=True)
    (grad,) = torch_bridge.vjp((x ** 2).sum(), (x,))
    assert torch.equal(grad, 2 * x.detach())
