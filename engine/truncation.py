"""Truncated and randomly truncated BPTT: the error they make in dL/dW_hh, for every cell.

The full gradient is a sum over steps k = 1..T, indexed by the distance l = T - k,

    G = dL/dW_hh = sum_k A_k,   A_k = delta_k h_{k-1}^T,   delta_k = dL/da_k

(for the vanilla RNN; a gated cell's A_k stacks one such outer product per block of rows,
see ``StepTerms``).

Truncated BPTT(tau) keeps the terms with l < tau:  G_tau = sum_{T-k < tau} A_k.
The usual definition instead stops the backward recursion delta_k -> delta_{k-1} after
tau steps. Because L depends on h_T only, the delta_k it does compute (k > T - tau) are
exactly the full ones, so the two definitions coincide: G_tau is the full gradient of the
last tau steps run from the state at T - tau (tested so for every cell, and against a
naive truncated backward pass for the RNN). The relative error is that of the dropped tail,

    err(tau) = ||G - G_tau||_F / ||G||_F = ||sum_{l >= tau} A_{T-l}||_F / ||G||_F,

computed in one pass over k = 1..T with one running sum per block (mantissa and log10 scale,
rescaled only when a term of a new largest scale arrives), so terms of 10^+-400 are
exact, err(T) = 0 exactly, and a tiny err(tau) is not lost to cancellation in G - G_tau.

Randomized truncation keeps each term independently with probability p and reweights it
by 1/p: G~ = sum_k (b_k / p) A_k, b_k ~ Bernoulli(p), so E[G~] = G, and the mean of m
independent draws approaches G like 1/sqrt(m).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .logdomain import StepTerms

LOG10_ERROR_CAP = 300.0  # relative errors are reported as at most 10**this
# Entries below TINY are set to 0 before they turn subnormal (arithmetic on subnormals is
# ~100 times slower). Against the sums' largest term, of size ~1, they are below 1e-260
# relative: nothing a float64 norm could see.
TINY = 1e-280
FLUSH_EVERY_LOG10 = 20.0  # flush once the sums have shrunk by this much since the last time


def _flush(a: np.ndarray) -> np.ndarray:
    np.copyto(a, 0.0, where=np.abs(a) < TINY)
    return a


def _log10_frobenius(parts: list[np.ndarray]) -> float:
    """log10 of the Frobenius norm of the blocks stacked (-inf if all are zero). The
    mantissas here are sums of at most T terms of size <= 1, so squares cannot overflow."""
    square = sum(float(np.vdot(a, a)) for a in parts)
    return 0.5 * float(np.log10(square)) if square > 0 else -np.inf


@dataclass(frozen=True)
class TruncationResult:
    """taus : (m,) the truncation lengths asked for (all of 1..T by default)
    relative_error : (m,) ||G - G_tau||_F / ||G||_F (0 at tau = T; at most 1e300)
    log10_relative_error : (m,) its log10 (-inf where the error is exactly 0)
    log10_full_norm : log10 ||G||_F of the full dL/dW_hh (-inf if G = 0; then every error
        is reported as 0)
    """

    taus: np.ndarray
    relative_error: np.ndarray
    log10_relative_error: np.ndarray
    log10_full_norm: float

    def first_tau_below(self, error: float) -> int | None:
        """The smallest tau among ``taus`` whose relative error is below ``error``."""
        hits = self.taus[self.relative_error < error]
        return int(hits.min()) if hits.size else None

    def error_at(self, tau: int) -> float:
        """The relative error of BPTT truncated at ``tau`` (one of ``taus``)."""
        return float(self.relative_error[np.flatnonzero(self.taus == tau)[0]])


class _TailSums:
    """The running sums of the terms A_1..A_k, one per block, as mantissa * 10**r where r is
    the largest term scale seen: rescaled only when a larger term arrives."""

    def __init__(self, terms: StepTerms):
        self.terms = terms
        self.sums = [np.zeros((left.shape[1], right.shape[1])) for left, right in terms.blocks]
        self.r = -np.inf
        self.shrunk = 0.0  # log10 of how much the sums have shrunk since the last flush

    def raise_scale(self, r: float) -> None:
        if r <= self.r:
            return
        if self.r > -np.inf:
            self.shrunk += r - self.r
            flush = self.shrunk > FLUSH_EVERY_LOG10
            for acc in self.sums:
                acc *= 10.0 ** (self.r - r)  # earlier, smaller terms: may underflow to 0
                if flush:
                    _flush(acc)
            self.shrunk = 0.0 if flush else self.shrunk
        self.r = r

    def weights(self, start: int, stop: int) -> np.ndarray:
        """10**(scale - r) of terms start+1..stop (0 for a zero term)."""
        scale = self.terms.scale[start:stop]
        return np.where(scale > -np.inf, 10.0 ** (scale - self.r), 0.0)

    def log10_norm(self) -> float:
        return _log10_frobenius(self.sums) + self.r

    def add_exactly(self, start: int, stop: int, tails: np.ndarray) -> None:
        """Add terms start+1..stop one at a time, each tail the norm of the sum formed."""
        t_len = tails.shape[0] - 1
        for k in range(start + 1, stop + 1):
            self.raise_scale(self.terms.scale[k - 1])
            weight = self.weights(k - 1, k)[0]
            for acc, (left, right) in zip(self.sums, self.terms.blocks, strict=True):
                acc += np.outer(left[k - 1] * weight, right[k - 1])
            tails[t_len - k] = self.log10_norm()

    def add_chunk(self, start: int, stop: int, tails: np.ndarray) -> bool:
        """Add terms start+1..stop with matrix products: with X_i the sum of the chunk's
        first i terms, ||S + X_i||^2 = ||S||^2 + 2 sum_j u_j'S v_j + sum_jj' (u_j'u_j')
        (v_j'v_j'). False (nothing changed) if that expansion would cancel: when it is more
        than 1e6 times smaller than the sum of its terms' magnitudes, a float64 result
        could be off by more than 1e-10 relative; then the caller adds exactly."""
        w = self.weights(start, stop)
        parts = [
            (w[:, None] * left[start:stop], right[start:stop]) for left, right in self.terms.blocks
        ]
        base = sum(float(np.vdot(acc, acc)) for acc in self.sums)
        cross = sum(
            np.einsum("jn,jn->j", u @ acc, v) for acc, (u, v) in zip(self.sums, parts, strict=True)
        )
        gram = sum((u @ u.T) * (v @ v.T) for u, v in parts)
        inner = np.diagonal(np.cumsum(np.cumsum(gram, axis=0), axis=1))
        size = np.diagonal(np.cumsum(np.cumsum(np.abs(gram), axis=0), axis=1))
        square = base + 2.0 * np.cumsum(cross) + inner
        magnitude = base + 2.0 * np.cumsum(np.abs(cross)) + size
        if np.any(square < 1e-6 * magnitude):
            return False
        for acc, (u, v) in zip(self.sums, parts, strict=True):
            acc += u.T @ v
        t_len = tails.shape[0] - 1
        with np.errstate(divide="ignore"):  # a sum of zero terms is exactly zero
            tails[t_len - stop : t_len - start][::-1] = 0.5 * np.log10(square) + self.r
        return True


CHUNK = 32  # terms added per matrix product


def _log10_tails(terms: StepTerms) -> np.ndarray:
    """log10 ||sum_{l >= tau} A_{T-l}||_F for tau = 0..T : (T + 1,), -inf for a zero tail.

    tau = T - k once A_1..A_k are summed, CHUNK terms at a time with matrix products
    (exact per-term sums where the chunk's expansion would cancel, see add_chunk).
    """
    t_len = terms.scale.shape[0]
    tails = np.full(t_len + 1, -np.inf)
    sums = _TailSums(terms)
    for start in range(0, t_len, CHUNK):
        stop = min(start + CHUNK, t_len)
        sums.raise_scale(float(np.max(terms.scale[start:stop])))
        if sums.r == -np.inf:
            continue  # every term so far is zero
        if not sums.add_chunk(start, stop, tails):
            sums.add_exactly(start, stop, tails)
    return tails


def _relative(log10_num: np.ndarray, log10_den: float) -> tuple[np.ndarray, np.ndarray]:
    """(error, log10 error) of num / den given as log10s, capped at 1e300; 0 if den = 0."""
    if log10_den == -np.inf:
        zero = np.zeros_like(log10_num)
        return zero, np.full_like(log10_num, -np.inf)
    log_err = np.minimum(log10_num - log10_den, LOG10_ERROR_CAP)
    return 10.0**log_err, log_err


def truncated_gradients(
    terms: StepTerms, taus: np.ndarray | list[int] | None = None
) -> TruncationResult:
    """The relative error of truncated BPTT(tau) in dL/dW_hh, for every tau in ``taus``
    (integers in 1..T; None for all of them), from one pass over the terms of
    ``bptt_gradient(...).terms``: O(T n^2) time for the RNN, O(n^2) memory beyond them."""
    t_len = terms.scale.shape[0]
    taus = np.arange(1, t_len + 1) if taus is None else np.asarray(taus, dtype=int).ravel()
    if taus.size and (taus.min() < 1 or taus.max() > t_len):
        raise ValueError(f"taus must lie in 1..{t_len}")
    tails = _log10_tails(terms)
    error, log_error = _relative(tails[taus], float(tails[0]))
    return TruncationResult(taus, error, log_error, float(tails[0]))


@dataclass(frozen=True)
class RandomizedTruncationResult:
    """p, draws; for draw j = 1..draws:
    kept_fraction : (draws,) the fraction of the T terms draw j kept
    draw_error : (draws,) ||G~_j - G||_F / ||G||_F
    mean_error : (draws,) ||(1/m) sum_{j <= m} G~_j - G||_F / ||G||_F, m = 1..draws
    All 0 when G = 0 (then every term is 0). Errors are at most 1e300.
    """

    p: float
    draws: int
    kept_fraction: np.ndarray
    draw_error: np.ndarray
    mean_error: np.ndarray

    @property
    def rms_draw_error(self) -> float:
        """The root mean square of draw_error: how far one draw is off, typically."""
        return float(np.sqrt(np.mean(self.draw_error**2)))

    @property
    def mean_kept_fraction(self) -> float:
        """The fraction of the T terms one draw keeps, averaged over the draws (about p)."""
        return float(np.mean(self.kept_fraction))

    @property
    def rms_over_sqrt_draws(self) -> np.ndarray:
        """(draws,) rms_draw_error / sqrt(m), m = 1..draws: how the mean of m independent
        draws is expected to shrink."""
        return self.rms_draw_error / np.sqrt(np.arange(1, self.draws + 1))


def randomized_truncation(
    terms: StepTerms, p: float, draws: int, seed: int
) -> RandomizedTruncationResult:
    """Draw ``draws`` unbiased estimates G~ = sum_k (b_k / p) A_k with b_k ~ Bernoulli(p)
    from ``numpy.random.default_rng(seed)`` and measure each, and their running mean,
    against the full G. p = 1 keeps every term: G~ = G exactly.

    Every A_k is put on the scale of the largest term, so G~_j - G = sum_k (b_k/p - 1) A_k
    is formed directly (no cancellation of G~ against G); O(draws T n^2) time.
    """
    if not (0.0 < p <= 1.0):
        raise ValueError("p must lie in (0, 1]")
    if draws < 1:
        raise ValueError("draws must be >= 1")
    t_len = terms.scale.shape[0]
    rng = np.random.default_rng(seed)
    kept = rng.random((draws, t_len)) < p
    finite = terms.scale > -np.inf
    top = float(np.max(terms.scale)) if np.any(finite) else 0.0
    weight = np.where(finite, 10.0 ** (terms.scale - top), 0.0)[:, None]
    weighted = [(_flush(weight * left), _flush(right.copy())) for left, right in terms.blocks]
    log10_full = _log10_frobenius([left.T @ right for left, right in weighted])  # G / 10**top
    draw_log = np.full(draws, -np.inf)
    mean_log = np.full(draws, -np.inf)
    running = [np.zeros((left.shape[1], right.shape[1])) for left, right in weighted]
    for j in range(draws):
        coef = (kept[j] / p - 1.0)[:, None]  # exactly 0 for a kept term when p = 1
        diff = [(coef * left).T @ right for left, right in weighted]
        for acc, d in zip(running, diff, strict=True):
            acc += d
        draw_log[j] = _log10_frobenius(diff)
        mean_log[j] = _log10_frobenius(running) - np.log10(j + 1)
    draw_error, _ = _relative(draw_log, log10_full)
    mean_error, _ = _relative(mean_log, log10_full)
    return RandomizedTruncationResult(
        p=float(p),
        draws=int(draws),
        kept_fraction=kept.mean(axis=1),
        draw_error=draw_error,
        mean_error=mean_error,
    )
