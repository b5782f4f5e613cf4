"""The gradient-flow experiment: one configuration in, every number the explorer shows out."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .bptt import BPTTGradient, bptt_gradient
from .clipping import CLIP_MODES, ClipResult, clip_gradients
from .init import H0S, INITS, INPUTS
from .nonlinearity import NONLINEARITIES, get_nonlinearity
from .problem import Problem, draw_problem
from .products import NormProfile
from .rnn import RNNTrace, rnn_forward, rnn_profiles
from .spectrum import Spectrum, pascanu_log10_bound, spectrum

CELLS = ("rnn",)
HORIZON_LOG10 = -3.0  # the memory horizon: first distance where ||dh_T/dh_{T-l}|| < 1e-3
REGIME_LOG10 = 3.0  # |log10 ||dh_T/dh_0||| beyond this names the regime


@dataclass(frozen=True)
class GradientFlowConfig:
    """Every control of the explorer. Choices are validated here; numeric bounds by callers."""

    cell: str = "rnn"
    nonlinearity: str = "tanh"
    hidden_size: int = 32
    input_size: int = 4
    seq_len: int = 100
    init: str = "gaussian"
    scale: float = 1.0
    input: str = "random"
    input_scale: float = 1.0
    h0: str = "zeros"
    seed: int = 0
    clip: str = "none"
    clip_threshold: float = 1.0

    def __post_init__(self) -> None:
        for name, choices in (
            ("cell", CELLS),
            ("nonlinearity", tuple(NONLINEARITIES)),
            ("init", INITS),
            ("input", INPUTS),
            ("h0", H0S),
            ("clip", CLIP_MODES),
        ):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {list(choices)}")
        for name in ("hidden_size", "input_size", "seq_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if not (self.clip_threshold > 0 and np.isfinite(self.clip_threshold)):
            raise ValueError("clip_threshold must be a finite number > 0")
        if not (self.scale >= 0 and self.input_scale >= 0):
            raise ValueError("scale and input_scale must be >= 0")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class Summary:
    """regime: ``vanishing`` (||dh_T/dh_0|| < 1e-3), ``exploding`` (> 1e3) or ``neither``.
    horizon: first distance l with ||dh_T/dh_{T-l}||_2 < 1e-3, None if never.
    log10_growth_per_step: log10 ||dh_T/dh_0||_2 / T (None if the product is exactly 0).
    gamma_sigma_max: gamma * sigma_max(W_hh); < 1 guarantees vanishing (Pascanu's condition).
    peak_log10, peak_distance: the largest log10 ||dh_T/dh_{T-l}||_2 over l >= 1 and where.
    """

    regime: str
    horizon: int | None
    log10_growth_per_step: float | None
    gamma: float
    gamma_sigma_max: float
    vanishing_guaranteed: bool
    peak_log10: float
    peak_distance: int


@dataclass(frozen=True)
class GradientFlowResult:
    """distance : (T + 1,) l = 0..T.  trace : the forward run (states h_0..h_T).
    profile : log10 ||dh_T/dh_{T-l}||, l = 0..T.
    input_sensitivity : log10 ||dh_T/dx_{T-l}||, l = 0..T-1.
    log10_bound : (T + 1,) Pascanu's l * log10(gamma * sigma_max)."""

    config: GradientFlowConfig
    problem: Problem
    trace: RNNTrace
    distance: np.ndarray
    profile: NormProfile
    input_sensitivity: NormProfile
    log10_bound: np.ndarray
    spectrum: Spectrum
    gradient: BPTTGradient
    clipping: ClipResult
    summary: Summary


def summarize(profile: NormProfile, gamma: float, spec: Spectrum) -> Summary:
    s = profile.spectral
    below = np.flatnonzero(s < HORIZON_LOG10)
    final = float(s[-1])
    if final < -REGIME_LOG10:
        regime = "vanishing"
    elif final > REGIME_LOG10:
        regime = "exploding"
    else:
        regime = "neither"
    t_len = len(s) - 1
    peak = int(np.argmax(s[1:])) + 1 if t_len >= 1 else 0
    return Summary(
        regime=regime,
        horizon=int(below[0]) if below.size else None,
        log10_growth_per_step=final / t_len if np.isfinite(final) and t_len else None,
        gamma=gamma,
        gamma_sigma_max=gamma * spec.spectral_norm,
        vanishing_guaranteed=gamma * spec.spectral_norm < 1.0,
        peak_log10=float(s[peak]),
        peak_distance=peak,
    )


def gradient_flow(config: GradientFlowConfig, *, method: str = "auto") -> GradientFlowResult:
    """Draw the problem, run the cell, and measure how gradients flow back through time."""
    phi = get_nonlinearity(config.nonlinearity)
    problem = draw_problem(
        seed=config.seed,
        hidden_size=config.hidden_size,
        input_size=config.input_size,
        seq_len=config.seq_len,
        init=config.init,
        scale=config.scale,
        input=config.input,
        input_scale=config.input_scale,
        h0=config.h0,
    )
    trace = rnn_forward(problem.params, phi, problem.inputs, problem.h0)
    w_hh = problem.params.weight_hh
    profile, input_sensitivity = rnn_profiles(
        w_hh, problem.params.weight_ih, trace.log_dphi, method=method
    )
    spec = spectrum(w_hh)
    gradient = bptt_gradient(problem, trace)
    return GradientFlowResult(
        config=config,
        problem=problem,
        trace=trace,
        distance=np.arange(config.seq_len + 1),
        profile=profile,
        input_sensitivity=input_sensitivity,
        log10_bound=pascanu_log10_bound(phi.gamma, spec.spectral_norm, config.seq_len),
        spectrum=spec,
        gradient=gradient,
        clipping=clip_gradients(gradient.grads, config.clip, config.clip_threshold),
        summary=summarize(profile, phi.gamma, spec),
    )
