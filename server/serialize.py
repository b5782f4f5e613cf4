"""Engine results to JSON: ndarrays to lists, every non-finite number to null.

JSON has no NaN or Infinity. A log10 norm of an exactly zero product is -inf in the
engine and null here; the API documents that null means "exactly zero" for a log10 value.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

import numpy as np
import orjson
from starlette.responses import JSONResponse as _StarletteJSON

from ..engine import GradientFlowResult
from ..engine import cliff as _cliff
from ..engine.cliff import LOG10_ZERO, CliffDescent, CliffSurface, ClipGeometry, DescentOutcome
from ..engine.compare import CompareResult
from ..engine.depth import DepthResult, DepthRun, state_dict
from ..engine.eigen import EigenResult
from ..engine.network import parameter_shapes
from ..engine.network_maps import NetworkMaps
from ..engine.products import NormProfile


class JSONResponse(_StarletteJSON):
    """Compact JSON that refuses NaN and Infinity (allow_nan=False): a bug, never a payload."""

    def render(self, content: Any) -> bytes:
        return dumps(content)


def dumps(content: Any) -> bytes:
    """json.dumps(content, allow_nan=False, separators=(",", ":")) value for value, encoded
    piece by piece (a row of a matrix at a time): one call over a 25 MB body would hold the
    GIL for a second or more, and the server's event loop with it.

    Flat lists of numbers (the arrays, which are most of every body) are written by orjson,
    about 15 times as fast as json (whose float repr is most of the cost of an uncached
    default gradient flow's encoding: 0.36 ms against 0.10). The numbers are the same:
    orjson also writes each float as the shortest string that reads back as that float;
    only the spelling of an exponent may differ (``1e-7`` for json's ``1e-07``,
    ``0.00001`` for ``1e-05``). Everything else is json's, byte for byte."""
    parts: list[str] = []
    _encode(content, parts.append)
    return "".join(parts).encode()


# one encoder for every piece: json.dumps with arguments builds a new JSONEncoder per call
_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
_NUMBERS = (float, int, type(None))


def _encode(value: Any, out) -> None:
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        out("{")
        for i, (k, v) in enumerate(value.items()):
            out(("," if i else "") + _ENCODER.encode(k) + ":")
            _encode(v, out)
        out("}")
    elif isinstance(value, list) and value and isinstance(value[0], list | dict):
        out("[")
        for i, v in enumerate(value):
            if i:
                out(",")
            _encode(v, out)
        out("]")
    elif type(value) is list and value and type(value[0]) in _NUMBERS:
        out(_numbers(value) or _ENCODER.encode(value))
    else:
        out(_ENCODER.encode(value))


def _numbers(value: list) -> str | None:
    """A flat list of numbers and nulls, encoded by orjson; None for any other list (json
    encodes it), and for one holding NaN or Infinity, which orjson would write as null: json
    then refuses it."""
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError:  # an integer beyond 64 bits, an unknown type
        return None
    if (
        encoded.count(b"[") != 1  # nested lists (after the first element)
        or b"{" in encoded
        or b'"' in encoded  # strings: json escapes them its own way
        or encoded.count(b"null") != value.count(None)  # NaN or Infinity written as null
    ):
        return None
    return encoded.decode()


def finite(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def finite_list(a: np.ndarray) -> list:
    """Nested lists of floats with null where a is not finite."""
    a = np.asarray(a, dtype=float)
    ok = np.isfinite(a)
    if ok.all():
        return a.tolist()
    return np.where(ok, a, None).tolist()


def profile(p: NormProfile) -> dict[str, list]:
    return {"spectral": finite_list(p.spectral), "frobenius": finite_list(p.frobenius)}


def _norms(d: dict[str, float] | None) -> dict[str, float | None] | None:
    return None if d is None else {k: finite(v) for k, v in d.items()}


def _weights(r: GradientFlowResult) -> dict[str, list]:
    """Every tensor of the run under PyTorch's state_dict names, plus inputs, h0 (c0), target."""
    params = r.problem.params
    out = {
        name: finite_list(getattr(params, name))
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    }
    if getattr(params, "peephole", None) is not None:
        out["peephole"] = finite_list(params.peephole)
    out["inputs"] = finite_list(r.problem.inputs)
    out["h0"] = finite_list(r.problem.h0)
    if r.problem.c0 is not None:
        out["c0"] = finite_list(r.problem.c0)
    out["target"] = finite_list(r.problem.target)
    return out


def _bound_factors(r: GradientFlowResult) -> dict[str, Any] | None:
    """The RNN's bound factor by factor (null for the gated cells)."""
    b = getattr(r, "bound_factors", None)
    if b is None:
        return None
    return {
        "weight": finite_list(b.weight),
        "slope": finite_list(b.slope),
        "median_slope": finite(b.median_slope),
    }


def gradient_flow_payload(r: GradientFlowResult, includes: frozenset[str]) -> dict[str, Any]:
    """The JSON body of GET /api/v1/gradient-flow."""
    g, c, s, spec = r.gradient, r.clipping, r.summary, r.spectrum
    config = asdict(r.config)
    config["include"] = ",".join(sorted(includes))
    body: dict[str, Any] = {
        "config": config,
        "distance": r.distance.tolist(),
        "log10_norm": profile(r.profile),
        "log10_input_sensitivity": profile(r.input_sensitivity),
        "log10_bound": None if r.log10_bound is None else finite_list(r.log10_bound),
        "bound_factors": _bound_factors(r),
        "spectrum": {
            "eigenvalues": {
                "real": finite_list(spec.eigenvalues.real),
                "imag": finite_list(spec.eigenvalues.imag),
            },
            "singular_values": finite_list(spec.singular_values),
            "spectral_radius": finite(spec.spectral_radius),
            "spectral_norm": finite(spec.spectral_norm),
        },
        "gradient": {
            "log10_loss": finite(g.log10_loss),
            "log10_dh": finite_list(g.log10_dh),
            "log10_contribution": finite_list(g.log10_contribution),
            "log10_norms": _norms(g.grads.log10_norms()),
            "log10_total_norm": finite(g.grads.log10_total_norm()),
            "clipping": {
                "mode": c.mode,
                "threshold": c.threshold,
                "log10_norm_before": finite(c.log10_norm_before),
                "log10_norm_after": finite(c.log10_norm_after),
                "log10_coefficient": finite(c.log10_coefficient),
                "cosine": finite(c.cosine),
                "log10_norms_after": _norms(c.log10_norms_after()),
                "log10_contribution": _maybe_list(c.scaled_contributions(g.log10_contribution)),
            },
        },
        "summary": {k: finite(v) if isinstance(v, float) else v for k, v in asdict(s).items()},
        "truncation": truncation_payload(r),
    }
    blocks = getattr(r, "blocks", None) or {}
    if blocks:
        body["log10_norm_blocks"] = {k: profile(v) for k, v in blocks.items()}
    gates = getattr(r, "gates", None) or {}
    if gates:
        means = getattr(r, "gate_means", {}) or {}
        body["gates"] = {
            k: {"values": finite_list(v), "mean": finite_list(means[k]) if k in means else None}
            for k, v in gates.items()
        }
    if "weights" in includes:
        body["weights"] = _weights(r)
    return body


TRUNCATION_TARGET = 1e-3  # the error the payload names the shortest sufficient window for


def truncation_payload(r: GradientFlowResult) -> dict[str, Any] | None:
    """Truncated BPTT's relative error in dL/dW_hh for every window, and the randomized
    draws; None when the query asks for neither."""
    t, rand, window = r.truncation, r.randomized, r.config.window
    if t is None:
        return None
    return {
        "window": window,
        "relative_error_at_window": None if window is None else t.error_at(window),
        "taus": t.taus.tolist(),
        "relative_error": finite_list(t.relative_error),
        "log10_relative_error": finite_list(t.log10_relative_error),
        "log10_full_norm": finite(t.log10_full_norm),
        "first_window_below_1e-3": t.first_tau_below(TRUNCATION_TARGET),
        "randomized": None
        if rand is None
        else {
            "keep_prob": rand.p,
            "draws": rand.draws,
            "kept_fraction": finite_list(rand.kept_fraction),
            "draw_error": finite_list(rand.draw_error),
            "mean_error": finite_list(rand.mean_error),
        },
    }


def _maybe_list(a: np.ndarray | None) -> list | None:
    return None if a is None else finite_list(a)


def compare_payload(r: CompareResult) -> dict[str, Any]:
    """The JSON body of GET /api/v1/compare."""
    config = asdict(r.config)
    for name in ("cell", "clip", "clip_threshold", "truncation", "keep_prob", "draws"):
        del config[name]
    return {
        "config": config,
        "distance": list(range(r.config.seq_len)),
        "cells": {
            cell: {
                "memory_horizon": m.horizon,
                "log10_input_sensitivity": profile(m.result.input_sensitivity),
                "log10_relative": finite_list(m.relative),
                "regime": m.result.summary.regime,
                "gate_means": {k: finite(v) for k, v in m.gate_means.items()},
                "keep_gate": m.keep_gate,
                "kept_per_step": finite(m.kept),
            }
            for cell, m in r.cells.items()
        },
    }


def log10_or_null(a: np.ndarray) -> list:
    """log10 values where the engine's LOG10_ZERO (an exactly zero value) becomes null."""
    a = np.asarray(a, dtype=float)
    return finite_list(np.where(a <= LOG10_ZERO, -np.inf, a))


def _cliff_outcome(o: DescentOutcome) -> dict[str, Any]:
    return {
        "median_loss_last": finite(o.median_loss),
        "best_loss_last": finite(o.best_loss),
        "last": o.tail,
        "thrown_at": o.thrown_at,
        "throw_length": finite(o.throw_length),
        "throw_ratio": finite(o.throw_ratio),
        "landing": None if o.landing is None else finite_list(np.array(o.landing)),
        "moved_last": finite(o.moved),
        "stalled": o.stalled,
        "plateau": o.plateau,
    }


def cliff_definitions(d: CliffDescent) -> dict[str, Any]:
    """The constants the outcomes are measured with (engine.cliff), and this run's bounds."""
    return {
        "last": _cliff.TAIL,
        "throw_factor": _cliff.THROW_FACTOR,
        "throw_window": _cliff.THROW_WINDOW,
        "stall_distance": _cliff.STALL_DISTANCE,
        "plateau_loss": _cliff.PLATEAU_LOSS,
        "step_bound": finite(d.step_bound),
        "clipped_step_max": finite(d.clipped_step_max),
    }


def cliff_payload(surface: CliffSurface, d: CliffDescent, geo: ClipGeometry, config) -> dict:
    """The JSON body of GET /api/v1/cliff."""
    outcomes = d.outcomes
    return {
        "config": config,
        "w": finite_list(surface.w),
        "b": finite_list(surface.b),
        "loss": finite_list(surface.loss),
        "log10_grad_norm": log10_or_null(surface.log10_grad_norm),
        "descent": {
            mode: {
                "points": finite_list(p.points),
                "loss": finite_list(p.loss),
                "log10_grad_norm": log10_or_null(p.log10_grad_norm),
                "step_length": finite_list(p.step_length),
                "diverged_at": p.diverged_at,
                "outcome": _cliff_outcome(outcomes[mode]),
            }
            for mode, p in d.paths.items()
        },
        "outcome_definitions": cliff_definitions(d),
        "clipping": {
            "point": list(geo.point),
            "log10_grad_norm": finite(geo.results["norm"].log10_norm_before),
            **{
                mode: {
                    "gradient": finite_list(geo.clipped[mode]),
                    "log10_norm_after": finite(r.log10_norm_after),
                    "cosine": finite(r.cosine),
                }
                for mode, r in geo.results.items()
            },
        },
    }


def eigen_payload(r: EigenResult, config: dict) -> dict[str, Any]:
    """The JSON body of GET /api/v1/eigen."""
    return {
        "config": config,
        "matrix": finite_list(r.matrix),
        "distance": r.distance.tolist(),
        "eigenvalues": {
            "real": finite_list(r.eigenvalues.real),
            "imag": finite_list(r.eigenvalues.imag),
        },
        "coefficients": {
            "real": finite_list(r.coefficients.real),
            "imag": finite_list(r.coefficients.imag),
        },
        "log10_component": finite_list(r.log10_component),
        "log10_direct": finite_list(r.log10_direct),
        "log10_expansion": finite_list(r.log10_expansion),
        "relative_difference": finite_list(r.relative_difference),
        "max_relative_difference": finite(r.max_relative_difference),
        "log10_power_norm": finite_list(r.log10_power_norm),
        "eigenvector_condition": finite(r.eigenvector_condition),
        "spectral_radius": finite(r.spectral_radius),
        "sigma_max": finite(r.sigma_max),
        "transient_growth": r.transient_growth,
        "peak_log10": finite(r.peak_log10),
        "peak_distance": r.peak_distance,
    }


def _depth_run(r: DepthRun) -> dict[str, Any]:
    """One architecture's numbers: log10 values, null where exactly 0."""
    return {
        "loss": finite(r.loss),
        "log10_grad": finite_list(r.log10_grad),
        "log10_grad_weight": finite_list(r.log10_grad_weight),
        "log10_grad_gate": _maybe_list(r.log10_grad_gate),
        "log10_ratio": finite(r.log10_ratio),
        "mean": finite_list(r.mean),
        "std": finite_list(r.std),
        "saturated": finite_list(r.saturated),
        "gate_mean": _maybe_list(r.gate_mean),
        "histogram": {"edges": finite_list(r.edges), "fractions": finite_list(r.histogram)},
        "log10_singular_values": finite_list(r.log10_singular),
        "log10_spread": finite(r.log10_spread),
        "spread_resolved": r.spread_resolved,
    }


def depth_payload(r: DepthResult, q) -> dict[str, Any]:
    """The JSON body of GET /api/v1/depth: the configuration (and the residual scale used),
    the layers l = 0..L, each run by architecture, and with include=weights every tensor under
    torch.nn.Sequential's names plus the inputs and the target."""
    body: dict[str, Any] = {
        "config": q.model_dump(),
        "alpha_used": r.config.alpha,
        "layers": list(range(r.config.depth + 1)),
        "runs": {name: _depth_run(run) for name, run in r.runs.items()},
    }
    if "weights" in q.includes:
        tensors = state_dict(r.config, r.problem)
        body["weights"] = {name: finite_list(w) for name, w in tensors.items()}
        body["inputs"] = finite_list(r.problem.inputs)
        body["target"] = finite_list(r.problem.target)
    return body


def _direction_maps(maps: dict[str, np.ndarray] | None) -> dict[str, list] | None:
    return None if maps is None else {k: finite_list(v) for k, v in maps.items()}


def torch_module(config) -> str | None:
    """The torch.nn module the network is, as code (None where torch.nn has none: an RNN
    with a sigmoid or identity nonlinearity, the lecture-form GRU)."""
    cls = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}.get(config.cell)
    if cls is None or (config.cell == "rnn" and config.nonlinearity not in ("tanh", "relu")):
        return None
    if config.cell == "gru" and config.gru_form != "pytorch":
        return None
    extra = f", nonlinearity={config.nonlinearity!r}" if config.cell == "rnn" else ""
    return (
        f"torch.nn.{cls}({config.input_size}, {config.hidden_size}, "
        f"num_layers={config.num_layers}{extra}, bidirectional={config.bidirectional}, "
        "dtype=torch.float64)"
    )


def network_weights(m: NetworkMaps) -> dict[str, Any]:
    """Every tensor of the run: ``rnn`` the state_dict of the equivalent torch module (its
    names, its order), ``output``, ``inputs``, ``targets`` and the zero initial states."""
    c, p = m.config, m.result.problem
    names = [k for k in parameter_shapes(c) if not k.startswith("output.")]
    zeros = np.zeros((c.num_layers * c.directions, c.hidden_size))
    out: dict[str, Any] = {
        "rnn": {name: finite_list(p.weights[name]) for name in names},
        "output": {
            "weight": finite_list(p.weights["output.weight"]),
            "bias": finite_list(p.weights["output.bias"]),
        },
        "inputs": finite_list(p.inputs),
        "targets": [int(t) for t in p.targets],
        "h0": zeros.tolist(),
    }
    if c.cell == "lstm":
        out["c0"] = zeros.tolist()
    return out


def network_payload(m: NetworkMaps, includes: frozenset[str]) -> dict[str, Any]:
    """The JSON body of GET (and POST) /api/v1/network."""
    r = m.result
    config = asdict(r.config)
    config["include"] = ",".join(sorted(includes))
    body: dict[str, Any] = {
        "config": config,
        "influence": _direction_maps(m.influence),
        "influence_union": None if m.union is None else finite_list(m.union),
        "layer_time": _direction_maps(r.gradient.layer_time),
        "terms": _direction_maps(m.terms),
        "loss": finite(r.loss),
        "gradient": {
            "log10_norms": _norms(r.gradient.grads.log10_norms()),
            "log10_total_norm": finite(r.gradient.grads.log10_total_norm()),
        },
        "summary": {
            "directions": {
                name: {k: finite(v) if isinstance(v, float) else v for k, v in asdict(s).items()}
                for name, s in m.directions.items()
            },
            "torch_module": torch_module(r.config),
        },
    }
    if "weights" in includes:
        body["weights"] = network_weights(m)
    return body
