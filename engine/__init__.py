"""BPTT Lab's engine: pure NumPy, no web imports. Config dataclass in, result dataclass out."""

from .depth import DepthConfig, DepthResult, depth_experiment
from .gradient_flow import GradientFlowConfig, GradientFlowResult, gradient_flow
from .network import NetworkConfig, NetworkResult, network

__all__ = [
    "DepthConfig",
    "DepthResult",
    "GradientFlowConfig",
    "GradientFlowResult",
    "NetworkConfig",
    "NetworkResult",
    "depth_experiment",
    "gradient_flow",
    "network",
]
