"""The bridge from a validated query to the engine, with a small cache of results.

Every result is a pure function of its query, so equal queries share one computation.
"""

from __future__ import annotations

from functools import lru_cache

from engine import GradientFlowConfig, GradientFlowResult, gradient_flow
from engine.compare import CompareResult, compare_cells

from .schemas import CompareQuery, GradientFlowQuery


@lru_cache(maxsize=4)  # a result at the bounds holds ~20 MB; issue 6 bounds by bytes
def _gradient_flow(items: tuple) -> GradientFlowResult:
    return gradient_flow(GradientFlowConfig(**dict(items)))


def _config_items(q) -> tuple:
    names = set(GradientFlowConfig.field_names())
    return tuple((k, v) for k, v in q.engine_fields().items() if k in names)


def run_gradient_flow(q: GradientFlowQuery) -> GradientFlowResult:
    return _gradient_flow(_config_items(q))


@lru_cache(maxsize=2)
def _compare(items: tuple) -> CompareResult:
    return compare_cells(GradientFlowConfig(**dict(items)))


def run_compare(q: CompareQuery) -> CompareResult:
    return _compare(_config_items(q))
