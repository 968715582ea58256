"""grader/optim.py: torch.optim's classes without the compiler import, equal to torch.optim on every step."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from grader import optim
from grader.reference import network, optimizers

# Grades submissions or starts processes: `python -m pytest -m "not slow"` leaves it out.
pytestmark = pytest.mark.slow

HYPER = {"learning_rate": 0.05, "weight_decay": 0.01, "beta": 0.9, "dampening": 0.1, "alpha": 0.95,
         "epsilon": 1e-6, "beta1": 0.8, "beta2": 0.99}


def _real(build):
    """The same builder with torch.optim's own classes."""
    def build_real(parameters, h):
        saved = {name: getattr(optim, name) for name in ("SGD", "Adam", "AdamW", "RMSprop")}
        try:
            for name in saved:
                setattr(optim, name, getattr(torch.optim, name))
            return build(parameters, h)
        finally:
            for name, cls in saved.items():
                setattr(optim, name, cls)
    return build_real


def _trajectory(build, hyper, steps=6, seed=0):
    rng = np.random.default_rng(seed)
    params = [torch.nn.Parameter(torch.tensor(rng.normal(size=shape))) for shape in ((3, 4), (4,))]
    optimizer = build(params, hyper)
    out = []
    for t in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = hyper["learning_rate"] * (1 + 0.5 * np.sin(t))  # a schedule, as the check drives it
        for p in params:
            p.grad = torch.tensor(rng.normal(size=tuple(p.shape)))
        optimizer.step()
        state = [{k: v.clone() if torch.is_tensor(v) else v for k, v in optimizer.state[p].items()} for p in params]
        out.append(([p.detach().clone() for p in params], state))
        optimizer.zero_grad()
    return optimizer, out


BUILDERS = [("sgd", optimizers.sgd, {}), ("momentum", optimizers.sgd_momentum, {}),
            ("nesterov", optimizers.sgd_nesterov, {}), ("rmsprop", optimizers.rmsprop, {"centered": False}),
            ("rmsprop_centered", optimizers.rmsprop, {"centered": True}), ("adam", optimizers.adam, {}),
            ("adamw", optimizers.adamw, {})]


@pytest.mark.parametrize("name,build,extra", BUILDERS, ids=[b[0] for b in BUILDERS])
def test_equal_to_torch_optim_on_every_step(name, build, extra):
    hyper = {**HYPER, **extra}
    ours, got = _trajectory(build, hyper)
    real, want = _trajectory(_real(build), hyper)
    assert type(ours) is not type(real) and isinstance(ours, type(real))  # the real class, not a copy of it
    for step, ((p_got, s_got), (p_want, s_want)) in enumerate(zip(got, want), start=1):
        for a, b in zip(p_got, p_want):
            assert torch.equal(a, b), (name, step)
        for a, b in zip(s_got, s_want):
            assert a.keys() == b.keys() and (a or name == "sgd"), (name, step)  # plain SGD keeps no state
            for key in a:
                assert torch.equal(torch.as_tensor(a[key]), torch.as_tensor(b[key])), (name, step, key)


def test_network_reference_training_equal_to_torch_optim():
    torch.manual_seed(0)
    X, labels = torch.randn(16, 6, dtype=torch.float64), torch.randint(0, 4, (16,))
    models = [network.TwoLayerNet(6, 5, 4) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    ours = network.sgd(models[0], 0.3)
    real = torch.optim.SGD(models[1].parameters(), lr=0.3, momentum=0.0, dampening=0.0, weight_decay=0.0)
    for _ in range(5):
        assert torch.equal(network.train_step(models[0], ours, X, labels), network.train_step(models[1], real, X, labels))
        for a, b in zip(models[0].parameters(), models[1].parameters()):
            assert torch.equal(a, b)


def test_grad_mode_is_restored_and_step_runs_without_grad():
    p = torch.nn.Parameter(torch.ones(2, dtype=torch.float64))
    p.grad = torch.ones(2, dtype=torch.float64)
    optimizer = optim.SGD([p], lr=0.5)
    optimizer.step()  # under grad mode: the update itself is not recorded, and grad mode comes back on
    assert torch.is_grad_enabled() and p.grad_fn is None and p.grad is not None
    assert torch.equal(p.detach(), torch.full((2,), 0.5, dtype=torch.float64))
    with torch.no_grad():
        optimizer.step()
        assert not torch.is_grad_enabled()
    optimizer.zero_grad()
    assert p.grad is None


def test_no_compiler_import():
    code = ("import sys, torch\nfrom grader.reference import optimizers as o, network as n\n"
            "p = [torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))]\n"
            "h = dict(learning_rate=0.1, weight_decay=0.0, beta=0.9, dampening=0.0, alpha=0.9, epsilon=1e-8,"
            " centered=False, beta1=0.9, beta2=0.99)\n"
            "for b in (o.sgd, o.sgd_momentum, o.sgd_nesterov, o.rmsprop, o.adam, o.adamw):\n"
            "    opt = b(p, h); p[0].grad = torch.ones(3, dtype=torch.float64); opt.step(); opt.zero_grad()\n"
            "m = n.TwoLayerNet(3, 4, 2); s = n.sgd(m, 0.1)\n"
            "n.train_step(m, s, torch.zeros(2, 3, dtype=torch.float64), torch.tensor([0, 1]))\n"
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
