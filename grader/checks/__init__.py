"""Check kinds, registered by name. Importing this package registers the built-in kinds."""
from .base import REGISTRY, CheckContext, check_kind  # noqa: F401
from . import functions, model, optimizer, statistical, timing, training  # noqa: F401  (registration)
from . import scipy_train, utilities  # noqa: F401  (registration: the scipy_network and utils exercises)
from . import torch_loop, torch_module  # noqa: F401  (registration: PyTorch exercises)
from . import figures, network_functions  # noqa: F401  (registration: the from_scratch exercise)
