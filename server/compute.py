"""The bridge from a validated query to the engine: a cost budget, a bounded number of
computations at once, and one cache of results and response bodies bounded in bytes.

Every result is a pure function of its query, so equal queries share one computation (and
equal concurrent ones wait for the first). The budget, the limiter and the cache are the
app's ``Runtime``, made by ``create_app`` from its settings and kept in ``app.state.runtime``
(the one place settings live at run time). ``runtime()`` is the runtime of the app serving
the current request: ``RuntimeContext``, a middleware of every app, makes it current for the
request; ``using`` does so outside a server (the static export).

The cost of a request is checked once, where the request comes in (server/caching.py for the
API, ``affordable`` for pages, the downloads and the POST), never by the run_* functions.
A request that is answered from the cache takes no computing slot; one that is not takes one
slot for all its work (the result and the response body made from it). A GET whose client
disconnects while it waits for a slot is not computed (server/cancel.py). The runtime counts
the computations it started and skipped (``started``, ``skipped_gone``) and times them, which
calibrates the estimates of how long the next will take (server/estimates.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

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
from ..engine.depth import DepthResult, depth_experiment
from ..engine.eigen import EigenResult, eigen_expansion
from ..engine.network_maps import NetworkMaps, network_maps
from . import estimates, limits
from .caching import ByteLRU
from .cancel import watch_disconnect
from .limits import Limiter
from .schemas import (
    CliffQuery,
    CompareQuery,
    EigenQuery,
    GradientFlowQuery,
    NetworkQuery,
    QueryModel,
)
from .schemas.depth import DepthQuery
from .settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class Runtime:
    """An app's cost budget, computing slots, cache, and the timings of its computations."""

    budget: float
    limiter: Limiter
    cache: ByteLRU
    timings: estimates.Timings

    @classmethod
    def of(cls, settings: Settings) -> Runtime:
        return cls(
            settings.cost_budget,
            Limiter(settings.max_concurrent, settings.max_queue),
            ByteLRU(settings.cache_bytes),
            estimates.Timings(),
        )

    @property
    def started(self) -> int:
        """Computations started (a slot given to a request not answered from the cache)."""
        return self.limiter.started

    @property
    def skipped_gone(self) -> int:
        """Requests not computed because their client had gone when they would have started."""
        return self.limiter.skipped_gone


_current: ContextVar[Runtime] = ContextVar("bpttlab_runtime")


@contextmanager
def using(rt: Runtime) -> Iterator[Runtime]:
    """Make rt the current runtime within the block (and the threads it starts work in)."""
    token = _current.set(rt)
    try:
        yield rt
    finally:
        _current.reset(token)


def runtime() -> Runtime:
    """The runtime of the app serving this request (or of the enclosing ``using``)."""
    try:
        return _current.get()
    except LookupError:
        raise RuntimeError(
            "no runtime: computations run in a request of an app made by create_app, or "
            "inside compute.using(Runtime.of(settings))"
        ) from None


class RuntimeContext:
    """ASGI middleware: each request runs with its app's ``app.state.runtime`` current, and
    each GET with its client-gone flag watched (server/cancel.py)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        with using(scope["app"].state.runtime):
            await watch_disconnect(self.app, scope, receive, send)


def in_slot(compute: Callable[[], T]) -> T:
    """compute() in a computing slot: at once, after waiting in the queue, or a 503 (or
    nothing, if the client has gone before it started). The outermost slot of a request
    whose cost was noted is timed (server/estimates.py)."""
    rt = runtime()
    with rt.limiter.slot() as outermost:
        noted = estimates.noted() if outermost else None
        if noted is None:
            return compute()
        start = time.perf_counter()
        value = compute()
        rt.timings.record(*noted, time.perf_counter() - start)
        return value


def computed(key: tuple, compute: Callable[[], T]) -> T:
    """The cached value of key, or compute() in a computing slot (single flight)."""
    return runtime().cache.get_or_compute(key, lambda: in_slot(compute))


def check_cost(q: BaseModel) -> None:
    """Refuse (422) a query whose estimated cost exceeds the budget, before any work."""
    limits.check_budget(q, runtime().budget)


def affordable(q: BaseModel, problems: list[dict]) -> tuple[BaseModel, list[dict]]:
    """A page's query brought within the budget (see limits.affordable)."""
    return limits.affordable(q, problems, runtime().budget)


def _key(view: str, q: QueryModel) -> tuple:
    return (view, tuple(q.engine_fields().items()))


def run_gradient_flow(q: GradientFlowQuery) -> GradientFlowResult:
    return computed(_key("gradient_flow", q), lambda: gradient_flow(q.to_config()))


def run_compare(q: CompareQuery) -> CompareResult:
    return computed(_key("compare", q), lambda: compare_cells(q.to_config()))


def run_cliff(q: CliffQuery) -> tuple[CliffSurface, CliffDescent, ClipGeometry]:
    """The surface (cached apart: clicking a new start point does not recompute it), the
    three descents from (start_w, start_b), and the clipping of the gradient where the
    unclipped run was thrown (at the start if it was not)."""
    surface = computed(_key("cliff", q), lambda: cliff_surface(q.to_config()))

    def paths() -> tuple[CliffDescent, ClipGeometry]:
        d = descend(surface.config, q.start, q.learning_rate, q.steps, q.clip_threshold)
        return d, clip_geometry(surface.config, d.clip_point, q.clip_threshold)

    return (surface, *computed(("cliff_descent", q.model_dump_json()), paths))


def run_eigen(q: EigenQuery) -> EigenResult:
    return computed(_key("eigen", q), lambda: eigen_expansion(q.to_config()))


def run_depth(q: DepthQuery) -> DepthResult:
    return computed(_key("depth", q), lambda: depth_experiment(q.to_config(), q.compare))


@dataclass(frozen=True)
class NetworkRun:
    """A network's maps (cached by the engine's fields) and how the page labels its time
    axis (``words``: one per step, or None for the step numbers)."""

    maps: NetworkMaps
    words: tuple[str, ...] | None


def run_network(q: NetworkQuery) -> NetworkRun:
    maps = computed(_key("network", q), lambda: network_maps(q.to_config()))
    return NetworkRun(maps, q.words)
