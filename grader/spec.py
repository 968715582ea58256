"""The declarative language exercises are written in.

An exercise file (built-in ones in exercises/, an instructor's own beside the assignment file) defines
`EXERCISE = Exercise(...)`: the functions or class the student writes, how to generate their
arguments, the PyTorch reference, which checks apply with their points, and catalogued mistakes.
The engine reads these objects; it never branches on an exercise.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

# Old names of check kinds -> their names (one name per kind: registry, results, [points], [visibility]).
# Still accepted in assignment and exercise files, with a warning for the instructor.
RENAMED_CHECKS = {f"model_{name}": name for name in (
    "forward", "loss", "backward", "gradcheck", "update", "train_step", "predict", "training", "timing")}

# How arguments are generated; see grader/inputs.py.
ARG_KINDS = ("normal", "uniform", "logits", "probs", "onehot", "labels", "positive", "mask", "fixed")


@dataclass(frozen=True)
class Arg:
    """One argument: shape in symbolic dimensions (resolved per case) and how to draw values."""

    shape: tuple[str | int, ...] = ()
    kind: str = "normal"
    scale: float = 1.0  # standard deviation (normal, logits) or half-width (uniform)
    away_from: tuple[float, ...] = ()  # kinks to keep away from (finite differences must not cross them)
    margin: float = 0.1
    differentiable: bool = True
    value: Any = None  # for kind="fixed": a number (hyperparameters such as a learning rate)
    classes: str = "C"  # the dimension that counts classes, for labels/onehot/probs
    large: float = 1.0  # multiply by this in cases marked `large` (stability on big logits)
    # This argument in the features-first layout (grader/layout.py): an axis permutation such as
    # layout.TRANSPOSE (x (N, D) is sent as (D, N)), layout.COLUMN (b (H,) as (H, 1)), or None (unchanged).
    features_first: tuple[int, ...] | str | None = None

    def __post_init__(self):
        if self.kind not in ARG_KINDS:
            raise ValueError(f"Arg kind {self.kind!r} is not one of {ARG_KINDS}")


@dataclass(frozen=True)
class Layers:
    """An L-layer network as an argument (the fixed `value` of an Arg): its sizes are a case's dims
    `first`, then `hidden`1, `hidden`2, ... (as many as the case has), then `last`, so one function is
    graded on networks of several depths. `what="dims"` sends layer_dims, the list of sizes;
    `what="params"` draws the parameters W1, b1, ..., WL, bL (batch-first, Wl (n_{l-1}, n_l), He-scaled
    times `scale`; biases small and non-zero, (n_l,) or, with `bias_row`, (1, n_l))."""

    what: str = "params"
    first: str = "D"
    hidden: str = "H"
    last: str = "C"
    scale: float = 1.0
    bias_row: bool = False

    def sizes(self, dims: dict[str, int]) -> list[int]:
        hidden = []
        while f"{self.hidden}{len(hidden) + 1}" in dims:
            hidden.append(dims[f"{self.hidden}{len(hidden) + 1}"])
        return [dims[self.first], *hidden, dims[self.last]]

    def draw(self, dims: dict[str, int], rng) -> Any:
        sizes = self.sizes(dims)
        if self.what == "dims":
            return sizes
        params = {}
        for layer, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:]), start=1):
            params[f"W{layer}"] = rng.normal(0.0, np.sqrt(2.0 / fan_in), (fan_in, fan_out)) * self.scale
            params[f"b{layer}"] = rng.normal(0.0, 0.1, (1, fan_out) if self.bias_row else (fan_out,)) * self.scale
        return params


@dataclass(frozen=True)
class Case:
    """One generated input set: sizes of the symbolic dimensions, and whether values are large."""

    dims: dict[str, int]
    large: bool = False
    label: str = ""
    values: dict[str, Any] = field(default_factory=dict)  # argument values for this case (e.g. training=False)
    kinds: tuple[str, ...] = ()  # check kinds that use this case; empty: all (an eval-mode case has no backward)


@dataclass(frozen=True)
class Mistake:
    """A known wrong variant. `reference` has the signature of the reference it imitates."""

    id: str
    explanation: str
    reference: Callable[..., Any]
    check: str = "forward"  # which check's outputs it imitates: forward | backward | update | ...


@dataclass(frozen=True)
class Backward:
    """The student's backward for a forward function.

    `args` lists the backward's parameters by name: "dout" (the upstream gradient, omitted for
    scalar-valued losses) and names of the forward's arguments. It returns the gradients of the
    forward's `wrt` arguments, in that order (one array, or a tuple).
    """

    name: str
    args: tuple[str, ...]
    wrt: tuple[str, ...]
    checks: dict[str, float] = field(default_factory=lambda: {"backward": 2.0, "gradcheck": 1.0})
    mistakes: tuple[Mistake, ...] = ()
    doc: str = ""
    # A backward of a whole network (check kind `backprop`): the forward returns (output, cache), and the
    # backward takes (output, targets, cache) and returns the gradients of `loss(output, targets)`.
    targets: Arg | None = None
    loss: Callable[..., Any] | None = None

    @property
    def takes_upstream(self) -> bool:
        return "dout" in self.args


@dataclass(frozen=True)
class Function:
    """A function the student writes, compared with a PyTorch reference of the same arguments."""

    name: str
    args: dict[str, Arg]
    reference: Callable[..., Any]  # torch tensors in, in `args` order -> tensor or tuple of tensors
    checks: dict[str, float] = field(default_factory=lambda: {"forward": 2.0})
    cases: tuple[Case, ...] = ()
    outputs: tuple[str, ...] = ("out",)
    backward: Backward | None = None
    kinks: tuple[dict[str, Any], ...] = ()  # explicit inputs at kinks and ties (documented convention)
    mutates: tuple[str, ...] = ()  # arguments an update is meant to change (exempt from the inputs check)
    axis: int | None = None  # the axis a normalization runs over, for wrong-axis hints
    batch_dim: str | None = "N"  # the dimension that is the batch, for batch-size hints
    mistakes: tuple[Mistake, ...] = ()
    doc: str = ""
    exact: bool = False  # outputs are labels or masks: equality, not tolerance
    features_first: dict[str, Any] = field(default_factory=dict)  # output name -> its features-first form (as Arg's)
    # Other graded functions this function's checks call, by role: save_load reads back with {"load": "load_model"}.
    partners: dict[str, str] = field(default_factory=dict)
    keywords: tuple[str, ...] = ()  # arguments sent by keyword (options with defaults); the others by position

    def graded_names(self) -> list[str]:
        return [self.name] + ([self.backward.name] if self.backward else [])

    def positional(self) -> list[str]:
        return [name for name in self.args if name not in self.keywords]


@dataclass(frozen=True)
class Param:
    """A model parameter: its shape in symbolic dims; `bias=True` accepts (1, n) or (n,)."""

    shape: tuple[str, ...]
    bias: bool = False
    grad: str = ""  # key of its gradient in the dict backward returns (default "d" + name)


@dataclass(frozen=True)
class Model:
    """A class the student writes (a small network with parameters as attributes).

    `reference(params, X)` returns the model's output probabilities from a dict of float64 tensors;
    `loss(probs, y_onehot)` the mean loss. Methods map the roles the checks know onto the student's
    method names; `checks` says which roles are graded and for how many points.
    """

    class_name: str
    init_args: dict[str, str]  # constructor argument -> dimension name
    params: dict[str, Param]
    reference: Callable[..., Any]
    loss: Callable[..., Any]
    methods: dict[str, str]  # role -> method name: forward, loss, backward, update, train_step, predict
    checks: dict[str, float]
    cases: tuple[Case, ...] = ()
    learning_rate: float = 0.1
    mistakes: tuple[Mistake, ...] = ()
    doc: str = ""
    training: dict[str, Any] = field(default_factory=dict)  # options for the training check
    # Check kinds added only when an assignment option is on: option -> {kind: points},
    # e.g. {"timing": {"timing": 0.0}} runs the timing when `timing = true` (or --timing).
    optional_checks: dict[str, dict[str, float]] = field(default_factory=dict)

    def grad_key(self, name: str) -> str:
        return self.params[name].grad or f"d{name}"

    def graded_names(self) -> list[str]:
        return [self.class_name]


@dataclass(frozen=True)
class StateInit:
    """A function creating an optimizer's state as the course names it (initialize_velocity,
    initialize_adam): `name(params)` returns, for each name in `returns`, a dict of zeros with the keys
    and shapes of params (one dict, or a tuple of them in that order). Graded by `state_init`."""

    name: str
    returns: tuple[str, ...]
    checks: dict[str, float] = field(default_factory=lambda: {"interface": 0.5, "state_init": 1.0})
    doc: str = ""
    args: tuple[str, ...] = ("params",)
    backward = None  # one function: what the shared interface check and the starter kit read

    def graded_names(self) -> list[str]:
        return [self.name]


@dataclass(frozen=True)
class Convention:
    """A legitimate formula an assignment may grade instead of torch.optim's (CS231n's momentum, equal
    to torch's at a constant learning rate). `step` is a one-step formula, as an optimizer mistake's
    reference (reference/optimizers.py); None is torch.optim itself. `explanation` is what a
    submission following this convention reads when the assignment grades another."""

    name: str
    explanation: str
    step: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Optimizer:
    """An update written as the course writes it, graded over many steps against torch.optim.

    `args` is the update's parameter list: "params" (or "parameters") and "grads" (dicts name -> array; a
    parameter's gradient under `grad_key`), the state dicts
    named in `state`, "t" (the step count from 1) where the update needs it, and hyperparameters, whose
    values each of `runs` gives. It returns (params, *state dicts), or updates them in place and
    returns None. `reference(parameters, hyper)` builds the torch.optim optimizer; `state` maps each
    state dict to the torch.optim state key it must equal. Mistakes (check="steps") are one-step
    formulas (reference/optimizers.py); `conventions` (the first is the default) are chosen by the
    assignment option `convention_option`.
    """

    name: str
    args: tuple[str, ...]
    reference: Callable[..., Any]
    runs: tuple[dict[str, Any], ...]
    state: dict[str, str] = field(default_factory=dict)
    checks: dict[str, float] = field(default_factory=lambda: {"interface": 0.5, "steps": 3.0})
    steps: int = 12
    lr_change: tuple[int, float] = (7, 0.3)  # from this step on, the learning rate is multiplied by this
    mistakes: tuple[Mistake, ...] = ()
    convention_option: str = ""
    conventions: tuple[Convention, ...] = ()
    doc: str = ""
    grad_key: str = "{}"  # a parameter's key in grads: "{}" (grads["W1"]) or "d{}" (the course's grads["dW1"])
    backward = None  # one function: what the shared interface check and the starter kit read

    @property
    def params_arg(self) -> str:
        """The parameter dict's argument name: "params", or the course's "parameters"."""
        return "parameters" if "parameters" in self.args else "params"

    def graded_names(self) -> list[str]:
        return [self.name]


@dataclass(frozen=True)
class Twin:
    """The student's NumPy class that a PyTorch class must be equivalent to (the course's bridge week):
    `model` declares it as its own exercise does; `weights` maps each of its parameters to the PyTorch
    state-dict entry it is copied into, in the course's convention (fc1.weight <- W1.T: transposed)."""

    model: Model
    weights: dict[str, tuple[str, bool]]  # NumPy name -> (state-dict name, transposed)


