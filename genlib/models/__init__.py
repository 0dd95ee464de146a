"""Model registry: ``REGISTRY[name]`` → class. Importing this package registers every built-in model."""
from .base import (REGISTRY, Capability, GenerativeModel, ModelError, NonFiniteLossError, capability_table,
                   check_model_memory, compatible_models, get_model_class, model_config, models_with, require)
from . import classical, vae  # noqa: F401  (registration side effect)
from . import flow  # noqa: F401
from . import gan  # noqa: F401
from . import sequence  # noqa: F401
from .fitted import CheckpointError, FittedModel

__all__ = ["REGISTRY", "Capability", "GenerativeModel", "ModelError", "NonFiniteLossError", "capability_table",
           "check_model_memory", "compatible_models", "get_model_class", "model_config", "models_with", "require",
           "CheckpointError", "FittedModel"]
