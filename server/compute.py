"""The bridge from a validated query to the engine: a cost budget, a bounded number of
computations at once, and one cache of results and response bodies bounded in bytes.

Every result is a pure function of its query, so equal queries share one computation (and
equal concurrent ones wait for the first). The budget, the limiter and the cache belong to
the process, as its cores and memory do: ``configure`` sets them, from the settings of the
app being created (``create_app``); until then they follow ``get_settings()``.

A request that is answered from the cache takes no computing slot; one that is not takes one
slot for all its work (the result and the response body made from it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel

from ..engine import GradientFlowResult, gradient_flow
from ..engine.cliff import (
    CliffDescent,
    CliffSurface,
    ClipGeometry,
    cliff_surface,
    clip_geometry,
    descend,
)
from ..engine.compare import CompareResult, compare_cells
from ..engine.eigen import EigenResult, eigen_expansion
from . import limits
from .caching import ByteLRU
from .limits import Limiter, check_budget
from .schemas import CliffQuery, CompareQuery, EigenQuery, GradientFlowQuery
from .settings import Settings, get_settings

T = TypeVar("T")


@dataclass(frozen=True)
class Runtime:
    budget: float
    limiter: Limiter
    cache: ByteLRU

    @classmethod
    def of(cls, settings: Settings) -> Runtime:
        return cls(
            settings.cost_budget,
            Limiter(settings.max_concurrent, settings.max_queue),
            ByteLRU(settings.cache_bytes),
        )


_runtime: Runtime | None = None


def configure(settings: Settings) -> Runtime:
    """A new budget, limiter and (empty) cache for this process, from settings."""
    global _runtime
    _runtime = Runtime.of(settings)
    return _runtime


def runtime() -> Runtime:
    return _runtime or configure(get_settings())


def in_slot(compute: Callable[[], T]) -> T:
    """compute() in a computing slot: at once, after waiting in the queue, or a 503."""
    with runtime().limiter.slot():
        return compute()


def computed(key: tuple, compute: Callable[[], T]) -> T:
    """The cached value of key, or compute() in a computing slot (single flight)."""
    return runtime().cache.get_or_compute(key, lambda: in_slot(compute))


def check_cost(q: BaseModel) -> None:
    """Refuse (422) a query whose estimated cost exceeds the budget, before any work."""
    check_budget(q, runtime().budget)


def affordable(q: BaseModel, problems: list[dict]) -> tuple[BaseModel, list[dict]]:
    """A page's query brought within the budget (see limits.affordable)."""
    return limits.affordable(q, problems, runtime().budget)


def _config_items(q) -> tuple:
    return tuple(q.engine_fields().items())


def run_gradient_flow(q: GradientFlowQuery) -> GradientFlowResult:
    check_cost(q)
    return computed(("gradient_flow", _config_items(q)), lambda: gradient_flow(q.to_config()))


def run_compare(q: CompareQuery) -> CompareResult:
    check_cost(q)
    return computed(("compare", _config_items(q)), lambda: compare_cells(q.to_config()))


def run_cliff(q: CliffQuery) -> tuple[CliffSurface, CliffDescent, ClipGeometry]:
    """The surface (cached apart: clicking a new start point does not recompute it), the
    three descents from (start_w, start_b), and the clipping of the gradient there."""
    check_cost(q)
    surface = computed(("cliff", _config_items(q)), lambda: cliff_surface(q.to_config()))
    start = (q.start_w, q.start_b)

    def paths() -> tuple[CliffDescent, ClipGeometry]:
        return (
            descend(surface.config, start, q.learning_rate, q.steps, q.clip_threshold),
            clip_geometry(surface.config, start, q.clip_threshold),
        )

    return (surface, *computed(("cliff_descent", q.model_dump_json()), paths))


def run_eigen(q: EigenQuery) -> EigenResult:
    check_cost(q)
    return computed(("eigen", _config_items(q)), lambda: eigen_expansion(q.to_config()))
