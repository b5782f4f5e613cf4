"""Everything /network shows of one network, in one result: the forward and backward passes
(engine.network), the influence map per direction (engine.influence), the double sum's terms
(engine.terms), the union of the two
directions' maps for the concatenated output, and the summary numbers the captions state.

The union. In a bidirectional network the output y_t = [y_t^fwd; y_t^bwd] stacks the two
halves, so dy_t/dx_k = [J^fwd; J^bwd] stacks their Jacobians. The union map is

    log10 sqrt(||J^fwd||_2^2 + ||J^bwd||_2^2)

computed from the two spectral norms (in the log domain). It is NOT the spectral norm of the
stacked Jacobian: it lies between that norm and sqrt(2) times it (max(a, b) <= ||[A; B]||_2
<= sqrt(a^2 + b^2) <= sqrt(2) max(a, b)), so it is within log10 sqrt(2) = 0.15 decades above
it; it is exactly zero (-inf) where both halves are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .influence import influence_map
from .network import DIRECTION_NAMES, NetworkConfig, NetworkProblem, NetworkResult, network
from .terms import terms_map

UNION_SLACK = 0.5 * float(np.log10(2.0))  # the union's largest excess over the spectral norm


def union_map(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log10 sqrt(10^(2a) + 10^(2b)) elementwise, for log10 norms a, b (-inf: zero)."""
    top = np.maximum(a, b)
    safe = np.where(top > -np.inf, top, 0.0)
    with np.errstate(under="ignore"):
        s = 10.0 ** (2 * (a - safe)) + 10.0 ** (2 * (b - safe))
    return np.where(top > -np.inf, safe + 0.5 * np.log10(np.where(top > -np.inf, s, 1.0)), -np.inf)


def _finite_mean(row: np.ndarray) -> float | None:
    live = row[np.isfinite(row)]
    return float(np.mean(live)) if live.size else None


@dataclass(frozen=True)
class LayerMeans:
    """One direction's layer-time map in three numbers: the mean over t of log10 ||dL/dh_t||
    at the top layer and at layer 1 (over the steps where it is not zero; None if it is
    everywhere) and their difference, the decades lost going down the stack."""

    top_mean: float | None
    bottom_mean: float | None
    layer_drop: float | None


def layer_means(layer_time: np.ndarray) -> LayerMeans:
    """LayerMeans of one direction's (L, T) map of log10 ||dL/dh_t||."""
    top, bottom = _finite_mean(layer_time[-1]), _finite_mean(layer_time[0])
    return LayerMeans(top, bottom, None if top is None or bottom is None else top - bottom)


@dataclass(frozen=True)
class DirectionSummary:
    """One direction's numbers, as the captions state them.

    top_mean, bottom_mean : the mean over t of log10 ||dL/dh_t|| at the top layer and at the
        bottom one (layer 1), over the steps where it is not zero (None if it is everywhere)
    layer_drop : top_mean - bottom_mean, the decades lost going down the stack
    ahead_nonzero : how many entries (t, k) the direction's own pass has not read at t
        (k > t forward, k < t backward) are nonzero in its influence map; ahead_total : how
        many such entries there are, T (T - 1) / 2. A one-layer direction sees none of them.
    reach : log10 ||dy/dx|| from the step the direction ends at to the input it reads first,
        minus the same at distance 0: forward row T, column 1 minus column T; backward row 1,
        column T minus column 1 (None when either is exactly zero)
    """

    top_mean: float | None
    bottom_mean: float | None
    layer_drop: float | None
    ahead_nonzero: int
    ahead_total: int
    reach: float | None


@dataclass(frozen=True)
class NetworkMaps:
    """result : NetworkResult; influence : {direction: (T, T)} log10 ||dy_t^d/dx_k||_2;
    union : (T, T) (see the module) or None for one direction; terms : {direction: (T, T)}
    log10 ||term(t, k)||_F of the first layer's dL/dW_hh (engine.terms);
    directions : {direction: DirectionSummary}."""

    result: NetworkResult
    influence: dict[str, np.ndarray]
    union: np.ndarray | None
    terms: dict[str, np.ndarray]
    directions: dict[str, DirectionSummary]

    @property
    def config(self) -> NetworkConfig:
        return self.result.config


def _ahead(name: str, t_len: int) -> np.ndarray:
    """The (t, k) entries a direction's own pass has not read at t: k > t forward, k < t
    backward."""
    t, k = np.indices((t_len, t_len))
    return k > t if name == "forward" else k < t


def summarize(
    config: NetworkConfig, layer_time: dict[str, np.ndarray], influence: dict[str, np.ndarray]
) -> dict[str, DirectionSummary]:
    t_len = config.seq_len
    out = {}
    for name, m in influence.items():
        means = layer_means(layer_time[name])
        ahead = _ahead(name, t_len)
        live = int(np.sum(np.isfinite(m) & ahead))
        row, first, last = (t_len - 1, 0, t_len - 1) if name == "forward" else (0, t_len - 1, 0)
        far, near = m[row, first], m[row, last]
        reach = float(far - near) if np.isfinite(far) and np.isfinite(near) else None
        total = t_len * (t_len - 1) // 2
        out[name] = DirectionSummary(
            means.top_mean, means.bottom_mean, means.layer_drop, live, total, reach
        )
    return out


def network_maps(
    config: NetworkConfig, problem: NetworkProblem | None = None, *,
    stage: Callable[[str, float], None] | None = None,
) -> NetworkMaps:  # fmt: skip
    """The network's passes, its influence maps (and their union when bidirectional) and the
    summary, for ``problem`` (drawn from the seed when None). stage(name, fraction) reports
    progress through "passes", "influence" and "terms" (fraction: of that stage's work done;
    it may raise to stop)."""
    stage = stage or (lambda name, fraction: None)
    stage("passes", 0.0)
    result = network(config, problem)

    def part(name: str) -> Callable[[int, int], None]:
        return lambda done, total: stage(name, done / total)

    influence = influence_map(config, result.problem.weights, result.trace, part("influence"))
    union = None
    if config.bidirectional:
        union = union_map(*(influence[name] for name in DIRECTION_NAMES))
    directions = summarize(config, result.gradient.layer_time, influence)
    p = result.problem
    terms = terms_map(config, p.weights, result.trace, p.targets, part("terms"))
    return NetworkMaps(result, influence, union, terms, directions)