@dataclass(frozen=True)
class TorchModel:
    """An nn.Module the student writes, graded in a child that may load torch.

    `reference(**dims)` builds the expected module (float64) from the case's dimensions; its parameters'
    names and shapes, and the classes of the modules holding them, are the architecture the student's
    module must have. `init_args` maps the student's constructor arguments to dimensions (empty for a
    fixed network such as MNISTNet); `input_shape` is the shape of the batches forward gets (symbolic),
    `classes` the dimension (or number) of outputs. Forward mistakes are functions of the reference's
    logits (check="forward"); loss mistakes of (logits, labels) (check="loss").
    """

    class_name: str
    reference: Callable[..., Any]
    checks: dict[str, float]
    init_args: dict[str, str] = field(default_factory=dict)
    input_shape: tuple[str | int, ...] = ("N", "D")
    classes: str | int = "C"
    cases: tuple[Case, ...] = ()
    learning_rate: float = 0.1
    twin: Twin | None = None
    mistakes: tuple[Mistake, ...] = ()
    doc: str = ""
    # Check kinds added only when an assignment option is on (as Model's): {"timing": {"torch_timing": 0.0}}.
    optional_checks: dict[str, dict[str, float]] = field(default_factory=dict)
    backward = None  # one class: what the shared interface check and the starter kit read

    def graded_names(self) -> list[str]:
        return [self.class_name]

    def related_names(self) -> list[str]:
        return [self.twin.model.class_name] if self.twin else []


