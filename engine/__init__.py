"""BPTT Lab's engine: pure NumPy, no web imports. Config dataclass in, result dataclass out."""

from .gradient_flow import GradientFlowConfig, GradientFlowResult, gradient_flow

__all__ = ["GradientFlowConfig", "GradientFlowResult", "gradient_flow"]
