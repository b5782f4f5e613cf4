"""How long a computation will take, from its cost estimate (server/limits.py), before it runs.

``seconds = (OVERHEAD + cost * RATE[kind]) * factor[kind]``: ``RATE`` is the seconds per cost
unit of each kind of query (its query model) measured on the benchmark machine (AMD EPYC,
2 cores, one BLAS thread per computation, 2026-12-05) at sizes where the matrix products
are the work: 0.07 to 0.08 ns per unit for the gradient flow, /compare and /eigen at
n = 128 to 256, 0.12 for the cliff. ``factor`` starts at 1 and follows what this process
measures (``Timings.record``: the seconds a computation held its slot over the seconds
predicted without the factor) as an exponentially weighted moving average, so the estimate
follows the machine it runs on and how busy it is. Computations predicted to take under
``MIN_SECONDS`` are not recorded: their time is mostly per-request overhead, and the estimate
only matters (the page shows it) past a second.

The cost of the current request is noted where it is estimated, once per request
(limits.check_budget, limits.affordable), in a ContextVar that the computing slot reads.
"""

from __future__ import annotations

import threading
from contextvars import ContextVar

RATE = {  # seconds per cost unit
    "GradientFlowQuery": 0.075e-9,
    "CompareQuery": 0.08e-9,
    "EigenQuery": 0.085e-9,
    "CliffQuery": 0.12e-9,
    "DepthQuery": 0.1e-9,  # 2026-12-05: 6.7 s plain, 17 s highway at depth 200, width 512
    # /network (its own cost model, limits.py), measured with benchmarks/network_cost.py:
    # 0.097 to 0.196 ns per unit over 14 sizes, median 0.135, at load average 1 (0.22 to
    # 0.5 at load average 5, the machine shared)
    "NetworkQuery": 0.135e-9,
}
DEFAULT_RATE = 0.1e-9
OVERHEAD = 0.01  # seconds: validation, figures, JSON, gzip of a small answer
MIN_SECONDS = 0.2  # computations predicted shorter than this do not move the factor
ALPHA = 0.3  # weight of the newest measurement in the moving average
FACTOR_RANGE = (0.25, 10.0)  # how far measurements may move the estimate from RATE

_cost: ContextVar[tuple[str, float] | None] = ContextVar("bpttlab_request_cost", default=None)


def note(kind: str, cost: float) -> None:
    """The current request's kind (its query model's name) and estimated cost."""
    _cost.set((kind, cost))


def noted() -> tuple[str, float] | None:
    return _cost.get()


def predicted(kind: str, cost: float) -> float:
    """Seconds the machine the rates were measured on takes, without correction."""
    return OVERHEAD + cost * RATE.get(kind, DEFAULT_RATE)


class Timings:
    """Per kind of query, the moving average of measured over predicted seconds."""

    def __init__(self) -> None:
        self._factor: dict[str, float] = {}
        self._lock = threading.Lock()
        self.recorded = 0

    def factor(self, kind: str) -> float:
        return self._factor.get(kind, 1.0)

    def seconds(self, kind: str, cost: float) -> float:
        """The expected seconds of a computation of this kind and cost."""
        return predicted(kind, cost) * self.factor(kind)

    def record(self, kind: str, cost: float, seconds: float) -> None:
        """A computation of this kind and cost took seconds (in its slot)."""
        expected = predicted(kind, cost)
        if expected < MIN_SECONDS or not seconds > 0:
            return
        low, high = FACTOR_RANGE
        with self._lock:
            ratio = min(max(seconds / expected, low), high)
            old = self._factor.get(kind, 1.0)
            self._factor[kind] = (1 - ALPHA) * old + ALPHA * ratio
            self.recorded += 1
