"""Truncated and randomly truncated BPTT for the vanilla RNN's dL/dW_hh.

The full gradient is a sum over steps k = 1..T, indexed by the distance l = T - k,

    G = dL/dW_hh = sum_k A_k,   A_k = delta_k h_{k-1}^T,   delta_k = dL/da_k.

Truncated BPTT(tau) keeps the terms with l < tau:  G_tau = sum_{T-k < tau} A_k.
The usual definition instead stops the backward recursion delta_k -> delta_{k-1} after
tau steps. Because L depends on h_T only, the delta_k it does compute (k > T - tau) are
exactly the full ones, so the two definitions coincide (tested against a naive
truncated backward pass). The relative error is that of the dropped tail,

    err(tau) = ||G - G_tau||_F / ||G||_F = ||sum_{l >= tau} A_{T-l}||_F / ||G||_F,

computed in one pass over k = 1..T with one running (n, n) sum (mantissa and log10 scale,
rescaled only when a term of a new largest scale arrives), so terms of 10^+-400 are
exact, err(T) = 0 exactly, and a tiny err(tau) is not lost to cancellation in G - G_tau.

Randomized truncation keeps each term independently with probability p and reweights it
by 1/p: G~ = sum_k (b_k / p) A_k, b_k ~ Bernoulli(p), so E[G~] = G, and the mean of m
independent draws approaches G like 1/sqrt(m).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .bptt import backward_pass, log10_norm

if TYPE_CHECKING:
    from .problem import Problem
    from .rnn import RNNTrace

LOG10_ERROR_CAP = 300.0  # relative errors are reported as at most 10**this


@dataclass(frozen=True)
class _Terms:
    """A_k = mantissa_k * 10**scale[k - 1] with mantissa_k = outer(delta[k - 1], h[k - 1])."""

    delta: np.ndarray  # (T, n)
    h_prev: np.ndarray  # (T, n) mantissas of h_0..h_{T-1}
    scale: np.ndarray  # (T,) log10 scales, -inf for a zero term


def _terms(problem: Problem, trace: RNNTrace) -> _Terms:
    back = backward_pass(problem, trace)
    return _Terms(back.delta, trace.states[:-1], back.delta_scale + trace.state_log10[:-1])


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


def _log10_tails(terms: _Terms) -> np.ndarray:
    """log10 ||sum_{l >= tau} A_{T-l}||_F for tau = 0..T : (T + 1,), -inf for a zero tail.

    tau = T - k once A_1..A_k are summed; the running sum R = mantissa * 10**r keeps r the
    largest term scale seen, so R is rescaled only when a larger term arrives.
    """
    t_len, n = terms.delta.shape
    tails = np.full(t_len + 1, -np.inf)
    r_sum = np.zeros((n, n))
    r = -np.inf
    for k in range(1, t_len + 1):
        s = terms.scale[k - 1]
        if s > -np.inf:
            if s > r:
                if r > -np.inf:
                    r_sum *= 10.0 ** (r - s)  # earlier, smaller terms: may underflow to 0
                r = s
            r_sum += np.outer(terms.delta[k - 1] * 10.0 ** (s - r), terms.h_prev[k - 1])
        if r > -np.inf:
            tails[t_len - k] = log10_norm(r_sum) + r
    return tails


def _relative(log10_num: np.ndarray, log10_den: float) -> tuple[np.ndarray, np.ndarray]:
    """(error, log10 error) of num / den given as log10s, capped at 1e300; 0 if den = 0."""
    if log10_den == -np.inf:
        zero = np.zeros_like(log10_num)
        return zero, np.full_like(log10_num, -np.inf)
    log_err = np.minimum(log10_num - log10_den, LOG10_ERROR_CAP)
    return 10.0**log_err, log_err


def truncated_gradients(
    problem: Problem, trace: RNNTrace, taus: np.ndarray | list[int] | None = None
) -> TruncationResult:
    """The relative error of truncated BPTT(tau) in dL/dW_hh, for every tau in ``taus``
    (integers in 1..T; None for all of them), from one pass: O(T n^2) time, O(n^2) memory
    beyond the forward trace."""
    terms = _terms(problem, trace)
    t_len = terms.delta.shape[0]
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


def randomized_truncation(
    problem: Problem, trace: RNNTrace, p: float, draws: int, seed: int
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
    terms = _terms(problem, trace)
    t_len, n = terms.delta.shape
    rng = np.random.default_rng(seed)
    kept = rng.random((draws, t_len)) < p
    finite = terms.scale > -np.inf
    top = float(np.max(terms.scale)) if np.any(finite) else 0.0
    weighted = np.where(finite, 10.0 ** (terms.scale - top), 0.0)[:, None] * terms.delta
    full = weighted.T @ terms.h_prev  # G / 10**top
    log10_full = log10_norm(full)
    draw_log = np.full(draws, -np.inf)
    mean_log = np.full(draws, -np.inf)
    running = np.zeros((n, n))  # sum_j (G~_j - G) / 10**top
    for j in range(draws):
        coef = kept[j] / p - 1.0  # exactly 0 for a kept term when p = 1
        diff = (coef[:, None] * weighted).T @ terms.h_prev
        running += diff
        draw_log[j] = log10_norm(diff)
        mean_log[j] = log10_norm(running) - np.log10(j + 1)
    draw_error, _ = _relative(draw_log, log10_full)
    mean_error, _ = _relative(mean_log, log10_full)
    return RandomizedTruncationResult(
        p=float(p),
        draws=int(draws),
        kept_fraction=kept.mean(axis=1),
        draw_error=draw_error,
        mean_error=mean_error,
    )