@dataclass(frozen=True)
class TorchLoop:
    """A training or evaluation loop the student writes, called by the grader in the child that may load torch
    with a model, a deterministic DataLoader and (for training) an optimizer and nn.CrossEntropyLoss it builds.

    `role` is "train_epoch" (called as name(model, loader, optimizer, criterion, device), returns the mean
    loss) or "evaluate" (name(model, loader, device), returns the accuracy). `model` are the arguments of
    grader.sandbox.torch_ops.build_mlp (sizes, activation, dropout, batchnorm); each case's dims give the
    number of samples N and the batch size B. Mistakes (check="train_epoch") are loops of the reference's
    signature (grader/reference/torch_training.py) whose final parameters name what the student did.
    """

    name: str
    role: str
    checks: dict[str, float]
    model: dict[str, Any]
    cases: tuple[Case, ...] = ()
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    mistakes: tuple[Mistake, ...] = ()
    doc: str = ""
    backward = None

    def graded_names(self) -> list[str]:
        return [self.name]


Unit = Function | Model | StateInit | Optimizer | TorchModel | TorchLoop


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    units: tuple[Unit, ...]
    starter: str = ""  # student starter module file name, e.g. "layers.py"
    description: str = ""
    visibility: dict[str, str] = field(default_factory=dict)  # check kind -> Gradescope visibility
    # Frameworks the exercise's own code may use ("torch"): it is graded in a child that may load them,
    # while the NumPy exercises of the same submission are graded where they are blocked (grader/policy.py).
    frameworks: tuple[str, ...] = ()

    def required_names(self) -> list[str]:
        names: list[str] = []
        for unit in self.units:
            names.extend(unit.graded_names())
        return names

    def related_names(self) -> list[str]:
        """Names of other exercises' code this one also calls (a PyTorch class's NumPy twin), if present."""
        return [n for unit in self.units for n in getattr(unit, "related_names", lambda: [])()]


def as_float64(value: Any) -> np.ndarray:
    """Reference outputs (torch tensors or numbers) as float64 NumPy arrays."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def unit_checks(unit, options: dict) -> dict[str, float]:
    """The check kinds a unit is graded by, with their points: its `checks`, and the opt-in kinds of
    `optional_checks` whose option the assignment turns on (timing)."""
    checks = dict(unit.checks)
    for option, kinds in getattr(unit, "optional_checks", {}).items():
        if options.get(option):
            checks.update(kinds)
    return checks
