"""The grader's side of a PyTorch exercise, run in the child beside the student's module.

A PyTorch exercise's objects (the student's nn.Module, its tensors, the optimizer and loader the grader
builds) stay in the child: what crosses the wire is arrays and plain values (state dicts as name -> array,
outputs, losses, flags), never pickles. Each action here takes the student's object first (a kept module,
or a function of theirs; None when the action needs none) and returns plain values; the parent makes every
comparison. The child loads this file by path when its exercise allows torch (it must not import the
grader); the parent imports it as `grader.sandbox.torch_ops` for `build_mlp`, so the models the grader
trains in the child and its references are one definition.

Device discipline is observed, not trusted: while the student's code runs, every `.to(...)`, `.cuda()`
and `device=` of a tensor factory is recorded, so the parent can say "your code moves tensors to 'cuda'
although it was given device='cpu'" (a hard-coded device). On the `meta` device nothing is computed, so a
run there shows, without a GPU, whether code follows the device it is given.
"""
import contextlib
import functools

import numpy as np

ACTIONS = {}


def action(fn):
    ACTIONS[fn.__name__] = fn
    return fn


def bind(name, student):
    """The callable the child runs for a request: the action applied to the student's object."""
    return functools.partial(ACTIONS[name], student)


def _torch():
    import torch  # only in a child whose exercise allows it, and only when an action needs it
    return torch


# ---------------------------------------------------------------------------------------------- values

def to_array(value):
    """A tensor (any device) as a NumPy array; other values unchanged."""
    torch = _torch()
    if isinstance(value, torch.Tensor):
        value = value.detach()
        if value.device.type == "meta":
            return None
        return value.cpu().numpy().copy()
    return value


def state(model):
    """The module's state dict as name -> array (parameters and buffers)."""
    return {name: to_array(t) for name, t in model.state_dict().items()}


def _module_check(model):
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected an nn.Module, got {type(model).__name__}")


# ----------------------------------------------------------------------------------- device recording

class DeviceLog:
    """Devices the student's code moved things to during one action (by .to, .cuda, .cpu, device=)."""

    def __init__(self):
        self.devices = []

    def note(self, device):
        if device is not None:
            torch = _torch()
            kind = torch.device(device).type if not isinstance(device, int) else "cuda"
            if kind not in self.devices:
                self.devices.append(kind)


@contextlib.contextmanager
def recording(log):
    torch = _torch()
    parse = torch._C._nn._parse_to
    patched = []

    def wrap(owner, name, device_of):
        original = getattr(owner, name)

        @functools.wraps(original)
        def recorder(*args, **kwargs):
            try:
                log.note(device_of(*args, **kwargs))
            except Exception:  # noqa: BLE001 - odd arguments: the original call reports them
                pass
            return original(*args, **kwargs)
        setattr(owner, name, recorder)
        patched.append((owner, name, original))

    def to_device(self, *args, **kwargs):
        if args and isinstance(args[0], torch.Tensor):
            return args[0].device
        return parse(*args, **kwargs)[0]

    for owner in (torch.Tensor, torch.nn.Module):
        wrap(owner, "to", to_device)
        wrap(owner, "cuda", lambda self, device=None, *a, **k: "cuda")
        wrap(owner, "cpu", lambda self, *a, **k: "cpu")
    for factory in ("tensor", "zeros", "ones", "empty", "full", "arange", "randn", "rand", "as_tensor", "eye",
                    "zeros_like", "ones_like"):
        wrap(torch, factory, lambda *a, device=None, **k: device)
    try:
        yield log
    finally:
        for owner, name, original in reversed(patched):
            setattr(owner, name, original)


# ------------------------------------------------------------------------------------------- modules

@action
def architecture(model):
    """What the module is made of: its submodules (name, class), parameters and buffers (name -> shape)."""
    torch = _torch()
    if not isinstance(model, torch.nn.Module):
        return {"is_module": False, "type": type(model).__name__}
    modules = [[name, type(m).__name__, type(m).__module__.split(".")[0]]
               for name, m in model.named_modules() if name]
    return {"is_module": True, "type": type(model).__name__, "modules": modules,
            "params": {n: list(p.shape) for n, p in model.named_parameters()},
            "buffers": {n: list(b.shape) for n, b in model.named_buffers()},
            "extra": {n: m.extra_repr() for n, m in model.named_modules() if n}}


@action
def load(model, values, device="cpu", dtype="float64"):
    """Put the grader's weights (name -> array, state-dict names) into the module, on `device`."""
    torch = _torch()
    _module_check(model)
    own = model.state_dict()
    missing = [k for k in values if k not in own]
    mine = [k for k in own if not k.endswith("num_batches_tracked")]
    if missing and len(mine) == len(values) and all(  # other names (a module of its own): the same order
            tuple(own[a].shape) == tuple(np.shape(values[b])) for a, b in zip(mine, values)):
        values, missing = {a: values[b] for a, b in zip(mine, values)}, []
    if missing:
        raise KeyError(f"the module has no parameter or buffer named {', '.join(missing)}; it has "
                       f"{', '.join(own) or 'none'}")
    kind = getattr(torch, dtype)
    model.to(device=device, dtype=kind)
    with torch.no_grad():
        for name, array in values.items():
            target = own[name]
            source = torch.as_tensor(np.asarray(array))
            if tuple(source.shape) != tuple(target.shape):
                raise ValueError(f"{name} has shape {tuple(target.shape)}; the grader expected "
                                 f"{tuple(source.shape)}")
            target.copy_(source.to(target.dtype))
    return None


