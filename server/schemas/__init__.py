"""The validated query of every view, one module per view over a shared base, and the
tensors a POST may carry."""

from .base import (
    MAX_HIDDEN,
    MAX_INPUT,
    MAX_SEED,
    MAX_SEQ_LEN,
    QueryModel,
    bounded,
    choice,
    cross_field_error,
    int_list,
    query_value,
    slider,
)
from .cliff import CliffQuery
from .compare import CompareQuery
from .depth import DepthQuery
from .eigen import EIGEN_PAIRS, EigenQuery
from .gradient_flow import INCLUDES, MAX_DRAWS, GradientFlowQuery
from .network import NetworkQuery
from .network_body import NetworkBody, NetworkWeights
from .tensors import MAX_ABS, MAX_BODY_BYTES, GradientFlowBody, Weights

__all__ = [
    "EIGEN_PAIRS",
    "INCLUDES",
    "MAX_ABS",
    "MAX_BODY_BYTES",
    "MAX_DRAWS",
    "MAX_HIDDEN",
    "MAX_INPUT",
    "MAX_SEED",
    "MAX_SEQ_LEN",
    "CliffQuery",
    "CompareQuery",
    "DepthQuery",
    "EigenQuery",
    "GradientFlowBody",
    "GradientFlowQuery",
    "NetworkBody",
    "NetworkQuery",
    "NetworkWeights",
    "QueryModel",
    "Weights",
    "bounded",
    "choice",
    "cross_field_error",
    "int_list",
    "query_value",
    "slider",
]
