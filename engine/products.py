"""Norms of long products of matrices, in the log domain.

For factors J_1, J_2, ..., J_L (each given as a mantissa and a log10 scale) this
computes, for every l = 0..L, ``log10 ||J_1 J_2 ... J_l||`` in the spectral and
the Frobenius norm (l = 0 is the identity). Only the running product is held in
memory, renormalised at every step, so ``3**1000`` or ``0.1**1000`` stay finite
in log10 form.

The spectral norm of each running product P is found by Lanczos on A = P P^T (full
reorthogonalisation, two passes), started from the previous product's top left singular
vector: appending factors on the right leaves the left singular vectors of the product
nearly unchanged, so a few matrix-vector products usually do. The value reported is the
top Ritz value theta, which never exceeds lambda_max(A) (Rayleigh-Ritz); what needs a proof
is the upper bound lambda_max(A) <= theta (1 + 2 rtol), i.e. sigma within rtol = 1e-9.
A residual alone does not give it: it places *some* eigenvalue near theta, and a start
vector blind to the top direction spans a Krylov space that never sees it.

The proof (``_gap_bound``): in the basis (top Ritz vector, the other Ritz vectors, the
complement of the Krylov space) A has the residual couplings the Lanczos recurrence gives,
and its block on the complement is positive semidefinite with trace at most
``||P||_F^2 - trace(tridiagonal)`` -- the one global fact we have for free. The norm of the
block matrix of norms then bounds lambda_max(A); when the top Ritz value is separated from
the rest of the mass this bound is theta + residual^2 / gap, so a residual of ~1e-5 theta
already proves 1e-9. When the mass is spread over many directions (the first steps of a
product, an orthogonal W_hh whose products have nearly equal singular values) no Krylov
space of a few vectors can exclude a hidden larger eigenvalue; there the Lanczos runs
until its value converges and ``_gram_check`` proves it with a Cholesky factorisation of
mu I - A (about three bare products at n = 256), or, if that fails, replaces it by A's
exact largest eigenvalue. Rounding slacks are part of both bounds.

The running product is written into two alternating preallocated buffers, and its columns
are scaled in place, so the steps allocate no n x n arrays. Diagonal factors (exactly
invariant coordinate subspaces) use ``diagonal_norm_profile``, exact in closed form, and
small sizes (``size <= EXACT_MAX_SIZE``, where an exact value per step is cheap) use exact values.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

_RTOL = 1e-9  # relative, on sigma (2e-9 on sigma^2)
_MAX_ITER = 60  # ~18 us a Lanczos step at n = 256, against ~1.2 ms for a Gram check
_ROUNDING = 4.0 * np.finfo(float).eps  # per term of a length-n sum, for the rounding slacks
_INVARIANT = 1e-26  # (beta / ||A q||)^2 below which the Krylov space is invariant to rounding
EXACT_MAX_SIZE = 64
try:  # the ufunc behind np.linalg.eigh, see _eigh
    from numpy.linalg._umath_linalg import eigh_lo as _EIGH_LO
except ImportError:  # pragma: no cover - other NumPy layouts
    _EIGH_LO = None
_EXACT_BATCH = 64  # products per batched SVD call in exact mode


@dataclass(frozen=True)
class NormProfile:
    """log10 norms of the running products, l = 0..L.

    spectral, frobenius : (L + 1,) float, -inf where the product is exactly zero.
    svd_fallbacks : number of steps whose spectral norm is an exact eigenvalue computation
        (the certified path could not prove its Lanczos value; diagnostics).
    gram_checks : number of steps proved by a Cholesky factorisation of a Gram matrix
        rather than by the Lanczos gap bound alone (diagnostics).
    lanczos_steps : Lanczos steps (each two matrix-vector products with the step's matrix)
        over all warm-started steps (diagnostics: the cost of the proofs).
    """

    spectral: np.ndarray
    frobenius: np.ndarray
    svd_fallbacks: int
    gram_checks: int = 0
    lanczos_steps: int = 0


def _frobenius(m: np.ndarray) -> float:
    """||m||_F without copying a strided view (a block of the product)."""
    if m.flags.c_contiguous:  # one BLAS dot over the flat array, ~4x faster than einsum
        flat = m.reshape(-1)
        return float(np.sqrt(flat @ flat))
    return float(np.sqrt(np.einsum("ij,ij->", m, m)))


_TINY_NORM = 1e-100  # below this ||p||_F the squares in its norm (and Gram) can underflow


def _rescued(p: np.ndarray, fro: float) -> tuple[float, float]:
    """(||p||_F, log10 shift) after dividing p in place by its largest |entry| when ``fro`` is
    tiny: the sum of squares behind ``fro`` underflows (to exactly 0 below ~1e-162) long
    before p's entries do, so a product of norm 1e-300 must not be taken for zero. The shift
    is added to the product's log10 scale. (0.0, 0.0) for a product that is exactly zero."""
    if fro >= _TINY_NORM:
        return fro, 0.0
    top = float(np.max(np.abs(p)))
    if top == 0.0:
        return 0.0, 0.0
    p /= top
    return _frobenius(p), math.log10(top)


def _exact_sigma_max(p: np.ndarray) -> np.ndarray:
    """sigma_max of p : (..., m, n), batched over leading axes: the square root of the largest
    eigenvalue of the Gram matrix of p's smaller side, about a quarter cheaper than an SVD at
    n = 32. Each matrix is divided by its largest |entry| first, so the Gram matrix can
    neither overflow nor lose its top eigenvalue to underflow. Rounding moves that eigenvalue
    by at most ~k eps ||p||_F^2 <= k^2 eps sigma_max^2 (k the smaller side, at most
    EXACT_MAX_SIZE here): sigma_max within ~1e-13, relative."""
    top = np.max(np.abs(p), axis=(-2, -1), keepdims=True)
    gram = _smaller_gram(p / np.where(top > 0.0, top, 1.0))
    try:
        top_eig = np.linalg.eigvalsh(gram)[..., -1]
    except np.linalg.LinAlgError:  # syevd rarely fails to converge; then an SVD
        return np.linalg.svd(p, compute_uv=False)[..., 0]
    return np.sqrt(np.maximum(top_eig, 0.0)) * top[..., 0, 0]


def _smaller_gram(p: np.ndarray) -> np.ndarray:
    """The Gram matrix of p's smaller side (p p^T or p^T p), batched over leading axes."""
    p_t = np.swapaxes(p, -1, -2)
    return p @ p_t if p.shape[-2] <= p.shape[-1] else p_t @ p


def _top_left_vector(p: np.ndarray) -> tuple[np.ndarray, float]:
    """Exact top left singular vector (n,) and sigma_max of p."""
    try:
        u, s, _ = np.linalg.svd(p)
        return u[:, 0], float(s[0])
    except np.linalg.LinAlgError:
        lam, vec = np.linalg.eigh(p @ p.T)
        return vec[:, -1], float(np.sqrt(max(lam[-1], 0.0)))


class NormSeries:
    """log10 spectral and Frobenius norms of a sequence of matrices, appended one at a time.

    Each matrix comes as a mantissa and a log10 scale. ``exact`` batches exact values; ``power``
    runs the certified warm-started Lanczos (see the module docstring).
    """

    def __init__(self, method: str) -> None:
        self.method = method
        self.spectral: list[float] = []
        self.frobenius: list[float] = []
        self.fallbacks = 0
        self.gram_checks = 0
        self.lanczos_steps = 0
        self._u: np.ndarray | None = None
        self._ws = _Workspace()
        self._pending: list[tuple[int, np.ndarray]] = []

    def add(
        self,
        m: np.ndarray | None,
        log_scale: float,
        *,
        seed_warm_start: bool = True,
        fro: float | None = None,
    ) -> None:
        """Append m * 10**log_scale. seed_warm_start=False keeps m (say the identity at l = 0,
        whose singular vectors say nothing) from seeding the warm start. fro : ||m||_F, when
        the caller has it already."""
        if m is not None and not m.flags.c_contiguous:  # a block of the product: BLAS reads
            m = self._ws.contiguous(m)  # a transposed strided view ~10x slower than a copy
        if fro is None:
            fro = 0.0 if m is None else _frobenius(m)
            if 0.0 < fro < _TINY_NORM or (fro == 0.0 and m is not None):
                m = m.copy()  # m may be the running product itself: rescale a copy
                fro, shift = _rescued(m, fro)
                log_scale += shift
        if fro == 0.0:
            self.spectral.append(-np.inf)
            self.frobenius.append(-np.inf)
            return
        self.frobenius.append(log_scale + np.log10(fro))
        method = self.method
        if method == "auto":
            method = "exact" if min(m.shape) <= EXACT_MAX_SIZE else "power"
        if method == "exact" or not seed_warm_start:
            self.spectral.append(log_scale)  # + log10 sigma_max(m), filled in by _flush()
            self._pending.append((len(self.spectral) - 1, m.copy()))  # m may be a reused buffer
            if len(self._pending) == _EXACT_BATCH:
                self._flush()
            return
        if self._u is None:  # the first matrix: start the warm chain from an exact vector
            self._u, sigma = _top_left_vector(m)
        else:
            sigma = self._top(m, fro * fro)
        self.spectral.append(log_scale + np.log10(sigma))

    def _top(self, m: np.ndarray, fro2: float) -> float:
        """sigma_max of m to rtol, warm-started from the previous top vector (see the module
        docstring); updates the warm start."""
        sigma, self._u, proven = _certified_top(m, self._u, fro2, ws=self._ws)
        self.lanczos_steps += self._ws.steps
        if proven:
            return sigma
        self.gram_checks += 1
        sigma, proven = _gram_check(m, sigma, fro2)
        self.fallbacks += not proven
        return sigma

    def _flush(self) -> None:
        if self._pending:
            sigmas = _exact_sigma_max(np.stack([m for _, m in self._pending]))
            for (i, _), sigma in zip(self._pending, sigmas, strict=True):
                self.spectral[i] += np.log10(sigma)
            self._pending.clear()

    def result(self) -> NormProfile:
        self._flush()
        return NormProfile(
            np.array(self.spectral),
            np.array(self.frobenius),
            self.fallbacks,
            self.gram_checks,
            self.lanczos_steps,
        )


@dataclass(frozen=True)
class View:
    """A matrix derived from the running product P_l, tracked alongside it.

    matrix(p, l) -> (mantissa, extra log10 scale) for the view of the product mantissa p
    at distance l; defined for l = 0..last.
    """

    matrix: Callable[[np.ndarray, int], tuple[np.ndarray, float]]
    last: int


def product_norm_profile(
    factors: Iterable[tuple[np.ndarray | tuple | None, float]],
    size: int,
    *,
    method: str = "auto",
    views: dict[str, View] | None = None,
) -> NormProfile | tuple[NormProfile, dict[str, NormProfile]]:
    """log10 spectral and Frobenius norms of J_1 ... J_l for l = 0..L.

    factors : iterable of (mantissa, log10 scale). A mantissa is a (size, size) array, a
              pair (d : (size,), w : (size, size)) standing for diag(d) w, which saves
              forming it, or a callable apply(p, c) returning a new array c * p @ J for a
              structured J (it must not modify p); None means the zero matrix.
    method : ``power`` (certified warm-started Lanczos), ``exact`` (SVD at every step) or
             ``auto`` (``exact`` when the smaller side is at most EXACT_MAX_SIZE).
    views : optional named views of the product (blocks, products with input Jacobians);
            when given, returns (profile, {name: profile}).
    """
    if method not in ("power", "exact", "auto"):
        raise ValueError(f"unknown method {method!r}")
    views = views or {}
    main = NormSeries(method)
    side = {name: NormSeries(method) for name in views}
    p = np.eye(size)  # running product mantissa; true product = 10**log_scale * p
    log_scale = 0.0
    main.add(p, 0.0, seed_warm_start=False)
    for name, view in views.items():
        side[name].add(*_shift(view.matrix(p, 0), log_scale), seed_warm_start=False)
    inv_norm = 1.0  # 1 / ||p||_F, folded into the next factor instead of dividing p
    buffers = _Buffers()
    zero = False
    for l, (mantissa, scale) in enumerate(factors, start=1):
        if not zero and mantissa is not None:
            log_scale += scale - math.log10(inv_norm)
            if callable(mantissa):  # a structured factor applies itself: c p J
                p = mantissa(p, inv_norm)
            elif isinstance(mantissa, tuple):  # p diag(d) w: scale p's columns, fold 1/||p|| in
                d, w = mantissa
                p = buffers.product(p, d * inv_norm, w)
            else:
                p = (p * inv_norm) @ mantissa
            fro, shift = _rescued(p, _frobenius(p))
            log_scale += shift
            zero = fro == 0.0
            inv_norm = 1.0 / fro if fro else 1.0
        else:
            zero = True
        main.add(None if zero else p, log_scale, fro=0.0 if zero else fro)
        for name, view in views.items():
            if l <= view.last:
                side[name].add(*(((None, 0.0)) if zero else _shift(view.matrix(p, l), log_scale)))
    if not views:
        return main.result()
    return main.result(), {name: series.result() for name, series in side.items()}


class _Buffers:
    """Preallocated arrays for p diag(c) w, so the steps allocate no n x n arrays.

    Allocating the result of every product costs about a quarter of the product itself at
    n = 256 (fresh pages each time), and a separate array for p diag(c) another sixth
    (memory traffic), so p's columns are scaled in place: p is the running product, which
    product_norm_profile owns and no longer needs. Results alternate between two arrays,
    so the returned product never aliases its input p; it is overwritten two steps later,
    which is why NormSeries copies a mantissa it keeps.
    """

    def __init__(self) -> None:
        self.out: list[np.ndarray] = []

    def product(self, p: np.ndarray, c: np.ndarray, w: np.ndarray) -> np.ndarray:
        shape = (p.shape[0], w.shape[1])
        if not self.out or self.out[0].shape != shape:
            self.out = [np.empty(shape), np.empty(shape)]
        np.multiply(p, c, out=p)
        out = self.out[1] if p is self.out[0] else self.out[0]
        return np.matmul(p, w, out=out)


def _shift(view: tuple[np.ndarray, float], log_scale: float) -> tuple[np.ndarray, float]:
    return view[0], view[1] + log_scale


class _Workspace:
    """Buffers for the Lanczos runs of one NormSeries, reused from step to step (allocating
    the basis and the tridiagonal anew costs about a tenth of a short run at n = 256)."""

    def __init__(self) -> None:
        self.shape: tuple[int, int] | None = None
        self.block: np.ndarray | None = None
        self.steps = 0  # Lanczos steps of the last run

    def fit(self, n: int, m: int) -> _Workspace:
        if self.shape != (n, m):
            self.shape = (n, m)
            steps = min(_MAX_ITER, n)
            self.basis = np.empty((steps, n))
            self.tri = np.zeros((steps, steps))
            self.z = np.empty(m)
            self.w = np.empty(n)
            self.tmp = np.empty(n)
            self.c = np.empty(steps)
        return self

    def contiguous(self, m: np.ndarray) -> np.ndarray:
        """m copied into a C-contiguous buffer of this workspace (overwritten by the next
        call, so a caller that keeps it copies it, as NormSeries does for exact mode)."""
        if self.block is None or self.block.shape != m.shape:
            self.block = np.empty(m.shape)
        np.copyto(self.block, m)
        return self.block


def _certified_top(
    p: np.ndarray,
    u: np.ndarray,
    fro2: float,
    *,
    ws: _Workspace | None = None,
) -> tuple[float, np.ndarray, bool]:
    """Lanczos on A = p p^T from the vector u : (n,); fro2 = ||p||_F^2 = trace(A).

    Returns (sigma, top Ritz vector, proven). sigma = sqrt(theta) for the top Ritz value
    theta, never above sigma_max (Rayleigh-Ritz). proven means sigma_max <= sigma (1 + rtol)
    is proved by ``_gap_bound``; otherwise the Ritz value has (probably) converged and the
    caller proves it or computes an exact value. The basis is held as rows, so every vector
    is contiguous and the matrix-vector products write into preallocated buffers (``ws``,
    reused from step to step).
    """
    n, m = p.shape
    ws = (ws or _Workspace()).fit(n, m)
    steps = min(_MAX_ITER, n)
    basis, tri, z, w, tmp, cbuf = ws.basis, ws.tri, ws.z, ws.w, ws.tmp, ws.c
    np.multiply(u, 1.0 / math.sqrt(u @ u), out=basis[0])
    pt = p.T
    captured = 0.0  # trace of the tridiagonal: the part of trace(A) inside the Krylov space
    slack = _ROUNDING * n * fro2
    y = None
    for j in range(steps):
        ws.steps = j + 1
        q = basis[j]
        np.dot(pt, q, out=z)
        np.dot(p, z, out=w)
        before = w @ w
        if j == 0:  # one vector: plain dot products instead of matrix ones
            alpha = q @ w
            w -= alpha * q
            w -= (q @ w) * q  # the second pass ("twice is enough", see below)
        else:
            known = basis[: j + 1]
            c = np.dot(known, w, out=cbuf[: j + 1])  # c[j] = q_j . A q_j = alpha_j
            alpha = c[j]
            w -= np.dot(c, known, out=tmp)  # the three-term recurrence and full
            np.dot(known, w, out=c)  # reorthogonalisation at once, then a second pass:
            w -= np.dot(c, known, out=tmp)  # near convergence A q_j is nearly in the span
        beta2 = w @ w  # and one pass leaves the basis skewed
        beta = math.sqrt(beta2)
        tri[j, j] = alpha
        captured += alpha
        if j == 0:  # the Rayleigh quotient of the warm start: no eigensolver needed
            top, y_last, second, rest = alpha, 1.0, None, 0.0
        else:
            if j == 1:
                theta, y = _eigh_2x2(tri[0, 0], tri[0, 1], alpha)
            else:
                theta, y = _eigh(tri[: j + 1, : j + 1])
            top, y_last, second = theta[-1], y[-1, -1], theta[-2]
            rest = beta * math.sqrt(max(1.0 - y_last * y_last, 0.0))  # ||y[-1, :-1]||
        residual = beta * abs(y_last)  # ||A ritz - top ritz||, the Lanczos residual identity
        if top > 0.0:
            upper = _gap_bound(top, residual, second, rest, fro2 - captured + slack)
            if upper + slack <= top * (1.0 + 2.0 * _RTOL):
                return math.sqrt(top), _ritz(basis, j, y), True
            if _converged(top, residual, second):
                break
        if beta2 <= _INVARIANT * before or j + 1 == steps:  # an invariant subspace (to
            break  # rounding: beta, kept in the bounds, is then noise), or out of steps
        np.multiply(w, 1.0 / beta, out=basis[j + 1])
        tri[j, j + 1] = tri[j + 1, j] = beta
    return math.sqrt(max(top, 0.0)), _ritz(basis, j, y), False


def _eigh_2x2(a: float, b: float, c: float) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and eigenvectors (columns) of [[a, b], [b, c]] in closed form,
    as _eigh returns them (the second Lanczos step, without the eigensolver's call cost)."""
    half = 0.5 * (a - c)
    root = math.hypot(half, b)
    mean = 0.5 * (a + c)
    hi = mean + root
    lo = mean - root
    # top eigenvector: (b, hi - a) or (hi - c, b), whichever has the larger entries
    if half >= 0.0:  # a >= c: hi - c = half + root >= root
        x, yv = half + root, b
    else:
        x, yv = b, root - half  # hi - a = root - half > root
    norm = math.hypot(x, yv)
    if norm == 0.0:  # b = 0 and a = c: any basis
        return np.array([lo, hi]), np.eye(2)
    x, yv = x / norm, yv / norm
    return np.array([lo, hi]), np.array([[-yv, x], [x, yv]])


def _gap_bound(top: float, residual: float, second: float | None, rest: float, tail: float):
    """An upper bound on lambda_max(A) from a Lanczos step (see the module docstring).

    In the basis (top Ritz vector, other Ritz vectors, the Krylov space's complement) A is
    [[top, e^T], [e, B]] with ||e|| = residual, and B is [[diag(other Ritz values), f^T],
    [f, S]] with ||f|| = rest and S positive semidefinite with trace(S) <= tail. The norm of
    a block matrix is at most that of the matrix of its blocks' norms, and ||S|| <= trace(S).
    """
    b = tail if second is None else _top_2x2(second, rest, tail)
    return _top_2x2(top, residual, b)


def _top_2x2(a: float, r: float, b: float) -> float:
    """The larger eigenvalue of [[a, r], [r, b]]."""
    half = 0.5 * (a - b)
    return 0.5 * (a + b) + math.sqrt(half * half + r * r)


def _converged(top: float, residual: float, second: float | None) -> bool:
    """Whether the top Ritz value has (by the usual estimates) converged to well within
    rtol: a residual below rtol, or a quadratic estimate residual^2 / gap below a quarter
    of it. Only a stopping rule: ``_gram_check`` proves the value or replaces it."""
    if residual <= _RTOL * top:
        return True
    return second is not None and residual * residual <= 0.25 * _RTOL * top * (top - second)


def _gram_check(p: np.ndarray, sigma: float, fro2: float) -> tuple[float, bool]:
    """sigma_max of p, exact to rtol: (sigma, True) when a Cholesky factorisation of
    mu I - G (G the Gram matrix of p's smaller side, mu = sigma^2 (1 + 2 rtol) less the
    rounding slack) proves sigma_max^2 < mu, else (the exact value from G's eigenvalues, False).

    Rounding: fl(G) is within ~n eps ||p||_F^2 of G and a Cholesky factorisation that
    completes is exact for a matrix within ~n eps trace(mu I - G) <= n^2 eps mu; the slack
    covers both, so success proves sigma_max <= sigma (1 + rtol).
    """
    gram = _smaller_gram(p)
    k = gram.shape[0]
    theta = sigma * sigma
    mu = theta * (1.0 + 2.0 * _RTOL) - _ROUNDING * k * (fro2 + k * theta)
    np.negative(gram, out=gram)
    gram.flat[:: k + 1] += mu  # mu I - G
    if mu > 0.0:
        try:
            np.linalg.cholesky(gram)
            return sigma, True
        except np.linalg.LinAlgError:
            pass
    return math.sqrt(max(mu - np.linalg.eigvalsh(gram)[0], 0.0)), False


def _eigh(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.linalg.eigh of a small symmetric matrix, through the gufunc when NumPy exposes it
    (it skips ~2 us of argument checks, a tenth of a Lanczos step). A tridiagonal that failed
    to converge would give NaNs, which never certify, so the step falls back to an SVD."""
    if _EIGH_LO is None:
        return np.linalg.eigh(t)
    return _EIGH_LO(t)


def _ritz(basis: np.ndarray, j: int, y: np.ndarray | None) -> np.ndarray:
    """The top Ritz vector from the first j + 1 basis rows and the tridiagonal's eigenvectors."""
    if j == 0:
        return basis[0].copy()
    return y[:, -1] @ basis[: j + 1]


def diagonal_norm_profile(log_abs_diagonals: np.ndarray) -> NormProfile:
    """Closed-form profile for diagonal factors J_l = diag(exp(log_abs_diagonals[l - 1])).

    log_abs_diagonals : (L, n) natural logs of |diagonal entries| (-inf for zeros).
    The product is diagonal with log|entries| the cumulative sums, so the spectral norm
    is the largest entry and the Frobenius norm a log-sum-exp, both exact.
    """
    n = log_abs_diagonals.shape[1]
    cum = np.vstack([np.zeros((1, n)), np.cumsum(log_abs_diagonals, axis=0)])
    top = np.max(cum, axis=1)
    safe_top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        frob_ln = safe_top + 0.5 * np.log(np.sum(np.exp(2.0 * (cum - safe_top[:, None])), axis=1))
    ln10 = np.log(10.0)
    frob = np.where(np.isfinite(top), frob_ln / ln10, -np.inf)
    return NormProfile(top / ln10, frob, 0)