@action
def read_state(model):
    _module_check(model)
    return state(model)


def _inputs(X, model, device):
    torch = _torch()
    first = next(iter(model.parameters()), None)
    dtype = first.dtype if first is not None else torch.float64
    return torch.as_tensor(np.asarray(X)).to(device=device, dtype=dtype)


def _failed(error, log, device):
    """The student's code raised. On the CPU that is its error, unless it had moved tensors elsewhere (a
    hard-coded 'cuda' on a machine without one): then that is said first. Off the CPU, why it failed is
    evidence the parent reads (a tensor left on the CPU), returned with the devices used."""
    foreign = [d for d in log.devices if d != str(device).partition(":")[0]]
    if device == "cpu":
        if foreign:
            raise RuntimeError(f"your code moved tensors to '{foreign[0]}' although it was given device='cpu' "
                               f"(a hard-coded device): {type(error).__name__}: {error}") from error
        raise error
    return {"error": f"{type(error).__name__}: {error}"[:500], "devices": log.devices}


@action
def forward(model, X, device="cpu", train=False):
    """The module's output for X (on `device`, in the module's dtype), with the devices the code used."""
    torch = _torch()
    _module_check(model)
    model.train(bool(train))
    log = DeviceLog()
    x = _inputs(X, model, device)
    try:
        with torch.no_grad(), recording(log):
            out = model(x)
    except Exception as error:  # noqa: BLE001 - off the CPU, why it failed is evidence, not the end
        return _failed(error, log, device)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"forward returned {type(out).__name__}, not a tensor")
    return {"out": to_array(out), "device": out.device.type, "devices": log.devices,
            "shape": list(out.shape), "dtype": str(out.dtype).replace("torch.", "")}


@action
def sgd_step(model, X, labels, lr, device="cpu"):
    """One step of the grader's own loop on the student's module: cross-entropy on its output, SGD."""
    torch = _torch()
    _module_check(model)
    model.train()
    model.zero_grad(set_to_none=True)
    loss = torch.nn.functional.cross_entropy(model(_inputs(X, model, device)),
                                             torch.as_tensor(np.asarray(labels)).to(device))
    loss.backward()
    with torch.no_grad():  # plain SGD's step (torch.optim.SGD without momentum), without importing torch.optim
        for p in model.parameters():
            if p.grad is not None:
                p.add_(p.grad, alpha=-lr)
    return {"loss": float(loss.detach()), "state": state(model)}


@action
def time_steps(model, X, labels, lr, steps, device="cpu"):
    """`steps` training steps of the grader's loop (cross-entropy, backward, plain SGD) on the student's
    module, each timed here (CUDA synchronized before the clock is read): seconds per step."""
    import time
    torch = _torch()
    _module_check(model)
    model.to(device)
    model.train()
    x = _inputs(X, model, device)
    y = torch.as_tensor(np.asarray(labels)).to(device)
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    times = []
    for _ in range(int(steps)):
        sync()
        started = time.perf_counter()
        model.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        with torch.no_grad():
            for p in model.parameters():
                if p.grad is not None:
                    p.add_(p.grad, alpha=-lr)
        sync()
        times.append(time.perf_counter() - started)
    return times


@action
def batchnorm_steps(model, batches, device="cpu"):
    """Forward passes in train mode (no optimizer): what BatchNorm's running statistics become."""
    torch = _torch()
    _module_check(model)
    model.train()
    with torch.no_grad():
        for X in batches:
            model(_inputs(X, model, device))
    return state(model)


@action
def dropout_layers(model, rows, width, seed=0):
    """Every Dropout module of the model run on ones((rows, width)) in train mode and in eval mode: what it
    keeps, how it scales, whether it is off in eval mode."""
    torch = _torch()
    _module_check(model)
    torch.manual_seed(seed)
    found = []
    for name, module in model.named_modules():
        if "dropout" not in type(module).__name__.lower():
            continue
        ones = torch.ones(int(rows), int(width))
        with torch.no_grad():
            module.train()
            train = module(ones)
            module.eval()
            evaluated = module(ones)
        found.append({"name": name, "p": getattr(module, "p", None), "train": to_array(train),
                      "eval": to_array(evaluated)})
    model.eval()
    return found


@action
def eval_twice(model, X, device="cpu"):
    """Two eval-mode outputs of the same input: equal unless something random still runs."""
    first = forward(model, X, device)
    second = forward(model, X, device)
    return [first.get("out"), second.get("out")]


# ------------------------------------------------------------------------------------- the grader's models

