"""What a request may cost, and how many computations run at once.

Every compute request's cost is estimated from its validated query before any work is done,
in units of about one multiply-add of a matrix product (0.2 to 0.4 ns each on the benchmark
machine), and a request over ``Settings.cost_budget`` is refused with a 422 that names the
formula, the estimate and the budget. The default budget admits every query the bounds allow,
so the budget is an operator's knob.

A ``Limiter`` lets at most ``max_concurrent`` computations run in a process at once and at
most ``max_queue`` more wait for a slot; one more is refused with a 503 and Retry-After. A
request whose client has gone (server/cancel.py) does not queue, leaves the queue, or gives
its slot back as soon as it gets one, without computing; the Limiter counts the computations
it started and the requests it skipped so.
"""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import singledispatch

import anyio.to_thread
from fastapi import FastAPI, Request
from pydantic import BaseModel

from ..engine.cells import compared_cells, get_cell
from . import estimates
from .cancel import ClientGone, client_gone
from .errors import error_item, error_response
from .schemas import (
    CliffQuery,
    CompareQuery,
    DepthQuery,
    EigenQuery,
    GradientFlowQuery,
    NetworkQuery,
)
from .serialize import JSONResponse

# A time step of the engine's loops costs a few dozen NumPy calls whatever the size: at
# small sizes that, not the matrix products, is the work (about 30 us a step, here).
STEP = 2**17
GRID_POINT = 2**11  # one point of the cliff's (w, b) grid for one time step (vectorised)
RETRY_AFTER = 2  # seconds a refused request is asked to wait
LIGHT_THREADS = 40  # worker threads besides the computations and their queue (pages, posts)
SWITCH_INTERVAL = 0.001  # seconds: see lifespan
GONE_POLL = 0.05  # seconds between looks at a waiting request's client
CLIENT_CLOSED = 499  # the answer to a request whose client has gone (never read)


@dataclass(frozen=True)
class Cost:
    """An estimate: its value, the formula that gave it (in field names and with the numbers
    put in), and the fields it grows with (the first is the one a refusal names)."""

    value: float
    formula: str
    numbers: str
    fields: tuple[str, ...]

    def error(self, budget: float) -> dict:
        message = (
            f"{self.formula} = {self.numbers} = {self.value:.3g} exceeds the budget of "
            f"{budget:.3g} cost units; reduce {' or '.join(self.fields)}"
        )
        limit = {"budget": budget, "cost": self.value}
        return error_item(self.fields[0], message, "cost_budget", limit)


def _state_size(cell: str, n: int) -> int:
    return get_cell(cell).state_factor * n  # the LSTM's state is the pair (h, c)


@singledispatch
def estimate(q: BaseModel) -> Cost:
    raise TypeError(f"no cost estimate for {type(q).__name__}")


@estimate.register
def _(q: GradientFlowQuery) -> Cost:
    factor = get_cell(q.cell).state_factor
    size = f"({factor}*hidden_size)" if factor > 1 else "hidden_size"
    s = _state_size(q.cell, q.hidden_size)
    cost = Cost(
        float(q.seq_len * (2 * STEP + s**3)),
        f"seq_len * (2*STEP + {size}^3)",
        f"{q.seq_len} * (2*{STEP} + {s}^3)",
        ("seq_len", "hidden_size"),
    )
    if q.truncation == 0 and q.keep_prob == 1:
        return cost
    # truncation: one pass over the T terms of dL/dW_hh (G n x n each, G gate blocks), and
    # one more per randomized draw
    g, n = get_cell(q.cell).gate_rows, q.hidden_size
    passes, words = (1 + q.draws, "(1 + draws)") if q.keep_prob < 1 else (1, "1")
    return Cost(
        cost.value + float(2 * passes * q.seq_len * g * n**2),
        f"{cost.formula} + 2*{words}*seq_len*{g}*hidden_size^2",
        f"{cost.numbers} + 2*{passes}*{q.seq_len}*{g}*{n}^2",
        ("seq_len", "hidden_size", "draws"),
    )


