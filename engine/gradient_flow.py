"""The gradient-flow experiment: one configuration in, every number the explorer shows out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np

from .bptt import BPTTGradient, bptt
from .cells import cell_names, cell_options, get_cell, profiles
from .choices import CHOICES, check_choices
from .clipping import ClipResult, clip_gradients
from .problem import Problem, draw_problem
from .products import NormProfile
from .spectrum import BoundFactors, Spectrum, bound_factors, pascanu_log10_bound, spectrum
from .truncation import (
    RandomizedTruncationResult,
    TruncationResult,
    randomized_truncation,
    truncated_gradients,
)

CELLS = cell_names()
HORIZON_LOG10 = -3.0  # the gradient horizon: first distance where ||dh_T/dh_{T-l}|| < 1e-3
REGIME_RATE = 0.01  # decades per step: below -REGIME_RATE vanishing, above +REGIME_RATE exploding
INPUT_HORIZON_DROP = 3.0  # the memory horizon: input sensitivity 1e3 below its value at l = 0


@dataclass(frozen=True)
class GradientFlowConfig:
    """Every control of the explorer. Choices are validated here; numeric bounds by callers.

    ``nonlinearity`` is the vanilla RNN's phi. The gated cells ignore it: like PyTorch's
    LSTMCell and GRUCell they use sigmoid gates and tanh candidates and outputs.
    ``gru_form`` (pytorch | lecture) applies to cell=gru only, ``peephole`` to cell=lstm
    only. ``forget_bias`` is added to the LSTM's forget-gate rows of bias_ih,
    ``update_bias`` to the GRU's update-gate rows (z in the pytorch form, u in the
    lecture form); the other cells ignore them.
    ``truncation`` is the window tau of truncated BPTT (0: full BPTT, as is any tau >= T:
    the window then holds every step, see ``window``); ``keep_prob`` < 1
    asks for ``draws`` randomized truncations keeping each step with that probability.
    Either one adds the truncation error of dL/dW_hh for every window to the result.
    """

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
    gru_form: str = "pytorch"
    peephole: bool = False
    forget_bias: float = 0.0
    update_bias: float = 0.0
    truncation: int = 0
    keep_prob: float = 1.0
    draws: int = 20

    def __post_init__(self) -> None:
        check_choices({name: getattr(self, name) for name in CHOICES})
        for name in ("hidden_size", "input_size", "seq_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if not (self.clip_threshold > 0 and np.isfinite(self.clip_threshold)):
            raise ValueError("clip_threshold must be a finite number > 0")
        if not (self.scale >= 0 and self.input_scale >= 0):
            raise ValueError("scale and input_scale must be >= 0")
        if not isinstance(self.peephole, bool | np.bool_):
            raise ValueError("peephole must be true or false")
        for name in ("forget_bias", "update_bias"):
            if not np.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be a finite number")
        if self.truncation < 0:
            raise ValueError("truncation must be >= 0")
        if not (0.0 < self.keep_prob <= 1.0):
            raise ValueError("keep_prob must lie in (0, 1]")
        if self.draws < 1:
            raise ValueError("draws must be >= 1")

    @property
    def window(self) -> int | None:
        """The truncation window in effect, 1..T, or None for full BPTT."""
        return min(self.truncation, self.seq_len) if self.truncation > 0 else None

    @property
    def wants_truncation(self) -> bool:
        return self.truncation > 0 or self.keep_prob < 1.0

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class Summary:
    """regime: by the rate, ``vanishing`` (log10_rate_per_step < -REGIME_RATE = -0.01 decades
        per step), ``exploding`` (> +0.01) or ``neither``; the same weights get the same word
        at every sequence length.
    log10_rate_per_step: the per-step rate in decades, the least-squares slope through the
        origin of the profile p_l = log10 ||dh_T/dh_{T-l}||_2 over l = 1..T,
        sum_l l p_l / sum_l l^2, over the finite entries; None if there is none.
    horizon: the gradient horizon, the first distance l with ||dh_T/dh_{T-l}||_2 < 1e-3,
        None if never.
    log10_growth_per_step: log10 ||dh_T/dh_0||_2 / T (None if the product is exactly 0).
    gamma_sigma_max: gamma * sigma_max(W_hh); < 1 guarantees vanishing (Pascanu's condition).
    peak_log10, peak_distance: the largest log10 ||dh_T/dh_{T-l}||_2 over l >= 1 and where.
    input_horizon: the memory horizon, the first l at which
        ||dh_T/dx_{T-l}||_2 is 1e3 below ||dh_T/dx_T||_2; None if never.

    For the LSTM, ``dh_T/dh_{T-l}`` above reads as the joint d(h_T, c_T)/d(h_{T-l}, c_{T-l}).
    gamma, gamma_sigma_max and vanishing_guaranteed belong to Pascanu's bound, which holds
    for the vanilla RNN only: they are None for the gated cells.
    """

    regime: str
    log10_rate_per_step: float | None
    horizon: int | None
    log10_growth_per_step: float | None
    gamma: float | None
    gamma_sigma_max: float | None
    vanishing_guaranteed: bool | None
    peak_log10: float
    peak_distance: int
    input_horizon: int | None


@dataclass(frozen=True)
class GradientFlowResult:
    """distance : (T + 1,) l = 0..T.  trace : the cell's forward run (RNNTrace, LSTMTrace or
    GRUTrace).
    profile : log10 ||dh_T/dh_{T-l}||, l = 0..T; for the LSTM the joint (2n x 2n) product
        d(h_T, c_T)/d(h_{T-l}, c_{T-l}).
    input_sensitivity : log10 ||dh_T/dx_{T-l}||, l = 0..T-1.
    log10_bound : (T + 1,) Pascanu's l * log10(gamma * sigma_max); None for gated cells.
    bound_factors : the RNN's bound as the lecture writes it, the weight factor
        l log10 ||W_hh||_2 and the slope factor sum over the last l steps of
        log10 max_i |phi'(a_t,i)|, whose sum bounds the spectral profile at every l; None for
        the gated cells (their step Jacobian is not diag(phi') W_hh).
    spectrum : of W_hh (rnn), or of the recurrent block feeding the candidate: the g rows
        W_hg of weight_hh (lstm), the n rows W_hn (gru).
    gradient : BPTTGradient of L = 1/2 ||h_T - y||^2; grads over weight_ih, weight_hh,
        bias_ih, bias_hh (and peephole for a peephole LSTM).
    blocks : {} for rnn and gru; for the LSTM ``hh`` (dh_T/dh_{T-l} with c_{T-l} held fixed)
        and ``cc`` (dc_T/dc_{T-l}), blocks of the joint product, l = 0..T.
    gates : gate activations over steps t = 1..T, each (T, n): lstm ``i``, ``f``, ``g``,
        ``o`` and the cell state ``c``; gru ``r`` and ``z`` (pytorch) or ``u`` (lecture);
        {} for rnn.
    gate_means : (T,) the mean over units of each gate, same keys.
    truncation : the relative error of truncated BPTT in dL/dW_hh for every window
        tau = 1..T, when the config asks for truncation (else None).
    randomized : ``draws`` randomized truncations with ``keep_prob``, when keep_prob < 1.
    """

    config: GradientFlowConfig
    problem: Problem
    trace: Any
    distance: np.ndarray
    profile: NormProfile
    input_sensitivity: NormProfile
    log10_bound: np.ndarray | None
    spectrum: Spectrum
    gradient: BPTTGradient
    clipping: ClipResult
    summary: Summary
    blocks: dict[str, NormProfile]
    gates: dict[str, np.ndarray]
    gate_means: dict[str, np.ndarray]
    truncation: TruncationResult | None = None
    randomized: RandomizedTruncationResult | None = None
    bound_factors: BoundFactors | None = None


def memory_horizon(log10_profile: np.ndarray, drop: float = 3.0) -> int | None:
    """The first index l with log10_profile[l] < log10_profile[0] - drop (strictly), None if
    there is none (or if the value at l = 0 is -inf, nothing lies below it)."""
    s = np.asarray(log10_profile, dtype=float)
    if s.size == 0:
        return None
    below = np.flatnonzero(s < s[0] - drop)
    return int(below[0]) if below.size else None


def rate_per_step(log10_profile: np.ndarray) -> float | None:
    """The least-squares slope through the origin of log10_profile[l] over l = 1..T, in
    decades per step: sum l p_l / sum l^2 over the finite entries; None if none is finite."""
    p = np.asarray(log10_profile, dtype=float)[1:]
    distance = np.arange(1, p.size + 1, dtype=float)
    ok = np.isfinite(p)
    if not ok.any():
        return None
    return float(np.dot(distance[ok], p[ok]) / np.dot(distance[ok], distance[ok]))


def regime_of(rate: float | None) -> str:
    """The word for a rate in decades per step: vanishing below -REGIME_RATE, exploding above
    +REGIME_RATE, else neither. No finite entry (the product is exactly 0 from l = 1 on)
    is vanishing."""
    if rate is None or rate < -REGIME_RATE:
        return "vanishing"
    return "exploding" if rate > REGIME_RATE else "neither"


def summarize(
    profile: NormProfile,
    gamma: float | None,
    spec: Spectrum,
    input_sensitivity: NormProfile | None = None,
) -> Summary:
    """The summary of a run; gamma None (a gated cell) leaves Pascanu's quantities None."""
    s = profile.spectral
    below = np.flatnonzero(s < HORIZON_LOG10)
    final = float(s[-1])
    rate = rate_per_step(s)
    t_len = len(s) - 1
    peak = int(np.argmax(s[1:])) + 1 if t_len >= 1 else 0
    bound = None if gamma is None else gamma * spec.spectral_norm
    return Summary(
        regime=regime_of(rate),
        log10_rate_per_step=rate,
        horizon=int(below[0]) if below.size else None,
        log10_growth_per_step=final / t_len if np.isfinite(final) and t_len else None,
        gamma=gamma,
        gamma_sigma_max=bound,
        vanishing_guaranteed=None if bound is None else bound < 1.0,
        peak_log10=float(s[peak]),
        peak_distance=peak,
        input_horizon=(
            None
            if input_sensitivity is None
            else memory_horizon(input_sensitivity.spectral, INPUT_HORIZON_DROP)
        ),
    )


PARAM_TENSORS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
STATE_TENSORS = ("inputs", "h0", "c0", "target")
TENSORS = (*PARAM_TENSORS, "peephole", *STATE_TENSORS)
_UNUSED = {
    "c0": "c0 is for cell=lstm only",
    "peephole": "peephole is for cell=lstm with peephole=true only",
}


class TensorShapeError(ValueError):
    """A given tensor that does not fit the configuration.

    name : the tensor (a PyTorch state_dict name, or inputs, h0, c0, target)
    expected : the shape the configuration asks for; None if the tensor has no place in it
    got : the shape given; None if the tensor is missing
    """

    def __init__(self, name: str, expected: tuple | None, got: tuple | None, why: str = ""):
        self.name, self.expected, self.got = name, expected, got
        if got is None:
            message = f"{name} is required{why} (shape {expected})"
        elif expected is None:
            message = why or f"{name} has no place in this configuration"
        else:
            message = f"expected shape {expected}, got {got}"
        super().__init__(message)
        self.message = message


def check_problem(config: GradientFlowConfig, problem: Problem) -> None:
    """Raise TensorShapeError if a tensor of ``problem`` does not fit ``config``."""
    shapes = tensor_shapes(config)
    p = problem.params
    found = {name: getattr(p, name) for name in PARAM_TENSORS}
    found["peephole"] = getattr(p, "peephole", None)
    found.update({name: getattr(problem, name) for name in STATE_TENSORS})
    for name, value in found.items():
        expected = shapes.get(name)
        if value is None and expected is not None:
            raise TensorShapeError(name, expected, None)
        if value is not None and np.shape(value) != expected:
            raise TensorShapeError(name, expected, np.shape(value), _UNUSED.get(name, ""))
    cell = get_cell(config.cell)
    kind = cell.params_type.__name__
    if not isinstance(p, cell.params_type):
        raise ValueError(f"cell={config.cell} needs {kind}, got {type(p).__name__}")
    cell.check_params(p, cell_options(cell, config))


def draw_config_problem(config: GradientFlowConfig) -> Problem:
    """The problem the configuration draws from its seed."""
    return draw_problem(
        seed=config.seed,
        hidden_size=config.hidden_size,
        input_size=config.input_size,
        seq_len=config.seq_len,
        init=config.init,
        scale=config.scale,
        input=config.input,
        input_scale=config.input_scale,
        h0=config.h0,
        cell=config.cell,
        **cell_options(get_cell(config.cell), config),
    )


def tensor_shapes(config: GradientFlowConfig) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor the configuration uses, under PyTorch's state_dict names."""
    n, d, t = config.hidden_size, config.input_size, config.seq_len
    cell = get_cell(config.cell)
    rows = cell.gate_rows * n
    shapes = {
        "weight_ih": (rows, d),
        "weight_hh": (rows, n),
        "bias_ih": (rows,),
        "bias_hh": (rows,),
        "inputs": (t, d),
        "h0": (n,),
        "target": (n,),
    }
    shapes.update(cell.tensor_shapes(n, cell_options(cell, config)))
    return shapes


def given_problem(config: GradientFlowConfig, tensors: Mapping[str, np.ndarray]) -> Problem:
    """The configuration's problem with the given tensors in place of the drawn ones.

    The four parameters weight_ih, weight_hh, bias_ih, bias_hh come together (all or none;
    a peephole LSTM needs ``peephole`` too); inputs, h0, c0 (LSTM only) and target may each be
    given alone. Tensors not given are drawn from the seed exactly as ``gradient_flow(config)``
    draws them. Given parameters are used as they are: ``init``, ``scale``, ``forget_bias`` and
    ``update_bias`` shape the drawn parameters only. Raises TensorShapeError for a tensor of
    the wrong shape, a missing one or one the configuration has no use for; ValueError for
    a tensor that is not finite.
    """
    shapes = tensor_shapes(config)
    arrays = {}
    for name, value in tensors.items():
        if name not in shapes:
            why = _UNUSED.get(name, f"unknown tensor {name!r}; known: {', '.join(TENSORS)}")
            raise TensorShapeError(name, None, np.shape(value), why)
        a = np.asarray(value, dtype=float)
        if a.shape != shapes[name]:
            raise TensorShapeError(name, shapes[name], a.shape)
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} has entries that are not finite")
        arrays[name] = a
    given_params = [k for k in PARAM_TENSORS if k in arrays]
    if "peephole" in arrays or given_params:
        for name in (*PARAM_TENSORS, "peephole"):
            if name in shapes and name not in arrays:
                raise TensorShapeError(name, shapes[name], None, " with the other parameters")
    drawn = draw_config_problem(config)
    params = drawn.params
    if given_params:
        params = replace(
            params, **{k: arrays[k] for k in (*PARAM_TENSORS, "peephole") if k in arrays}
        )
    return replace(drawn, params=params, **{k: arrays[k] for k in STATE_TENSORS if k in arrays})


def gradient_flow(
    config: GradientFlowConfig, *, problem: Problem | None = None, method: str = "auto"
) -> GradientFlowResult:
    """Draw the problem (or take the given one, see ``given_problem``), run the cell, and
    measure how gradients flow back through time."""
    problem = draw_config_problem(config) if problem is None else problem
    check_problem(config, problem)
    cell, p = get_cell(config.cell), problem.params
    options = cell_options(cell, config)
    trace = cell.forward(p, problem.inputs, problem.h0, problem.c0, options)
    prof = profiles(cell, p, trace, method=method)
    spec = spectrum(cell.recurrent_weight(p))
    gamma = cell.gamma(options)
    bound = (
        None
        if gamma is None
        else pascanu_log10_bound(
            gamma, spec.spectral_norm, config.seq_len, spec.log10_spectral_norm
        )
    )
    gradient = bptt(cell, p, trace, problem.inputs, target=problem.target)
    gates = cell.gate_activations(trace)
    profile, input_sensitivity = prof.state, prof.input
    return GradientFlowResult(
        config=config,
        problem=problem,
        trace=trace,
        distance=np.arange(config.seq_len + 1),
        profile=profile,
        input_sensitivity=input_sensitivity,
        log10_bound=bound,
        spectrum=spec,
        gradient=gradient,
        clipping=clip_gradients(gradient.grads, config.clip, config.clip_threshold),
        summary=summarize(profile, gamma, spec, input_sensitivity),
        blocks=prof.blocks,
        gates=gates,
        gate_means={k: v.mean(axis=1) for k, v in gates.items()},
        truncation=truncated_gradients(gradient.terms) if config.wants_truncation else None,
        randomized=(
            randomized_truncation(gradient.terms, config.keep_prob, config.draws, config.seed)
            if config.keep_prob < 1.0
            else None
        ),
        bound_factors=(
            None
            if gamma is None
            else bound_factors(spec.spectral_norm, trace.log_dphi, spec.log10_spectral_norm)
        ),
    )
