"""BPTT Lab's engine: pure NumPy, no web imports. Config dataclass in, result dataclass out."""

from .gradient_flow import GradientFlowConfig, GradientFlowResult, gradient_flow
from .influence import influence_map
from .network import NetworkConfig, NetworkResult, network
from .terms import terms_map

__all__ = [
    "GradientFlowConfig",
    "GradientFlowResult",
    "NetworkConfig",
    "NetworkResult",
    "gradient_flow",
    "influence_map",
    "network",
    "terms_map",
]
