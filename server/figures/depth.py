"""Gradients through depth (/depth): the per-layer gradient norm (one line per architecture
when comparing), the weights' gradients, the activations as a layer x value heatmap, and the
input-output Jacobian's singular values. Every caption is read off the numbers."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...engine.depth import DepthResult, DepthRun
from ..serialize import finite_list
from .style import (
    BLUE,
    GREEN,
    LOG10,
    ORANGE,
    PURPLE,
    Figure,
    figure,
    layout,
    line,
    norm,
    num,
    power,
)

ARCH_STYLE = {
    "plain": (BLUE, "solid"),
    "residual": (ORANGE, "dash"),
    "dense": (GREEN, "dot"),
    "highway": (PURPLE, "dashdot"),
}
VANISHED, EXPLODED = -3.0, 3.0  # log10 ratio: below 1e-3 "vanishes", above 1e3 "explodes"
WITHIN = 1.0  # |log10 ratio| <= 1: "stays within 10x"
# dynamical isometry: every singular value near 1, here within a factor 2 (log10 2)
ISOMETRY = float(np.log10(2.0))
GRAD_H = "dL/dh<sub>l</sub>"
GRAD_W = "dL/dW<sub>l</sub>"
LEGEND = {"orientation": "h", "x": 0, "y": -0.25, "yanchor": "top"}


def ratio_words(log10_ratio: float | None) -> str:
    """What the input's gradient is against the output's, in words."""
    if log10_ratio is None or log10_ratio == -np.inf:
        return "is exactly 0: the gradient does not reach the input"
    size = power(log10_ratio)
    if log10_ratio < VANISHED:
        return f"is {size} times the output's: it vanishes"
    if log10_ratio > EXPLODED:
        return f"is {size} times the output's: it explodes"
    if abs(log10_ratio) <= WITHIN:
        return f"is {size} times the output's: within 10x"
    return f"is {size} times the output's"


def _name(r: DepthResult, run: DepthRun) -> str:
    if run.architecture == "residual":
        return f"residual (α = {num(r.config.alpha)})"
    if run.architecture == "highway":
        return f"highway (gate bias {num(r.config.gate_bias)})".replace("-", "\u2212")
    if run.architecture == "dense":
        return f"dense (growth {r.config.growth})"
    return "plain"


def gradient_figure(r: DepthResult) -> Figure:
    layers = list(range(r.config.depth + 1))
    data = []
    for run in r.runs.values():
        color, dash = ARCH_STYLE[run.architecture]
        data.append(
            line(
                layers,
                finite_list(run.log10_grad),
                _name(r, run),
                color,
                dash,
                hovertemplate=f"{run.architecture}: layer %{{x}}, {LOG10} %{{y:.3f}}"
                "<extra></extra>",
            )
        )
    sentences = [
        f"{run.architecture}: the input's gradient {ratio_words(_finite(run.log10_ratio))}"
        for run in r.runs.values()
    ]
    layers = "1 layer" if r.config.depth == 1 else f"{r.config.depth} layers"
    lead = f"Gradient norm per layer over {layers} (layer 0 is the input). "
    summary = lead + "; ".join(sentences) + "."
    if r.config.tied:
        summary += " Every layer uses the same weight matrix (tied)."
    made = layout(
        f"{norm(GRAD_H)} per layer",
        {"title": {"text": "layer l (0 = input)"}},
        {"title": {"text": f"{LOG10} {norm(GRAD_H)}"}},
        legend=LEGEND,
    )
    return figure("Gradient through depth", summary, data, made)


def weight_figure(r: DepthResult) -> Figure:
    layers = list(range(1, r.config.depth + 1))
    data, parts = [], []
    for run in r.runs.values():
        color, dash = ARCH_STYLE[run.architecture]
        data.append(line(layers, finite_list(run.log10_grad_weight), _name(r, run), color, dash))
        first, last = _finite(run.log10_grad_weight[0]), _finite(run.log10_grad_weight[-1])
        parts.append(f"{run.architecture}: {power(first)} at layer 1, {power(last)} at layer "
                     f"{r.config.depth}")  # fmt: skip
    tied = " (tied: each layer's term of the shared matrix's gradient)" if r.config.tied else ""
    summary = f"Frobenius norm of each layer's weight gradient{tied}: " + "; ".join(parts) + "."
    made = layout(
        f"{norm(GRAD_W)} per layer",
        {"title": {"text": "layer l"}},
        {"title": {"text": f"{LOG10} {norm(GRAD_W)}"}},
        legend=LEGEND,
    )
    return figure("Weight gradients", summary, data, made)


def _finite(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else (None if x == -np.inf else x)


SATURATION_WORD = {
    "relu": "dead (input at or below 0)",
    "tanh": "saturated",
    "sigmoid": "saturated",
}


def activation_figure(r: DepthResult) -> Figure:
    run = r.run
    edges = run.edges
    centres = ((edges[:-1] + edges[1:]) / 2).tolist()
    layers = list(range(r.config.depth + 1))
    data = [
        {
            "type": "heatmap",
            "x": centres,
            "y": layers,
            "z": finite_list(run.histogram),
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": "fraction"}, "thickness": 12},
            "hovertemplate": "layer %{y}, value %{x:.3g}: fraction %{z:.3f}<extra></extra>",
        }
    ]
    act = r.config.activation
    summary = (
        f"{run.architecture}: the values of h across the batch, layer by layer; their spread "
        f"(std) is {num(run.std[0])} at the input and {num(run.std[-1])} at layer "
        f"{r.config.depth}"
    )
    if act in SATURATION_WORD and not np.any(run.saturated > 0):
        summary += f"; no input of {act} is {SATURATION_WORD[act].split(' ')[0]} in any layer"
    elif act in SATURATION_WORD:
        k = int(np.argmax(run.saturated))
        summary += (
            f"; the most {SATURATION_WORD[act]} inputs of {act}: {run.saturated[k]:.0%} at "
            f"layer {k + 1}"
        )
    if run.gate_mean is not None:
        summary += f"; the gates' mean T goes from {num(run.gate_mean[0])} to " + (
            f"{num(run.gate_mean[-1])}"
        )
    made = layout(
        f"Activations h<sub>l</sub> by layer ({run.architecture})",
        {"title": {"text": "value"}},
        {"title": {"text": "layer l"}},
        showlegend=False,
        margin={"l": 56, "r": 12, "t": 40, "b": 56},
    )
    return figure("Activations", summary + ".", data, made)


def spectrum_words(run: DepthRun) -> str:
    spread = run.log10_spread
    if not np.isfinite(spread):
        return (
            f"{run.architecture}: some singular values are exactly 0 (rank-deficient); "
            f"sigma_max = {power(run.log10_singular[0])}"
        )
    if not run.spread_resolved:
        return (
            f"{run.architecture}: sigma_min is below rounding (spread at least "
            f"{power(spread)}): numerically rank-deficient"
        )
    far_from_one = max(abs(run.log10_singular[0]), abs(run.log10_singular[-1]))
    if far_from_one <= ISOMETRY:
        reading = "close to dynamical isometry: every singular value within a factor 2 of 1"
    elif spread <= 1:
        reading = "a narrow spectrum, but not isometry: the singular values are not near 1"
    elif spread > 3:
        reading = "far from dynamical isometry"
    else:
        reading = "some distortion"
    return (
        f"{run.architecture}: sigma_max / sigma_min = {power(spread)}, sigma_max = "
        f"{power(run.log10_singular[0])} ({reading})"
    )


def spectrum_figure(r: DepthResult) -> Figure:
    index = list(range(1, r.config.width + 1))
    data = []
    for run in r.runs.values():
        color, dash = ARCH_STYLE[run.architecture]
        data.append(line(index, finite_list(run.log10_singular), _name(r, run), color, dash))
    which = (
        "The one singular value" if r.config.width == 1
        else f"All {r.config.width} singular values"
    )  # fmt: skip
    summary = (
        f"{which} of the input-output Jacobian at the first input, largest first: "
        + "; ".join(spectrum_words(run) for run in r.runs.values()) + "."
    )  # fmt: skip
    made = layout(
        "Singular values of dy/dx",
        {"title": {"text": "index i (largest first)"}},
        {"title": {"text": f"{LOG10} σ<sub>i</sub>"}},
        legend=LEGEND,
    )
    return figure("Jacobian spectrum", summary, data, made)


def depth_figures(r: DepthResult) -> list[dict[str, Any]]:
    return [
        {"name": "gradient", **gradient_figure(r)},
        {"name": "weights", **weight_figure(r)},
        {"name": "activations", **activation_figure(r)},
        {"name": "spectrum", **spectrum_figure(r)},
    ]


def depth_numbers(r: DepthResult) -> list[dict[str, str]]:
    run = r.run
    spread = run.log10_spread
    return [
        {
            "name": "ratio",
            "label": f"Input gradient / output gradient ({run.architecture})",
            "value": power(_finite(run.log10_ratio)),
        },
        {
            "name": "spread",
            "label": "Largest / smallest singular value of dy/dx",
            "value": (power(spread) if run.spread_resolved else f"at least {power(spread)}")
            if np.isfinite(spread)
            else "infinite (a zero singular value)",
        },
        {"name": "loss", "label": "Loss", "value": num(run.loss)},
    ]
