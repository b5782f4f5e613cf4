"""A user's trained network analysed: everything /network shows of it where that is affordable,
and the matrix-free analysis (engine.probes) where it is not.

The model comes from engine.model_io (a PyTorch state_dict mapped onto engine.network); its
inputs are the user's sequences, (T, d) or a batch (B, T, d), or drawn from the seed as
/network draws them (and the targets likewise). Two modes, chosen by the caller (the server
and bpttlab.analyze choose by the exact mode's estimated cost):

- ``exact``: engine.network_maps on the selected sequence (the same numbers as /network with
  these weights: the layer-time map, the influence maps and their union, the double sum's
  terms, the loss and the gradient), and every (layer, direction)'s Jacobian norms
  ||dh_T/dh_{T-l}|| (and for the LSTM ||dh_T/d(h, c)_{T-l}||), Frobenius and spectral, by the
  engine's log-domain product code (engine.products: exact SVDs up to n = 64, certified to
  1e-9 beyond);
- ``matrix_free``: engine.probes.matrix_free: the layer-time map exact (one backward pass),
  the Jacobian norms estimated by k random probes (Frobenius with its standard error, a lower
  bound of the spectral norm); no influence or terms map (each is T^2 products of the whole
  state).

Every number carries its method ("exact", "estimate", "lower_bound"): engine.probes.Series.

With a batch (B > 1), the selected sequence (``sequence``) gets the analysis above, and every
sequence its loss and its exact layer-time map, summarised as their geometric mean over the
batch (the mean of the log10 values; -inf where any sequence's gradient is exactly zero).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from .cells import get_cell
from .model_io import LoadedModel, TensorShapeError
from .network import DIRECTION_NAMES, NetworkConfig, cell_params, network_forward
from .network_maps import LayerMeans, NetworkMaps, layer_means, network_maps
from .probes import PRECISIONS, Series, exact_layer_time, jacobian_estimates
from .products import View, product_norm_profile

MODES = ("exact", "matrix_free")

Progress = Callable[[str, float], None]


class AnalysisCancelled(Exception):
    """The caller's ``cancelled()`` said stop."""


@dataclass(frozen=True)
class JacobianNorms:
    """One Jacobian of one (layer, direction) over l = 0..T (distance in the direction's own
    time order): frobenius and spectral Series (exact, or an estimate and a lower bound);
    probes : k for estimates, None when exact; precision : the arithmetic of the sweep."""

    frobenius: Series
    spectral: Series
    probes: int | None
    precision: str = "float64"


@dataclass(frozen=True)
class BatchSummary:
    """size : B; losses : (B,) each sequence's loss; layer_time_mean : {direction: (L, T)} the
    mean over the B sequences of log10 ||dL/dh_t|| (-inf where any of them is zero)."""

    size: int
    losses: np.ndarray
    layer_time_mean: dict[str, np.ndarray]


@dataclass(frozen=True)
class ModelAnalysis:
    """model : LoadedModel (its summary is shown back to the user); config : the analysed
    NetworkConfig (seq_len from the inputs when given); mode : "exact" | "matrix_free";
    origin : {"inputs", "targets"}: "given" or "drawn"; sequence : the analysed sequence of
    the batch; loss; layer_time : {direction: Series (L, T)}, exact; layer_means :
    {direction: LayerMeans}; jacobians : {direction: per layer {"h", and for the LSTM
    "h_state"}: JacobianNorms}; maps : /network's NetworkMaps in exact mode, else None;
    batch : BatchSummary when B > 1; probes, probe_seed : the probes' count and seed
    (matrix_free)."""

    model: LoadedModel
    config: NetworkConfig
    mode: str
    origin: dict[str, str]
    sequence: int
    loss: float
    layer_time: dict[str, Series]
    layer_means: dict[str, LayerMeans]
    jacobians: dict[str, list[dict[str, JacobianNorms]]]
    maps: NetworkMaps | None
    batch: BatchSummary | None
    probes: int | None
    probe_seed: int | None


