"""BPTT Lab's engine: pure NumPy, no web imports. Config dataclass in, result dataclass out."""

from .gradient_flow import GradientFlowConfig, GradientFlowResult, gradient_flow
from .network import NetworkConfig, NetworkResult, network
from .training import SweepResult, TrainConfig, TrainResult, sweep, train

__all__ = [
    "GradientFlowConfig",
    "GradientFlowResult",
    "NetworkConfig",
    "NetworkResult",
    "gradient_flow",
    "network",
    "SweepResult",
    "TrainConfig",
    "TrainResult",
    "sweep",
    "train",
]
