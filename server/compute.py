"""The bridge from a validated query to the engine, with a small cache of results.

Every result is a pure function of its query, so equal queries share one computation.
"""

from __future__ import annotations

from functools import lru_cache

from engine import GradientFlowConfig, GradientFlowResult, gradient_flow

from .schemas import GradientFlowQuery


@lru_cache(maxsize=16)
def _gradient_flow(items: tuple) -> GradientFlowResult:
    return gradient_flow(GradientFlowConfig(**dict(items)))


def run_gradient_flow(q: GradientFlowQuery) -> GradientFlowResult:
    names = set(GradientFlowConfig.field_names())
    fields = q.engine_fields()
    return _gradient_flow(tuple((k, v) for k, v in fields.items() if k in names))
