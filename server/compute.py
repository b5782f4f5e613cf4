"""The bridge from a validated query to the engine, with a small cache of results.

Every result is a pure function of its query, so equal queries share one computation.
"""

from __future__ import annotations

from functools import lru_cache

from engine import GradientFlowConfig, GradientFlowResult, gradient_flow
from engine.cliff import (
    CliffConfig,
    CliffDescent,
    CliffSurface,
    ClipGeometry,
    cliff_surface,
    clip_geometry,
    descend,
)
from engine.compare import CompareResult, compare_cells
from engine.eigen import EigenConfig, EigenResult, eigen_expansion

from .schemas import CliffQuery, CompareQuery, EigenQuery, GradientFlowQuery


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


@lru_cache(maxsize=8)
def _surface(items: tuple) -> CliffSurface:
    return cliff_surface(CliffConfig(**dict(items)))


def run_cliff(q: CliffQuery) -> tuple[CliffSurface, CliffDescent, ClipGeometry]:
    """The surface (cached apart: clicking a new start point does not recompute it), the
    three descents from (start_w, start_b), and the clipping of the gradient there."""
    surface = _surface(tuple(q.cliff_fields().items()))
    start = (q.start_w, q.start_b)
    paths = descend(surface.config, start, q.learning_rate, q.steps, q.clip_threshold)
    return surface, paths, clip_geometry(surface.config, start, q.clip_threshold)


@lru_cache(maxsize=8)
def _eigen(items: tuple) -> EigenResult:
    return eigen_expansion(EigenConfig(**dict(items)))


def run_eigen(q: EigenQuery) -> EigenResult:
    return _eigen(tuple(q.eigen_fields().items()))