def _batch(model: LoadedModel, inputs: np.ndarray | None) -> np.ndarray | None:
    if inputs is None:
        return None
    x = np.asarray(inputs, dtype=float)
    if x.ndim == 2:
        x = x[None]
    d = model.config.input_size
    if x.ndim != 3 or x.shape[-1] != d or 0 in x.shape:
        raise TensorShapeError(
            f"inputs have shape {x.shape}; expected (T, {d}) or (B, T, {d})",
            tensor="inputs", expected=("T", d), actual=x.shape,
        )  # fmt: skip
    return x


def analyze_model(
    model: LoadedModel, inputs: np.ndarray | None = None, targets: np.ndarray | None = None, *,
    mode: str = "exact", probes: int = 32, probe_seed: int = 0, sequence: int = 0,
    precision: str = "float64", progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ModelAnalysis:  # fmt: skip
    """Analyse ``model`` on ``inputs`` ((T, d) or (B, T, d); drawn from the model's seed at
    its seq_len when None) with ``targets`` (the selected sequence's; drawn when None).

    mode : "exact" | "matrix_free" (see the module); probes, probe_seed, precision : the
    matrix-free sweep's (engine.probes); sequence : which sequence of a batch gets the full
    analysis. progress(words, fraction) is called as the work advances (fraction in [0, 1]);
    cancelled() is asked between stages, and True raises AnalysisCancelled."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {list(MODES)}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}")
    report = progress or (lambda words, fraction: None)
    stop = cancelled or (lambda: False)

    def check() -> None:
        if stop():
            raise AnalysisCancelled("the analysis was cancelled")

    x = _batch(model, inputs)
    if x is not None:
        if not 0 <= sequence < x.shape[0]:
            raise TensorShapeError(
                f"sequence {sequence} is not in the batch of {x.shape[0]}",
                tensor="sequence", expected=f"0..{x.shape[0] - 1}", actual=sequence,
            )  # fmt: skip
        model = replace(model, config=replace(model.config, seq_len=x.shape[1]))
    elif sequence != 0:
        raise TensorShapeError(
            "sequence selects one of the given inputs; none were given",
            tensor="sequence", expected=0, actual=sequence,
        )  # fmt: skip
    config = model.config
    problem, origin = model.problem(None if x is None else x[sequence], targets)
    batched = x is not None and x.shape[0] > 1
    main = report if not batched else (lambda words, fraction: report(words, 0.9 * fraction))
    main("forward and backward passes", 0.0)
    check()
    if mode == "exact":
        result = _exact(config, problem, main, check)
    else:
        result = _matrix_free(config, problem, probes, probe_seed, precision, main, check)
    loss, layer_time, jacobians, maps = result
    batch = None
    if batched:
        batch = _batch_summary(config, problem, x, report, check)
    report("done", 1.0)
    return ModelAnalysis(
        model=model, config=config, mode=mode, origin=origin, sequence=sequence, loss=loss,
        layer_time=layer_time,
        layer_means={name: layer_means(s.log10) for name, s in layer_time.items()},
        jacobians=jacobians, maps=maps, batch=batch,
        probes=probes if mode == "matrix_free" else None,
        probe_seed=probe_seed if mode == "matrix_free" else None,
    )  # fmt: skip


# the share of the work each stage takes, for the progress fraction (rough: measured on the
# issue's sizes; the fraction only has to grow)
_EXACT_STAGES = {"passes": (0.0, 0.1), "influence": (0.1, 0.6), "terms": (0.6, 0.8)}


def _exact(config, problem, report, check):
    def stage(name: str, fraction: float) -> None:
        check()
        lo, hi = _EXACT_STAGES[name]
        report({"passes": "forward and backward passes", "influence": "influence maps",
                "terms": "terms of the double sum"}[name], lo + (hi - lo) * fraction)  # fmt: skip

    maps = network_maps(config, problem, stage=stage)
    r = maps.result
    layer_time = {name: Series(m, "exact") for name, m in r.gradient.layer_time.items()}
    jacobians = _exact_jacobians(config, problem.weights, r.trace, report, check, 0.8)
    return r.loss, layer_time, jacobians, maps


def _exact_jacobians(config, weights, trace, report, check, start):
    """Every (layer, direction)'s Jacobian norms by the log-domain product code."""
    cell = get_cell(config.cell)
    n = config.hidden_size
    out: dict[str, list[dict[str, JacobianNorms]]] = {
        DIRECTION_NAMES[d]: [] for d in range(config.directions)
    }
    total = config.num_layers * config.directions
    for k in range(config.num_layers):
        for d in range(config.directions):
            check()
            done = k * config.directions + d
            where = f"layer {k + 1}" + (f" {DIRECTION_NAMES[d]}" if config.directions == 2 else "")
            report(f"Jacobian norms, {where}", start + (1.0 - start) * done / total)
            params = cell_params(config, weights, k, d)
            tr = trace.traces[k][d]
            t_len = config.seq_len
            size = cell.state_factor * n
            views = {
                "h": View(lambda m, l: (m[:n, :n], 0.0), t_len),
                "h_state": View(lambda m, l: (m[:n], 0.0), t_len),
            }
            factors = cell.step_factors(params, tr)
            if size > n:  # the LSTM: the h block and the h rows of the (h, c) product
                _, parts = product_norm_profile(factors, size, method="auto", views=views)
                entry = {"h": _exact_norms(parts["h"]), "h_state": _exact_norms(parts["h_state"])}
            else:
                entry = {"h": _exact_norms(product_norm_profile(factors, size, method="auto"))}
            out[DIRECTION_NAMES[d]].append(entry)
    return out


def _exact_norms(profile) -> JacobianNorms:
    return JacobianNorms(
        Series(np.asarray(profile.frobenius), "exact"),
        Series(np.asarray(profile.spectral), "exact"),
        None,
    )


def _matrix_free(config, problem, probes, seed, precision, report, check):
    trace = network_forward(config, problem.weights, problem.inputs, problem.targets)
    check()
    report("exact backward pass", 0.1)
    layer_time = {
        name: Series(m, "exact")
        for name, m in exact_layer_time(config, problem.weights, trace, problem.targets).items()
    }

    def each(done: int, total: int) -> None:
        check()
        where = f"layer {done // config.directions + 1}"
        if config.directions == 2:
            where += " " + DIRECTION_NAMES[done % 2]
        report(f"Jacobian norms by {probes} probes, {where}", 0.2 + 0.7 * done / total)

    est = jacobian_estimates(
        config, problem.weights, trace, probes=probes, seed=seed, precision=precision, each=each
    )
    jacobians = {
        name: [
            {
                q: JacobianNorms(e.frobenius, e.spectral, e.probes, e.precision)
                for q, e in layer.items()
            }
            for layer in layers
        ]
        for name, layers in est.items()
    }
    return trace.loss, layer_time, jacobians, None


def _batch_summary(config, problem, x, report, check) -> BatchSummary:
    """Every sequence's loss and exact layer-time map (the selected one's targets for all)."""
    losses, maps = [], []
    for b in range(x.shape[0]):
        check()
        report(f"every sequence's gradient: {b + 1} of {x.shape[0]}", 0.9 + 0.1 * b / x.shape[0])
        trace = network_forward(config, problem.weights, x[b], problem.targets)
        losses.append(trace.loss)
        maps.append(exact_layer_time(config, problem.weights, trace, problem.targets))
    mean = {name: np.mean([m[name] for m in maps], axis=0) for name in maps[0]}
    return BatchSummary(x.shape[0], np.array(losses), mean)


__all__ = [
    "MODES",
    "AnalysisCancelled",
    "BatchSummary",
    "JacobianNorms",
    "ModelAnalysis",
    "analyze_model",
]