def build_mlp(sizes, activation="relu", dropout=0.0, batchnorm=False, dtype="float64"):
    """Linear layers of `sizes`, each hidden one followed by [BatchNorm1d], the activation, [Dropout]:
    the models a training loop is graded with (the parent builds the same one for its reference)."""
    torch = _torch()
    nn = torch.nn
    layers = []
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if k < len(sizes) - 2:
            if batchnorm:
                layers.append(nn.BatchNorm1d(fan_out))
            layers.append({"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}[activation]())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers).to(getattr(torch, dtype))


@action
def new_mlp(_none, sizes, activation="relu", dropout=0.0, batchnorm=False, dtype="float64"):
    return build_mlp(sizes, activation, dropout, batchnorm, dtype)


def make_loader(X, y, batch_size):
    torch = _torch()
    from torch.utils.data import DataLoader, TensorDataset
    dataset = TensorDataset(torch.as_tensor(np.asarray(X)), torch.as_tensor(np.asarray(y)))
    return DataLoader(dataset, batch_size=int(batch_size), shuffle=False)


def make_optimizer(name, params, lr):
    torch = _torch()
    kinds = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "rmsprop": torch.optim.RMSprop}
    return kinds[name](params, lr=lr)


def _returned(value):
    """What the student's function returned, as a number where it is one, and how it was held."""
    torch = _torch()
    if isinstance(value, torch.Tensor):
        kind = "tensor_graph" if value.requires_grad else "tensor"
        if value.device.type == "meta" or value.numel() != 1:
            return None, kind
        return float(value.detach()), kind
    if isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool):
        return float(value), "number"
    return None, type(value).__name__


@action
def train_epoch(fn, model, X, y, batch_size, optimizer="sgd", lr=0.1, device="cpu", seed=0):
    """The student's train_epoch(model, loader, optimizer, criterion, device) with the grader's loader
    (fixed order), optimizer and nn.CrossEntropyLoss; returns what it returned and the state after."""
    torch = _torch()
    _module_check(model)
    model.to(device)
    model.train()
    torch.manual_seed(seed)
    loader = make_loader(X, y, batch_size)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    log = DeviceLog()
    steps = []
    opt.register_step_post_hook(lambda *a: steps.append(1))
    try:
        with recording(log):
            value = fn(model, loader, opt, torch.nn.CrossEntropyLoss(), device)
    except Exception as error:  # noqa: BLE001 - off the CPU, why it failed is evidence, not the end
        return _failed(error, log, device)
    number, kind = _returned(value)
    return {"returned": number, "kind": kind, "state": state(model), "devices": log.devices, "steps": len(steps)}


@action
def evaluate(fn, model, X, y, batch_size, device="cpu"):
    """The student's evaluate(model, loader, device); records, for every forward pass, whether the model
    was in training mode and whether autograd was recording."""
    torch = _torch()
    _module_check(model)
    model.to(device)
    model.train()  # as a training loop leaves it: evaluate must switch to eval mode itself
    flags = []
    handle = model.register_forward_pre_hook(lambda m, a: flags.append([m.training, torch.is_grad_enabled()]))
    log = DeviceLog()
    try:
        with recording(log):
            value = fn(model, make_loader(X, y, batch_size), device)
    except Exception as error:  # noqa: BLE001
        return _failed(error, log, device)
    finally:
        handle.remove()
    number, kind = _returned(value)
    return {"returned": number, "kind": kind, "flags": flags, "devices": log.devices}


@action
def build_and_load(builder, args, values, device="cpu"):
    """The student's builder called with `args`, the grader's state loaded: the model (kept by the caller)."""
    model = builder(*args)
    load(model, values, device=device, dtype="float32")
    return model


@action
def train_model(fn, model, X, y, batch_size, optimizer="sgd", lr=0.1, epochs=1, device="cpu", seed=0):
    """The student's train_model(model, loader, optimizer, criterion, epochs, device), which returns the mean
    loss of every epoch; the grader's optimizer and nn.CrossEntropyLoss. Returns those losses."""
    torch = _torch()
    _module_check(model)
    model.to(device)
    torch.manual_seed(seed)
    loader = make_loader(np.asarray(X, dtype=np.float32), y, batch_size)
    opt = make_optimizer(optimizer, model.parameters(), lr)
    value = fn(model, loader, opt, torch.nn.CrossEntropyLoss(), int(epochs), device)
    losses = [_returned(v)[0] for v in value] if isinstance(value, (list, tuple)) else None
    return {"losses": losses, "kind": type(value).__name__}


@action
def predict(model, X, device="cpu", batch=4096):
    """Predicted classes of X in eval mode."""
    torch = _torch()
    _module_check(model)
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(X), batch):
            out.append(model(_inputs(X[i:i + batch], model, device)).argmax(dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, np.int64)


@action
def call_on_device(fn, *args, device="cpu"):
    """A student function that builds or trains something, with the devices it used recorded."""
    log = DeviceLog()
    with recording(log):
        value = fn(*args)
    return {"value": value, "devices": log.devices}


@action
def cuda_available(_none):
    try:
        return bool(_torch().cuda.is_available())
    except Exception:  # noqa: BLE001
        return False
