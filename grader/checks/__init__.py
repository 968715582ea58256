"""Check kinds, registered by name. Importing this package registers the built-in kinds."""
from .base import REGISTRY, CheckContext, check_kind  # noqa: F401
from . import functions, model, statistical, training  # noqa: F401  (registration)
