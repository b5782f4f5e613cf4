"""BPTT Lab's engine: pure NumPy, no web imports. Config dataclass in, result dataclass out."""

from .depth import DepthConfig, DepthResult, depth_experiment
from .gradient_flow import GradientFlowConfig, GradientFlowResult, gradient_flow
from .influence import influence_map
from .model_io import LoadedModel, ModelFileError, load_model, read_inputs
from .network import NetworkConfig, NetworkResult, network
from .probes import MatrixFreeResult, matrix_free
from .terms import terms_map
from .training import SweepResult, TrainConfig, TrainResult, sweep, train

__all__ = [
    "DepthConfig",
    "DepthResult",
    "GradientFlowConfig",
    "GradientFlowResult",
    "NetworkConfig",
    "NetworkResult",
    "depth_experiment",
    "gradient_flow",
    "influence_map",
    "network",
    "terms_map",
    "SweepResult",
    "TrainConfig",
    "TrainResult",
    "sweep",
    "train",
    "LoadedModel",
    "ModelFileError",
    "load_model",
    "read_inputs",
    "MatrixFreeResult",
    "matrix_free",
]