@estimate.register
def _(q: CompareQuery) -> Cost:
    """Every compared cell's profile, each as the gradient flow's: 2 STEP + (state size)^3 per
    step, the state size being hidden_size times the cell's state factor."""
    n, cells = q.hidden_size, compared_cells()
    factors = sorted(Counter(cell.state_factor for cell in cells).items())

    def cubes(size) -> str:
        return " + ".join(
            (f"{count}*" if count > 1 else "") + f"{size(factor)}^3" for factor, count in factors
        )

    return Cost(
        float(q.seq_len * (2 * len(cells) * STEP + sum(c * (f * n) ** 3 for f, c in factors))),
        f"seq_len * ({2 * len(cells)}*STEP + "
        + cubes(lambda f: "hidden_size" if f == 1 else f"({f}*hidden_size)")
        + ")",
        f"{q.seq_len} * ({2 * len(cells)}*{STEP} + " + cubes(lambda f: f * n) + ")",
        ("seq_len", "hidden_size"),
    )


@estimate.register
def _(q: CliffQuery) -> Cost:
    return Cost(  # the grid, and three descents of `steps` gradients each
        float(q.seq_len * (GRID_POINT * q.resolution**2 + 3 * q.steps * STEP)),
        f"seq_len * ({GRID_POINT}*resolution^2 + 3*steps*STEP)",
        f"{q.seq_len} * ({GRID_POINT}*{q.resolution}^2 + 3*{q.steps}*{STEP})",
        ("seq_len", "resolution", "steps"),
    )


@estimate.register
def _(q: EigenQuery) -> Cost:
    n = q.to_config().size  # hidden_size, or the blocks' size
    return Cost(  # a product and an SVD per distance
        float((q.seq_len + 1) * (STEP + 4 * n**3)),
        "(seq_len + 1) * (STEP + 4*n^3)",
        f"{q.seq_len + 1} * ({STEP} + 4*{n}^3)",
        ("seq_len", "hidden_size") if q.matrix != "eigenvalues" else ("seq_len",),
    )


def _depth_terms(q: DepthQuery, architecture: str) -> tuple[float, str, str]:
    """One architecture's cost per layer: the batch's forward, its recomputation and the
    backward (4 products of batch x in x out, 8 for highway's two matrices), and the Jacobian
    at the first input (out x in x width, twice for highway)."""
    b, n, g, depth = q.batch, q.width, q.growth, q.depth
    if architecture == "dense":  # the mean layer reads width + depth*growth/2 units
        mean_in = n + depth * g / 2
        value = 4 * b * g * mean_in + g * mean_in * n
        return (
            value,
            "(4*batch + width)*growth*(width + depth*growth/2)",
            (f"(4*{b} + {n})*{g}*({n} + {depth}*{g}/2)"),
        )
    k, j = (8, 2) if architecture == "highway" else (4, 1)
    return (
        float(k * b * n**2 + j * n**3),
        f"{k}*batch*width^2 + {j}*width^3",
        f"{k}*{b}*{n}^2 + {j}*{n}^3",
    )


@estimate.register
def _(q: DepthQuery) -> Cost:
    """depth x (the per-layer products of every architecture run) + the SVD (width^3)."""
    from ..engine.depth import ARCHITECTURES

    names = ARCHITECTURES if q.compare else (q.architecture,)
    terms = [_depth_terms(q, a) for a in names]
    per_layer = len(names) * STEP + sum(t[0] for t in terms)
    formula = " + ".join(t[1] for t in terms)
    numbers = " + ".join(t[2] for t in terms)
    steps = f"{len(names)}*STEP" if len(names) > 1 else "STEP"
    return Cost(
        float(q.depth * per_layer + len(names) * q.width**3),
        f"depth * ({steps} + {formula}) + {len(names)}*width^3",
        f"{q.depth} * ({len(names)}*{STEP} + {numbers}) + {len(names)}*{q.width}^3",
        ("depth", "width", "batch"),
    )


