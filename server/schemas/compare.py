"""/compare's query: the gradient-flow controls that apply to all three cells at once."""

from __future__ import annotations

from pydantic import create_model

from ...engine import GradientFlowConfig
from .base import QueryModel
from .gradient_flow import GradientFlowQuery

# /compare runs the three cells on one configuration: every control except the cell itself, the
# clipping and the truncation (the comparison is of Jacobians, which they do not touch)
NOT_COMPARED = ("cell", "clip", "clip_threshold", "truncation", "keep_prob", "draws", "include")


class _CompareBase(QueryModel):
    engine_config = GradientFlowConfig


CompareQuery = create_model(
    "CompareQuery",
    __base__=_CompareBase,
    __doc__="RNN, LSTM and GRU on the same inputs, seed and scale (`GET /api/v1/compare`).",
    **{
        name: (info.annotation, info)
        for name, info in GradientFlowQuery.model_fields.items()
        if name not in NOT_COMPARED
    },
)
