"""BPTT Lab's engine: pure NumPy, no web imports. Config dataclass in, result dataclass out."""

from .gradient_flow import GradientFlowConfig, GradientFlowResult, gradient_flow
from .model_io import LoadedModel, ModelFileError, load_model, read_inputs
from .network import NetworkConfig, NetworkResult, network
from .probes import MatrixFreeResult, matrix_free

__all__ = [
    "GradientFlowConfig",
    "GradientFlowResult",
    "NetworkConfig",
    "NetworkResult",
    "gradient_flow",
    "network",
    "LoadedModel",
    "ModelFileError",
    "load_model",
    "read_inputs",
    "MatrixFreeResult",
    "matrix_free",
]