# /network's costs in the units above, fitted to measured times (benchmarks/network_cost.py):
# a (layer, direction, step) of the passes and of the maps' per-step work, and one of the
# D T^2 small norms of the maps' entries
NET_STEP = 22 * STEP
NET_NORM = 4 * GRID_POINT


@estimate.register
def _(q: NetworkQuery) -> Cost:
    """L D T steps; the influence map's tangent sweep, one (S, S + D n) by (., T d) product per
    step of every (layer, direction), S the state size (2n for the LSTM); the terms map's T
    covectors through every step's gates (T by S by G n, G gate blocks); and the D T^2 norms:
    the maps grow with T^2 and with the total state L D S."""
    cell = get_cell(q.cell)
    g, rows = cell.state_factor, cell.gate_rows
    dirs = 2 if q.bidirectional else 1
    ld, t, n, d = q.num_layers * dirs, q.seq_len, q.hidden_size, q.input_size
    s = g * n
    value = network_cost(q.cell, q.num_layers, dirs, t, n, d)
    size = f"{g}*hidden_size" if g > 1 else "hidden_size"
    return Cost(
        float(value),
        f"num_layers*directions*seq_len*NET_STEP + num_layers*directions*seq_len^2*{size}*"
        f"(({size} + directions*hidden_size)*input_size + {rows}*hidden_size) + "
        "directions*seq_len^2*NET_NORM",
        f"{ld}*{t}*{NET_STEP} + {ld}*{t}^2*{s}*(({s} + {dirs}*{n})*{d} + {rows}*{n}) + "
        f"{dirs}*{t}^2*{NET_NORM}",
        ("seq_len", "hidden_size", "num_layers", "input_size"),
    )


def network_cost(cell: str, num_layers: int, dirs: int, t: int, n: int, d: int) -> float:
    """/network's cost (the formula above) of a network of these sizes."""
    c = get_cell(cell)
    ld, s = num_layers * dirs, c.state_factor * n
    return float(
        ld * t * NET_STEP + ld * t**2 * s * ((s + dirs * n) * d + c.gate_rows * n)
        + dirs * t**2 * NET_NORM
    )  # fmt: skip


def model_exact_cost(config) -> float:
    """A user's model analysed exactly (engine.model_analysis, mode "exact"): /network's maps
    and every (layer, direction)'s running Jacobian product, T products of the state size S
    (about 2 S^3 multiply-adds a step with its norms)."""
    s = get_cell(config.cell).state_factor * config.hidden_size
    dirs = config.directions
    maps = network_cost(
        config.cell, config.num_layers, dirs, config.seq_len, config.hidden_size,
        config.input_size,
    )  # fmt: skip
    return maps + config.num_layers * dirs * config.seq_len * 2.0 * s**3


class OverBudget(Exception):
    """A request whose estimated cost exceeds the budget: a 422 naming it."""

    def __init__(self, item: dict):
        super().__init__(item["message"])
        self.item = item


def check_budget(q: BaseModel, budget: float) -> Cost:
    """q's cost, noted as the current request's (server/estimates.py), or a 422 over budget."""
    cost = estimate(q)
    if cost.value > budget:
        raise OverBudget(cost.error(budget))
    estimates.note(type(q).__name__, cost.value)
    return cost


def affordable(q: BaseModel, problems: list[dict], budget: float):
    """A page's query within the budget: over it, the fields the cost grows with fall back to
    their defaults (all fields, if that is not enough) and the refusal joins the problems the
    page shows. Only when even the defaults are over the budget is the page refused."""
    cost = estimate(q)
    if cost.value <= budget:
        estimates.note(type(q).__name__, cost.value)
        return q, problems
    model = type(q)
    kept = q.model_dump(exclude=set(cost.fields))
    for fallback in (kept, {}):
        try:
            candidate = model.model_validate(fallback)
        except ValueError:  # a cross-field check that held with the old values
            continue
        value = estimate(candidate).value
        if value <= budget:
            estimates.note(model.__name__, value)
            return candidate, [*problems, cost.error(budget)]
    raise OverBudget(cost.error(budget))


