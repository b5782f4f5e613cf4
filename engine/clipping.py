"""Gradient clipping with PyTorch's semantics, on log-scaled gradients.

- ``norm``: torch.nn.utils.clip_grad_norm_: total = ||all grads||_2,
  coef = min(1, max_norm / (total + 1e-6)), every gradient multiplied by coef.
- ``value``: torch.nn.utils.clip_grad_value_: every entry clamped to [-c, c].

The gradients come as a ScaledTensors (mantissa * 10**scale), so the clipped
result is exact even when the unclipped norm is 10**477.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .logdomain import ScaledTensors, log10_norm

CLIP_MODES = ("none", "norm", "value")
TORCH_EPS = 1e-6
_LN10 = float(np.log(10.0))


@dataclass(frozen=True)
class ClipResult:
    """mode, threshold; log10 total norms before and after; cosine(clipped, unclipped);
    log10_coefficient: log10 of the factor applied by ``norm`` clipping (0 otherwise);
    clipped: the clipped gradients as plain floats (finite), None when mode is ``none``.
    cosine is None when the gradient is exactly zero."""

    mode: str
    threshold: float
    log10_norm_before: float
    log10_norm_after: float
    cosine: float | None
    log10_coefficient: float
    clipped: dict[str, np.ndarray] | None

    def log10_norms_after(self) -> dict[str, float] | None:
        """log10 ||clipped gradient|| per tensor, None when mode is ``none``."""
        if self.clipped is None:
            return None
        return {k: log10_norm(v) for k, v in self.clipped.items()}

    def scaled_contributions(self, log10_contribution: np.ndarray) -> np.ndarray | None:
        """The per-step BPTT terms after ``norm`` clipping: every term is multiplied by the
        same coefficient, so their log10 shifts by log10_coefficient. None for the other
        modes: ``value`` clamps the summed gradient entrywise, which is not a per-step act."""
        if self.mode != "norm":
            return None
        return log10_contribution + self.log10_coefficient


def _log10_norm_coefficient(log10_total: float, max_norm: float) -> float:
    """log10 min(1, max_norm / (total + 1e-6)) without forming total."""
    ln_denominator = np.logaddexp(log10_total * _LN10, np.log(TORCH_EPS))
    return min(0.0, float(np.log10(max_norm) - ln_denominator / _LN10))


def clip_gradients(grads: ScaledTensors, mode: str, threshold: float) -> ClipResult:
    if mode not in CLIP_MODES:
        raise ValueError(f"unknown clip mode {mode!r}; choose from {list(CLIP_MODES)}")
    before = grads.log10_total_norm()
    cosine = None if before == -np.inf else 1.0
    if mode == "none":
        return ClipResult(mode, threshold, before, before, cosine, 0.0, None)
    if mode == "norm":
        coef = _log10_norm_coefficient(before, threshold)
        # after clipping the norm is <= max_norm, so 10**(scale + coef) * mantissa is finite
        factor = 10.0 ** (grads.log10_scale + coef) if before > -np.inf else 0.0
        clipped = {k: v * factor for k, v in grads.mantissa.items()}
        after = log10_norm(np.concatenate([c.ravel() for c in clipped.values()]))
        return ClipResult(mode, threshold, before, after, cosine, coef, clipped)
    # value: an entry with |entry| > c becomes sign * c; the others keep their value (<= c)
    log_c = np.log10(threshold)
    clipped = {}
    for k, v in grads.mantissa.items():
        with np.errstate(divide="ignore"):
            log_abs = np.log10(np.abs(v)) + grads.log10_scale
        if abs(grads.log10_scale) < 300:  # the plain product is exact and cannot overflow
            kept = v * 10.0**grads.log10_scale
        else:  # only entries <= c are kept, so their value is formed from its log
            kept = np.sign(v) * 10.0 ** np.minimum(log_abs, log_c)
        clipped[k] = np.clip(
            np.where(log_abs > log_c, np.sign(v) * threshold, kept), -threshold, threshold
        )
    all_clipped = np.concatenate([c.ravel() for c in clipped.values()])
    all_mantissa = np.concatenate([v.ravel() for v in grads.mantissa.values()])
    after = log10_norm(all_clipped)
    dot = float(all_mantissa @ all_clipped)
    denom = np.linalg.norm(all_mantissa) * np.linalg.norm(all_clipped)
    if denom > 0:
        cosine = float(np.clip(dot / denom, -1.0, 1.0))
    return ClipResult(mode, threshold, before, after, cosine, 0.0, clipped)
