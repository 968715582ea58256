"""Check kinds, registered by name (see base.py). Importing this package registers the built-in kinds,
one module per family of units: functions, a model class, optimizers, distributions, utilities, the
SciPy cost, training and timing, the PyTorch exercises' (torch_module, torch_loop) and the from_scratch
exercise's (network_functions, figures)."""
from .base import MAIN, REGISTRY, CheckContext, CheckKind, Replay, canonical, check_kind, lookup  # noqa: F401
from . import functions, model, optimizer, scipy_train, statistical, timing, training, utilities  # noqa: F401
from . import torch_loop, torch_module, torch_timing  # noqa: F401
from . import figures, network_functions  # noqa: F401
