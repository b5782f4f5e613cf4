"""The exploding-gradient cliff of Pascanu, Mikolov and Bengio (2013), Fig. 6.

A single recurrent unit with a scalar weight w and bias b,

    x_t = w * phi(x_{t-1}) + b,   t = 1..T,   x_0 = 0.5,
    E(w, b) = (phi(x_T) - 0.7)^2,

with phi = sigmoid (tanh is offered too). For w large enough the map x -> w phi(x) + b
has two stable fixed points; as b crosses the value where x_0 changes basin, x_T jumps
from one to the other and E has a near-vertical wall. On the wall the gradient is huge
(it is a product of T factors w phi'(x_t), which is large near the basin boundary) and an
unclipped gradient step is thrown far away; clipping the norm bounds the step.

Derivatives are exact, by forward mode through the scalar recurrence,

    d_t = (dx_t/dw, dx_t/db) = (phi(x_{t-1}), 1) + w phi'(x_{t-1}) d_{t-1},   d_0 = 0,
    grad E = 2 (phi(x_T) - target) phi'(x_T) d_T,

carried as a mantissa (max |entry| = 1) and a log10 scale, with phi' taken from its
logarithm, so a gradient of 10^500 away from the grid is still exact. On the surface grid
the plain gradients are finite by construction: CliffConfig refuses a grid whose worst
case, sqrt(2) 2 (1 + |target|) gamma T max(1, gamma max|w|)^(T-1), exceeds 10^300.

Everything is vectorised over the grid: the only Python loop runs over time.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .clipping import CLIP_MODES, clip_gradients
from .logdomain import ScaledTensors
from .nonlinearity import get_nonlinearity

CLIFF_NONLINEARITIES = ("sigmoid", "tanh")  # bounded, so x_t and E stay finite
LOG10_GRAD_MAX = 300.0  # the surface's worst-case gradient must stay below 10**this
LOG10_ZERO = -400.0  # log10 of an exactly zero gradient (below every float64 > 0)
DIVERGE_ABOVE = 1e6  # a descent whose |w| or |b| exceeds this has diverged
# How a descent's outcome is measured (DescentOutcome): over its last TAIL iterates, not the
# last one alone; a step is a throw when it is longer than THROW_FACTOR times the median of
# the (up to) THROW_WINDOW steps before it and longer than any clipped step can be; a run
# has stalled when its last TAIL steps add up to less than STALL_DISTANCE, and a stalled run
# whose median loss is above PLATEAU_LOSS (the minimum of E is 0) sits on a plateau.
TAIL = 20
THROW_FACTOR = 10.0
THROW_WINDOW = 5
STALL_DISTANCE = 1e-3
PLATEAU_LOSS = 0.01
_LN10 = float(np.log(10.0))


@dataclass(frozen=True)
class CliffConfig:
    """The model and the (w, b) grid of the surface: ``resolution`` points per axis,
    w in [w_min, w_max], b in [b_min, b_max]. Choices and finiteness are validated here;
    sizes (seq_len, resolution) are bounded by callers.

    The defaults show the wall as a diagonal from about (w, b) = (4.3, -2.2) to
    (10, -5.7); at w = 5 it sits at b ~ -2.6, where ||grad E|| reaches about 250 against
    0.01 to 0.1 off the wall. Pascanu et al. used T = 50 (peak about 7000), where the wall is
    so thin that whether a descent lands on it is more a matter of luck. The b axis reaches
    up to 7 so that the plateau (E near 0.09) an unclipped step is thrown onto is in view.
    """

    seq_len: int = 30
    w_min: float = 1.0
    w_max: float = 10.0
    b_min: float = -7.0
    b_max: float = 7.0
    resolution: int = 121
    nonlinearity: str = "sigmoid"
    x0: float = 0.5
    target: float = 0.7

    def __post_init__(self) -> None:
        if self.nonlinearity not in CLIFF_NONLINEARITIES:
            raise ValueError(f"nonlinearity must be one of {list(CLIFF_NONLINEARITIES)}")
        if self.seq_len < 1:
            raise ValueError("seq_len must be >= 1")
        if self.resolution < 2:
            raise ValueError("resolution must be >= 2")
        for name in ("w_min", "w_max", "b_min", "b_max", "x0", "target"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number")
        if not (self.w_min < self.w_max and self.b_min < self.b_max):
            raise ValueError("w_min < w_max and b_min < b_max are required")
        if self.log10_gradient_bound() > LOG10_GRAD_MAX:
            raise ValueError(
                f"seq_len={self.seq_len} with |w| up to {max(abs(self.w_min), abs(self.w_max))} "
                f"may give gradients beyond 1e{LOG10_GRAD_MAX:.0f}; shorten seq_len or narrow w"
            )

    def log10_gradient_bound(self) -> float:
        """log10 of an upper bound on ||grad E|| over the grid:
        |d_T| <= T max(1, a)^(T-1) per coordinate with a = gamma max|w| (|phi| <= 1),
        |dE/dx_T| <= 2 (1 + |target|) gamma."""
        gamma = get_nonlinearity(self.nonlinearity).gamma
        a = gamma * max(abs(self.w_min), abs(self.w_max))
        return float(
            np.log10(np.sqrt(2.0) * 2.0 * (1.0 + abs(self.target)) * gamma * self.seq_len)
            + (self.seq_len - 1) * np.log10(max(1.0, a))
        )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class CliffPoint:
    """E and its gradient at points of any shape S.

    loss : S   grad_mantissa : S + (2,) (dE/dw, dE/db) / 10**log10_scale, max |entry| 1
    log10_scale : S   log10_grad_norm : S, log10 ||grad E|| (LOG10_ZERO where it is 0)
    """

    loss: np.ndarray
    grad_mantissa: np.ndarray
    log10_scale: np.ndarray
    log10_grad_norm: np.ndarray


def cliff_loss_and_gradient(w, b, config: CliffConfig) -> CliffPoint:
    """E(w, b) and grad E for arrays w, b that broadcast together (any shape S).

    Only config's seq_len, nonlinearity, x0 and target are used; w and b may lie anywhere
    (finite). One pass over t = 1..T, vectorised over the points.
    """
    phi = get_nonlinearity(config.nonlinearity)
    w, b = np.broadcast_arrays(np.asarray(w, dtype=float), np.asarray(b, dtype=float))
    shape = w.shape
    with np.errstate(divide="ignore"):
        log10_w = np.log10(np.abs(w))  # -inf at w = 0: that step's product term is 0
    sign_w = np.sign(w)[..., None]
    x = np.full(shape, float(config.x0))
    m = np.zeros(shape + (2,))  # d_t = m * 10**s, max |m| = 1 (or m = 0, s = -inf)
    s = np.full(shape, -np.inf)
    u = np.empty(shape + (2,))
    u[..., 1] = 1.0
    for _ in range(config.seq_len):
        p = phi.forward(x)
        u[..., 0] = p  # |phi| <= 1: the driving term (phi, 1) has max |entry| 1
        sa = log10_w + phi.log_derivative(x) / _LN10 + s  # log10 |w phi'(x)| max|d|
        top = np.maximum(sa, 0.0)
        m = u * (10.0**-top)[..., None] + sign_w * (10.0 ** (sa - top))[..., None] * m
        size = np.max(np.abs(m), axis=-1)
        zero = size == 0.0
        safe = np.where(zero, 1.0, size)
        m = m / safe[..., None]
        with np.errstate(divide="ignore"):
            s = np.where(zero, -np.inf, top + np.log10(safe))
        x = w * p + b
    y = phi.forward(x)
    err = y - config.target
    loss = err * err
    with np.errstate(divide="ignore"):
        log10_e = np.log10(2.0 * np.abs(err)) + phi.log_derivative(x) / _LN10
        scale = log10_e + s
        log10_norm = scale + np.log10(np.linalg.norm(m, axis=-1))
    zero = ~np.isfinite(log10_norm)  # err = 0, or d_T = 0
    mantissa = np.where(zero[..., None], 0.0, np.sign(err)[..., None] * m)
    return CliffPoint(
        loss=loss,
        grad_mantissa=mantissa,
        log10_scale=np.where(zero, 0.0, scale),
        log10_grad_norm=np.where(zero, LOG10_ZERO, log10_norm),
    )


@dataclass(frozen=True)
class CliffSurface:
    """E over the grid. w : (R,) columns, b : (R,) rows.

    loss : (R, R) E at (w[j], b[i]) in row i, column j
    log10_grad_norm : (R, R) log10 ||(dE/dw, dE/db)||_2 (LOG10_ZERO where it is exactly 0)
    grad_w, grad_b : (R, R) dE/dw, dE/db, finite (see CliffConfig's bound)
    """

    config: CliffConfig
    w: np.ndarray
    b: np.ndarray
    loss: np.ndarray
    log10_grad_norm: np.ndarray
    grad_w: np.ndarray
    grad_b: np.ndarray

    @property
    def loss_range(self) -> tuple[float, float]:
        """(min, max) of E over the grid."""
        return float(self.loss.min()), float(self.loss.max())

    @property
    def gradient_peak(self) -> tuple[int, int]:
        """(row i, column j) of the largest nonzero log10 ||grad E|| (the first, in row-major
        order; (0, 0) when the gradient is zero everywhere)."""
        g = self.log10_grad_norm
        top = np.unravel_index(int(np.argmax(np.where(g > LOG10_ZERO, g, -np.inf))), g.shape)
        return int(top[0]), int(top[1])

    @property
    def median_log10_grad_norm(self) -> float | None:
        """The median of log10 ||grad E|| over the grid points where it is nonzero (None if
        there are none)."""
        g = self.log10_grad_norm
        nonzero = g > LOG10_ZERO
        return float(np.median(g[nonzero])) if nonzero.any() else None


def cliff_surface(config: CliffConfig) -> CliffSurface:
    """E and its gradient on the config's (w, b) grid."""
    w = np.linspace(config.w_min, config.w_max, config.resolution)
    b = np.linspace(config.b_min, config.b_max, config.resolution)
    pt = cliff_loss_and_gradient(w[None, :], b[:, None], config)
    grad = pt.grad_mantissa * (10.0**pt.log10_scale)[..., None]  # < 1e300 by the bound
    return CliffSurface(
        config=config,
        w=w,
        b=b,
        loss=pt.loss,
        log10_grad_norm=pt.log10_grad_norm,
        grad_w=grad[..., 0],
        grad_b=grad[..., 1],
    )


@dataclass(frozen=True)
class DescentPath:
    """One gradient-descent run of k steps (k = steps unless it diverged).

    mode : ``none``, ``norm`` (clip_grad_norm_) or ``value`` (clip_grad_value_)
    points : (k + 1, 2) the iterates (w, b), starting point first
    loss : (k + 1,) E at each iterate
    log10_grad_norm : (k + 1,) log10 ||grad E|| (unclipped) at each iterate
    step_length : (k,) ||p_{i+1} - p_i||_2 = learning_rate * ||clipped gradient at p_i||
    diverged_at : None, or the index k of the first iterate p_k that would have been
        non-finite or had |w| or |b| > DIVERGE_ABOVE; the path stops at p_{k-1}.
    """

    mode: str
    points: np.ndarray
    loss: np.ndarray
    log10_grad_norm: np.ndarray
    step_length: np.ndarray
    diverged_at: int | None

    @property
    def longest_step(self) -> float:
        """max ||p_{i+1} - p_i||, 0 when no step was taken."""
        return float(self.step_length.max()) if self.step_length.size else 0.0


@dataclass(frozen=True)
class CliffDescent:
    """The same start, learning rate and threshold, three ways: paths keyed by clip mode
    (``none``, ``norm``, ``value``)."""

    start: tuple[float, float]
    learning_rate: float
    steps: int
    clip_threshold: float
    paths: dict[str, DescentPath]

    @property
    def step_bound(self) -> float:
        """learning_rate x clip_threshold: no step clipped by norm is longer."""
        return self.learning_rate * self.clip_threshold

    @property
    def clipped_step_max(self) -> float:
        """sqrt(2) x learning_rate x clip_threshold: no clipped step is longer (clipping by
        value clamps each of the two coordinates to [-c, c]; by norm the bound is step_bound).
        """
        return float(np.sqrt(2.0)) * self.step_bound

    @property
    def clip_point(self) -> tuple[float, float]:
        """Where clipping is worth looking at: the iterate the unclipped run was thrown from
        (see first_throw), or the start when it was not thrown."""
        k = self.outcomes["none"].thrown_at
        if k is None:
            return self.start
        w, b = self.paths["none"].points[k - 1]
        return (float(w), float(b))

    @property
    def outcomes(self) -> dict[str, DescentOutcome]:
        """Each path's outcome (see DescentOutcome), throws judged against clipped_step_max,
        so that neither clipped run can ever be thrown."""
        return {mode: descent_outcome(p, self.clipped_step_max) for mode, p in self.paths.items()}


def first_throw(step_length: np.ndarray, step_bound: float) -> int | None:
    """The first step k (1-based: step k goes from iterate k-1 to iterate k) that is a throw:
    longer than THROW_FACTOR x the median of the up to THROW_WINDOW steps before it, and
    longer than step_bound (CliffDescent passes clipped_step_max, the longest step either
    clipping allows). Step 1 has no step before it and is never a throw. None if no step is
    one.

    step_length : (k,)
    """
    for i in range(1, step_length.size):
        typical = float(np.median(step_length[max(0, i - THROW_WINDOW) : i]))
        length = float(step_length[i])
        if length > THROW_FACTOR * typical and length > step_bound:
            return i + 1
    return None


@dataclass(frozen=True)
class DescentOutcome:
    """What a descent did, by measures that do not hang on where an oscillation stopped.

    tail : the iterates measured, min(TAIL, k + 1): the last ``tail`` of the path
    median_loss, best_loss : the median and the minimum of E over those iterates
    thrown_at : the first throw (first_throw), None if there is none
    throw_length : that step's length; throw_ratio : its length over the median of the
        steps before it (inf if they were all 0); landing : (w, b) where it landed
    moved : the summed length of the last tail - 1 steps
    stalled : moved < STALL_DISTANCE (with at least one step taken)
    plateau : stalled with median_loss > PLATEAU_LOSS
    diverged_at : the path's diverged_at
    """

    tail: int
    median_loss: float
    best_loss: float
    thrown_at: int | None
    throw_length: float | None
    throw_ratio: float | None
    landing: tuple[float, float] | None
    moved: float
    stalled: bool
    plateau: bool
    diverged_at: int | None


def descent_outcome(path: DescentPath, step_bound: float) -> DescentOutcome:
    """The outcome of one path, throws judged against step_bound (see first_throw)."""
    tail = min(TAIL, path.loss.size)
    last = path.loss[-tail:]
    median = float(np.median(last))
    steps = path.step_length[-(tail - 1) :] if tail > 1 else path.step_length[:0]
    moved = float(steps.sum())
    stalled = bool(steps.size) and moved < STALL_DISTANCE
    k = first_throw(path.step_length, step_bound)
    length = ratio = landing = None
    if k is not None:
        length = float(path.step_length[k - 1])
        typical = float(np.median(path.step_length[max(0, k - 1 - THROW_WINDOW) : k - 1]))
        ratio = length / typical if typical > 0 else float("inf")
        landing = (float(path.points[k, 0]), float(path.points[k, 1]))
    return DescentOutcome(
        tail=tail,
        median_loss=median,
        best_loss=float(last.min()),
        thrown_at=k,
        throw_length=length,
        throw_ratio=ratio,
        landing=landing,
        moved=moved,
        stalled=stalled,
        plateau=stalled and median > PLATEAU_LOSS,
        diverged_at=path.diverged_at,
    )


def _step(pt: CliffPoint, mode: str, lr: float, threshold: float) -> np.ndarray | None:
    """The update -lr * clip(grad) at one point : (2,), None if it is too large to keep."""
    m, scale = pt.grad_mantissa, float(pt.log10_scale)
    if mode == "none":
        with np.errstate(divide="ignore"):
            log10_step = np.log10(lr) + scale + np.log10(np.abs(m))
        if np.any(log10_step > np.log10(2.0 * DIVERGE_ABOVE)):  # lands beyond the box
            return None
        return -lr * m * 10.0**scale
    clip = clip_gradients(ScaledTensors({"w": m[:1], "b": m[1:]}, scale), mode, threshold)
    return -lr * np.concatenate([clip.clipped["w"], clip.clipped["b"]])


def _descend_one(config, start, lr, steps, threshold, mode) -> DescentPath:
    p = np.array(start, dtype=float)
    pt = cliff_loss_and_gradient(p[0], p[1], config)
    points, losses, norms, lengths = [p], [float(pt.loss)], [float(pt.log10_grad_norm)], []
    diverged = None
    for k in range(1, steps + 1):
        delta = _step(pt, mode, lr, threshold)
        if delta is None:
            diverged = k
            break
        q = p + delta
        if not np.all(np.isfinite(q)) or np.any(np.abs(q) > DIVERGE_ABOVE):
            diverged = k
            break
        p = q
        pt = cliff_loss_and_gradient(p[0], p[1], config)
        points.append(p)
        losses.append(float(pt.loss))
        norms.append(float(pt.log10_grad_norm))
        lengths.append(float(np.linalg.norm(delta)))
    return DescentPath(
        mode=mode,
        points=np.array(points),
        loss=np.array(losses),
        log10_grad_norm=np.array(norms),
        step_length=np.array(lengths),
        diverged_at=diverged,
    )


def descend(
    config: CliffConfig,
    start: tuple[float, float] = (5.0, -3.0),
    learning_rate: float = 0.5,
    steps: int = 200,
    clip_threshold: float = 1.0,
) -> CliffDescent:
    """Plain gradient descent p <- p - learning_rate * clip(grad E(p)) from ``start`` = (w, b)
    for ``steps`` steps, unclipped, with clip-by-norm (PyTorch's coef = min(1, c/(||g|| +
    1e-6))) and with clip-by-value (each coordinate clamped to [-c, c]), c = clip_threshold.
    The clipping is engine.clipping's. A run stops where it diverges (see DescentPath), so
    every returned number is finite.
    """
    start = (float(start[0]), float(start[1]))
    if not all(np.isfinite(start)) or max(abs(start[0]), abs(start[1])) > DIVERGE_ABOVE:
        raise ValueError(f"start must be finite with |w|, |b| <= {DIVERGE_ABOVE:g}")
    if not (learning_rate > 0 and np.isfinite(learning_rate)):
        raise ValueError("learning_rate must be a finite number > 0")
    if not (clip_threshold > 0 and np.isfinite(clip_threshold)):
        raise ValueError("clip_threshold must be a finite number > 0")
    if steps < 0:
        raise ValueError("steps must be >= 0")
    paths = {
        mode: _descend_one(config, start, learning_rate, steps, clip_threshold, mode)
        for mode in CLIP_MODES
    }
    return CliffDescent(start, float(learning_rate), int(steps), float(clip_threshold), paths)


@dataclass(frozen=True)
class ClipGeometry:
    """The gradient at one point and what each clipping mode makes of it.

    gradient : (2,) (dE/dw, dE/db) as a mantissa, times 10**log10_scale
    clipped : mode -> (2,) the clipped gradient (finite plain floats), for ``norm`` and ``value``
    results : mode -> engine.clipping.ClipResult (norms before and after, cosine)
    """

    point: tuple[float, float]
    gradient: np.ndarray
    log10_scale: float
    clipped: dict[str, np.ndarray]
    results: dict

    @property
    def gradient_norm(self) -> float:
        """||grad E|| as a plain float (0 when it is below 1e-300)."""
        log10_norm = self.results["norm"].log10_norm_before
        return 10.0**log10_norm if log10_norm > -300 else 0.0

    @property
    def direction(self) -> np.ndarray:
        """(2,) grad E / ||grad E|| (the zero vector for a zero gradient)."""
        norm = float(np.linalg.norm(self.gradient))
        return self.gradient / norm if norm > 0 else self.gradient


def clip_geometry(config: CliffConfig, point: tuple[float, float], threshold: float):
    """Clip grad E at ``point`` = (w, b) by norm and by value (PyTorch's semantics)."""
    pt = cliff_loss_and_gradient(point[0], point[1], config)
    m, scale = pt.grad_mantissa, float(pt.log10_scale)
    results = {
        mode: clip_gradients(ScaledTensors({"w": m[:1], "b": m[1:]}, scale), mode, threshold)
        for mode in ("norm", "value")
    }
    clipped = {
        mode: np.concatenate([r.clipped["w"], r.clipped["b"]]) for mode, r in results.items()
    }
    return ClipGeometry((float(point[0]), float(point[1])), m, scale, clipped, results)
