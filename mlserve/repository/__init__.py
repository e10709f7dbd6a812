"""The versioned Triton model repository."""

from mlserve.repository.metadata import ModelMetadata
from mlserve.repository.options import ServingOptions
from mlserve.repository.store import ModelRepository, validate_model_name

__all__ = ["ModelMetadata", "ModelRepository", "ServingOptions", "validate_model_name"]
