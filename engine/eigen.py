"""The linear case, where the proof is an eigen-decomposition.

With phi = identity the backward pass is g_l = dL/dh_{T-l} = (W^T)^l g_0. If
W^T = Q diag(lambda) Q^{-1} and c = Q^{-1} g_0, then

    g_l = sum_i c_i lambda_i^l q_i,

so component i grows or shrinks like |lambda_i|^l: every component with |lambda_i| < 1
vanishes, any with |lambda_i| > 1 explodes, and for large l the largest |lambda_i| (the
spectral radius rho) wins. For a normal W (orthogonal eigenvectors) ||g_l|| <= rho^l; a
non-normal W can grow for a while (transient growth) although rho < 1:
W = [[0.5, 10], [0, 0.5]] has rho = 0.5 but ||W|| > 10.

Everything is carried in log10 or scaled by rho^l, so rho = 3 at T = 1000 (10^477) is exact.

Pascanu et al.'s sufficient condition for vanishing, sigma_max(W) < 1/gamma with
gamma = sup |phi'|, and its mirror (sigma_max > 1/gamma is necessary, not sufficient, for
exploding) are given by ``pascanu_region``; ``derivative_curves`` draws phi' for the display.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .init import INITS, haar_orthogonal, init_recurrent
from .nonlinearity import NONLINEARITIES
from .spectrum import count_outside_unit_circle, pascanu_log10_bound

MATRICES = ("eigenvalues", *INITS)
REGIONS = ("vanishing guaranteed", "boundary", "exploding possible")
_LN10 = float(np.log(10.0))
_REAL_TOL = 1e-12  # an angle within this of 0 or pi (mod 2 pi) gives a real eigenvalue
DERIVATIVE_GRID = np.linspace(-6.0, 6.0, 241)  # the pre-activations phi' is drawn over
BOUNDARY_POINTS = 200  # points of the curve gamma = 1 / sigma_max


@dataclass(frozen=True)
class EigenConfig:
    """How W : (n, n) is made, and the backward run g_l = (W^T)^l g_0, l = 0..seq_len.

    matrix = ``eigenvalues``: W = V B V^T with V Haar orthogonal (from the seed) and B
        block diagonal, one block per (radius, angle) pair of ``radii`` and ``angles``:
        a 1x1 block r cos(angle) when the angle is 0 or pi (a real eigenvalue +-r), else
        the 2x2 rotation-scaling r [[cos, -sin], [sin, cos]] (the pair r e^{+-i angle}).
        So n = (number of real eigenvalues) + 2 (number of pairs); ``hidden_size`` is not
        used. W is normal, unless ``non_normal``: then ``coupling`` is added to B between
        consecutive blocks (row: last of block k, column: first of block k + 1), which
        keeps the eigenvalues (B stays block upper triangular) and makes W non-normal.
        radii (0.5, 0.5), angles (0, 0), coupling 10 gives V [[0.5, 10], [0, 0.5]] V^T.
    matrix in engine.init.INITS (gaussian, orthogonal, identity, pytorch): W is drawn as
        init_recurrent(matrix, hidden_size, scale, rng); ``non_normal`` is not available.
    g_0 is a unit vector, uniform on the sphere, from the seed.
    """

    matrix: str = "eigenvalues"
    radii: tuple[float, ...] = (1.05, 0.9, 0.6)
    angles: tuple[float, ...] = (0.0, 0.5, 2.0)
    non_normal: bool = False
    coupling: float = 1.0
    hidden_size: int = 8
    scale: float = 1.0
    seq_len: int = 50
    seed: int = 0

    def __post_init__(self) -> None:
        if self.matrix not in MATRICES:
            raise ValueError(f"matrix must be one of {list(MATRICES)}")
        if self.seq_len < 0:
            raise ValueError("seq_len must be >= 0")
        if self.matrix == "eigenvalues":
            if len(self.radii) == 0 or len(self.radii) != len(self.angles):
                raise ValueError("radii and angles must be non-empty and of the same length")
            if not all(np.isfinite(r) and r >= 0 for r in self.radii):
                raise ValueError("radii must be finite numbers >= 0")
            if not all(np.isfinite(a) for a in self.angles):
                raise ValueError("angles must be finite numbers")
            if not np.isfinite(self.coupling):
                raise ValueError("coupling must be a finite number")
        else:
            if self.non_normal:
                raise ValueError("non_normal needs matrix='eigenvalues'")
            if self.hidden_size < 1:
                raise ValueError("hidden_size must be >= 1")
            if not (self.scale >= 0 and np.isfinite(self.scale)):
                raise ValueError("scale must be a finite number >= 0")

    @property
    def size(self) -> int:
        """n: from the blocks for matrix=eigenvalues, else hidden_size."""
        if self.matrix != "eigenvalues":
            return self.hidden_size
        return sum(1 if _is_real(a) else 2 for a in self.angles)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


def _is_real(angle: float) -> bool:
    return abs(np.sin(angle)) < _REAL_TOL


def block_matrix(radii, angles, coupling: float = 0.0) -> np.ndarray:
    """B : (n, n), the real block-diagonal matrix with the given eigenvalues (see
    EigenConfig), plus ``coupling`` between consecutive blocks."""
    blocks = []
    for r, a in zip(radii, angles, strict=True):
        if _is_real(a):
            blocks.append(np.array([[r * np.sign(np.cos(a))]]))
        else:
            c, s = np.cos(a), np.sin(a)
            blocks.append(r * np.array([[c, -s], [s, c]]))
    n = sum(b.shape[0] for b in blocks)
    out = np.zeros((n, n))
    start = 0
    for k, b in enumerate(blocks):
        m = b.shape[0]
        out[start : start + m, start : start + m] = b
        if k + 1 < len(blocks):
            out[start + m - 1, start + m] = coupling
        start += m
    return out


def build_matrix(config: EigenConfig) -> tuple[np.ndarray, np.ndarray]:
    """(W : (n, n), g_0 : (n,)) from the config; W and g_0 use separate child streams."""
    w_rng, g_rng = np.random.default_rng(config.seed).spawn(2)
    n = config.size
    if config.matrix == "eigenvalues":
        coupling = config.coupling if config.non_normal else 0.0
        b = block_matrix(config.radii, config.angles, coupling)
        v = haar_orthogonal(n, w_rng)
        w = v @ b @ v.T
    else:
        w = init_recurrent(config.matrix, n, config.scale, w_rng)
    g0 = g_rng.standard_normal(n)
    return w, g0 / np.linalg.norm(g0)


@dataclass(frozen=True)
class EigenResult:
    """The backward run g_l = (W^T)^l g_0 and its eigen-expansion, l = 0..T.

    matrix : (n, n) W    g0 : (n,) unit vector    distance : (T + 1,) l
    eigenvalues : (n,) complex lambda_i of W^T (= those of W), by decreasing modulus
    eigenvectors : (n, n) complex, column i is q_i (unit norm, as numpy.linalg.eig)
    coefficients : (n,) complex c = Q^{-1} g_0
    log10_component : (T + 1, n) log10 |c_i lambda_i^l| ||q_i|| (-inf where exactly 0)
    log10_direct : (T + 1,) log10 ||g_l|| from the iteration g <- W^T g (renormalised)
    log10_expansion : (T + 1,) log10 ||sum_i c_i lambda_i^l q_i||, the sum scaled by rho^l
    relative_difference : (T + 1,) ||expansion_l - g_l|| / ||g_l|| (at most 1e300; 0 where
        both are 0); max_relative_difference its maximum: rounding for a well-conditioned
        Q, large for a (nearly) defective W, whose eigenvectors do not span
    log10_power_norm : (T + 1,) log10 ||(W^T)^l||_2 = log10 ||W^l||_2, the worst g_0
    eigenvector_condition : cond_2(Q), 1 for a normal W
    spectral_radius, sigma_max : of W
    transient_growth : ||g_l|| > ||g_0|| for some l while spectral_radius < 1
    peak_log10, peak_distance : max over l of log10 ||g_l|| / ||g_0||, and its first l
    """

    config: EigenConfig
    matrix: np.ndarray
    g0: np.ndarray
    distance: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    coefficients: np.ndarray
    log10_component: np.ndarray
    log10_direct: np.ndarray
    log10_expansion: np.ndarray
    relative_difference: np.ndarray
    max_relative_difference: float
    log10_power_norm: np.ndarray
    eigenvector_condition: float
    spectral_radius: float
    sigma_max: float
    transient_growth: bool
    peak_log10: float
    peak_distance: int

    @property
    def outside_unit_circle(self) -> int:
        """How many eigenvalues lie outside the unit circle (|lambda| > 1)."""
        return count_outside_unit_circle(self.eigenvalues)

    @property
    def log10_radius_power(self) -> np.ndarray:
        """(T + 1,) log10 rho^l = l log10 rho, what ||W^l|| follows for a normal W."""
        return pascanu_log10_bound(1.0, self.spectral_radius, int(self.distance[-1]))

    @property
    def power_norm_peak(self) -> tuple[int, float]:
        """(l, log10 ||W^l||) at the first l where ||W^l|| is largest."""
        l = int(np.argmax(self.log10_power_norm))
        return l, float(self.log10_power_norm[l])

    @property
    def power_ratio_range(self) -> tuple[float, float] | None:
        """(smallest, largest) log10 (||W^l|| / rho^l) over l = 0..T where both are nonzero;
        None when rho = 0. A normal W gives (0, 0) up to rounding: ||W^l|| = rho^l."""
        if self.spectral_radius == 0.0:
            return None
        with np.errstate(invalid="ignore"):
            ratio = self.log10_power_norm - self.log10_radius_power
        ratio = ratio[np.isfinite(ratio)]
        return (float(ratio.min()), float(ratio.max())) if ratio.size else None

    @property
    def regions(self) -> dict[str, tuple[float, str]]:
        """Per nonlinearity, (gamma, Pascanu's region) at this W's sigma_max."""
        return pascanu_regions(self.sigma_max)


def _direct(wt: np.ndarray, g0: np.ndarray, t_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit directions (T + 1, n) and log10 norms (T + 1,) of g_l = wt^l g0."""
    n = g0.size
    dirs = np.zeros((t_len + 1, n))
    logs = np.full(t_len + 1, -np.inf)
    size = np.linalg.norm(g0)
    if size == 0.0:
        return dirs, logs
    v, s = g0 / size, float(np.log10(size))
    dirs[0], logs[0] = v, s
    for l in range(1, t_len + 1):
        v = wt @ v
        size = np.linalg.norm(v)
        if size == 0.0:  # zero from here on
            break
        v, s = v / size, s + float(np.log10(size))
        dirs[l], logs[l] = v, s
    return dirs, logs


def _power_norms(wt: np.ndarray, t_len: int) -> np.ndarray:
    """log10 ||wt^l||_2 for l = 0..T, the running power renormalised by its largest entry."""
    n = wt.shape[0]
    mats = np.empty((t_len + 1, n, n))
    logs = np.zeros(t_len + 1)
    p, s = np.eye(n), 0.0
    mats[0] = p
    for l in range(1, t_len + 1):
        p = wt @ p
        top = float(np.max(np.abs(p)))
        if top == 0.0:
            mats[l:] = 0.0
            logs[l:] = 0.0
            break
        p, s = p / top, s + float(np.log10(top))
        mats[l], logs[l] = p, s
    norms = np.linalg.svd(mats, compute_uv=False)[:, 0]
    with np.errstate(divide="ignore"):
        return np.log10(norms) + logs


def eigen_expansion(config: EigenConfig) -> EigenResult:
    """Build W and g_0 from the config, then compare g_l = (W^T)^l g_0 computed directly
    with its eigen-expansion, component by component, in the log domain."""
    w, g0 = build_matrix(config)
    wt, t_len, n = w.T, config.seq_len, w.shape[0]
    lam, q = np.linalg.eig(wt)
    order = np.argsort(-np.abs(lam), kind="stable")
    lam, q = lam.astype(complex)[order], q.astype(complex)[:, order]
    c = np.linalg.lstsq(q, g0.astype(complex), rcond=None)[0]  # = Q^{-1} g0 for invertible Q
    distance = np.arange(t_len + 1)
    l = distance[:, None].astype(float)

    abs_lam = np.abs(lam)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_lam = np.log10(abs_lam)  # -inf for lambda = 0
        powers = np.where(l == 0, 0.0, l * log_lam)  # log10 |lambda_i|^l, 0^0 = 1
        log10_component = powers + np.log10(np.abs(c)) + np.log10(np.linalg.norm(q, axis=0))

    dirs, log10_direct = _direct(wt, g0, t_len)

    # expansion_l = rho^l sum_i c_i (lambda_i / rho)^l q_i, every ratio of modulus <= 1
    rho = float(abs_lam[0])
    if rho > 0:
        # (a zero eigenvalue divides rho by rho, not 1 by rho: 1/rho overflows for a tiny rho)
        ratio_log = np.where(abs_lam > 0, np.log(np.where(abs_lam > 0, abs_lam, rho) / rho), 0.0)
        mag = np.where(
            abs_lam > 0, np.exp(l * ratio_log), (l == 0).astype(float)
        )  # |lambda_i / rho|^l
        phase = np.exp(1j * l * np.angle(lam))
        scaled = (mag * phase * c) @ q.T  # (T + 1, n) complex: sum_i ... q_i
        log_rho = float(np.log10(rho))
    else:  # W = 0: g_l = 0 for l >= 1
        scaled = np.zeros((t_len + 1, n), dtype=complex)
        scaled[0] = q @ c
        log_rho = 0.0
    e = scaled.real  # the imaginary parts cancel (conjugate pairs) up to rounding
    e_norm = np.linalg.norm(e, axis=1)
    with np.errstate(divide="ignore"):
        log10_expansion = np.where(
            e_norm > 0, distance * log_rho + np.log10(np.where(e_norm > 0, e_norm, 1.0)), -np.inf
        )
    # relative difference, with both vectors as (unit direction) * 10**log10 norm
    unit_e = e / np.where(e_norm > 0, e_norm, 1.0)[:, None]
    both_zero = (log10_direct == -np.inf) & (log10_expansion == -np.inf)
    direct_zero = (log10_direct == -np.inf) & ~both_zero
    # the gap is clipped at 1e100 either way: a difference that large says "wrong" already,
    # and the norm of a vector scaled by 1e300 would overflow in its squares
    with np.errstate(invalid="ignore"):
        gap = np.clip(log10_expansion - log10_direct, -100.0, 100.0)
    gap = np.where(np.isfinite(gap), gap, -100.0)
    rel = np.linalg.norm(unit_e * (10.0**gap)[:, None] - dirs, axis=1)
    rel = np.where(both_zero, 0.0, np.where(direct_zero, 1e300, rel))

    sv = np.linalg.svd(w, compute_uv=False)
    radius = float(abs_lam[0]) if n else 0.0
    growth = log10_direct - log10_direct[0]
    peak = int(np.argmax(growth))
    with np.errstate(over="ignore", divide="ignore"):
        condition = float(np.linalg.cond(q))
    return EigenResult(
        config=config,
        matrix=w,
        g0=g0,
        distance=distance,
        eigenvalues=lam,
        eigenvectors=q,
        coefficients=c,
        log10_component=log10_component,
        log10_direct=log10_direct,
        log10_expansion=log10_expansion,
        relative_difference=rel,
        max_relative_difference=float(np.max(rel)),
        log10_power_norm=_power_norms(wt, t_len),
        eigenvector_condition=condition if np.isfinite(condition) else 1e300,
        spectral_radius=radius,
        sigma_max=float(sv[0]),
        transient_growth=bool(radius < 1.0 and growth[peak] > 0.0),
        peak_log10=float(growth[peak]),
        peak_distance=peak,
    )


@dataclass(frozen=True)
class DerivativeCurves:
    """a : (N,) pre-activations; derivative[name] : (N,) phi'(a); gamma[name] = sup |phi'|,
    for every nonlinearity of engine.nonlinearity."""

    a: np.ndarray
    derivative: dict[str, np.ndarray]
    gamma: dict[str, float]


def derivative_curves(a_grid=DERIVATIVE_GRID) -> DerivativeCurves:
    """phi'(a) over ``a_grid`` (DERIVATIVE_GRID by default) for each nonlinearity (ReLU' = 0
    at a = 0, as PyTorch)."""
    a = np.asarray(a_grid, dtype=float)
    return DerivativeCurves(
        a=a,
        derivative={k: nl.derivative(a) for k, nl in NONLINEARITIES.items()},
        gamma={k: nl.gamma for k, nl in NONLINEARITIES.items()},
    )


def pascanu_region(gamma: float, sigma_max: float) -> str:
    """Where (gamma, sigma_max) lies for Pascanu's bound ||dh_t/dh_{t-1}|| <= gamma sigma_max:

    - ``vanishing guaranteed``: gamma sigma_max < 1, so ||dh_T/dh_{T-l}|| <= (gamma
      sigma_max)^l -> 0 whatever the states;
    - ``exploding possible``: gamma sigma_max > 1, necessary but not sufficient for
      exploding (saturated units can still make it vanish);
    - ``boundary``: gamma sigma_max = 1, the bound allows neither growth nor a guaranteed
      decay.
    """
    product = gamma * sigma_max
    if product < 1.0:
        return REGIONS[0]
    if product > 1.0:
        return REGIONS[2]
    return REGIONS[1]


def pascanu_regions(sigma_max: float) -> dict[str, tuple[float, str]]:
    """(gamma, pascanu_region(gamma, sigma_max)) for each nonlinearity, by name."""
    return {
        name: (nl.gamma, pascanu_region(nl.gamma, sigma_max)) for name, nl in NONLINEARITIES.items()
    }


@dataclass(frozen=True)
class PascanuBoundary:
    """The curve gamma = 1 / sigma_max between Pascanu's regions, over a sigma_max axis that
    reaches ``top`` = max(3, 1.25 sigma_max of the W shown): sigma (N,) from 1/1.1 to top,
    gamma (N,) = 1 / sigma."""

    sigma: np.ndarray
    gamma: np.ndarray
    top: float


def pascanu_boundary(sigma_max: float, points: int = BOUNDARY_POINTS) -> PascanuBoundary:
    """The boundary curve on an axis wide enough to show ``sigma_max``."""
    top = max(3.0, 1.25 * sigma_max)
    sigma = np.linspace(1.0 / 1.1, top, points)
    return PascanuBoundary(sigma, 1.0 / sigma, top)