class Busy(Exception):
    """Every computing slot taken and the queue full: a 503 with Retry-After."""

    def __init__(self, limiter: Limiter):
        self.limit = {"max_concurrent": limiter.max_concurrent, "max_queue": limiter.max_queue}
        super().__init__(
            f"the server is busy: {limiter.max_concurrent} computations are running and "
            f"{limiter.max_queue} waiting; retry after {RETRY_AFTER} s"
        )


class Limiter:
    """At most ``max_concurrent`` holders of a slot at once, at most ``max_queue`` waiting.

    ``slot()`` is re-entrant in a thread: a computation that needs another (a response body
    that needs a result) holds one slot, not two; it yields True to the outermost holder.
    A request whose client has gone (``cancel.client_gone``) is refused with ``ClientGone``
    before it queues, while it waits (it leaves the queue within ``GONE_POLL``) and when it
    gets its slot, before it computes. ``started`` counts the slots given to computations,
    ``skipped_gone`` the requests refused so.
    """

    def __init__(self, max_concurrent: int, max_queue: int):
        self.max_concurrent, self.max_queue = max_concurrent, max_queue
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._lock = threading.Lock()
        self._admitted = 0  # running + waiting
        self._held = threading.local()
        self.started = 0
        self.skipped_gone = 0

    @property
    def admitted(self) -> int:
        return self._admitted

    def _skip_if_gone(self) -> None:
        if client_gone():
            with self._lock:
                self.skipped_gone += 1
            raise ClientGone

    @contextmanager
    def slot(self) -> Iterator[bool]:
        if getattr(self._held, "depth", 0):
            self._held.depth += 1
            try:
                yield False
            finally:
                self._held.depth -= 1
            return
        self._skip_if_gone()
        with self._lock:
            if self._admitted >= self.max_concurrent + self.max_queue:
                raise Busy(self)
            self._admitted += 1
        try:
            # waiting, a request looks at its client now and then: gone, it leaves the queue
            while not self._slots.acquire(timeout=GONE_POLL):
                self._skip_if_gone()
            try:
                self._skip_if_gone()  # gone just as its turn came: the slot goes to the next
                with self._lock:
                    self.started += 1
                self._held.depth = 1
                try:
                    yield True
                finally:
                    self._held.depth = 0
            finally:
                self._slots.release()
        finally:
            with self._lock:
                self._admitted -= 1


async def _over_budget(request: Request, exc: OverBudget) -> JSONResponse:
    return error_response(422, [exc.item])


async def _busy(request: Request, exc: Busy) -> JSONResponse:
    item = error_item("request", str(exc), "busy", exc.limit)
    return error_response(503, [item], headers={"Retry-After": str(RETRY_AFTER)})


async def _client_gone(request: Request, exc: ClientGone) -> JSONResponse:
    # nobody reads it: the status nginx logs for a client that closed the connection
    return error_response(CLIENT_CLOSED, [error_item("request", str(exc), "client_gone", {})])


def install(app: FastAPI) -> None:
    app.add_exception_handler(OverBudget, _over_budget)
    app.add_exception_handler(Busy, _busy)
    app.add_exception_handler(ClientGone, _client_gone)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Enough worker threads for every computation and every waiting one, and more: so the
    computing queue, not the thread pool, decides who waits (and who gets a 503)."""
    s = app.state.settings
    # A computing thread holds the GIL for up to one switch interval before the event loop
    # (health, cached answers) gets it back; 1 ms instead of Python's 5 keeps the health
    # check's p99 well under 50 ms while four maximum-size requests run.
    sys.setswitchinterval(SWITCH_INTERVAL)
    threads = anyio.to_thread.current_default_thread_limiter()
    threads.total_tokens = max(threads.total_tokens, s.max_concurrent + s.max_queue + LIGHT_THREADS)
    try:
        yield
    finally:
        # training jobs' and model analyses' worker processes, if any ran
        for name in ("jobs", "analyses"):
            jobs = getattr(app.state, name, None)
            if jobs is not None:
                jobs.close()
