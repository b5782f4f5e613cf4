"""Pascanu's bound on /explore: the vanilla RNN's bound factor by factor, the regime in
words, and the y-range of a profile that follows the measured curves (a bound above it is
cut at the top and labelled with its value at the end)."""

from __future__ import annotations

import math

import numpy as np

from ...engine import GradientFlowResult
from ...engine.gradient_flow import REGIME_RATE
from ..cells import STATE_LABEL
from ..serialize import finite, finite_list
from .style import (
    BLACK,
    BLUE,
    GREEN,
    LOG10,
    MINUS,
    VERMILLION,
    Figure,
    figure,
    layout,
    line,
    matrix,
    norm,
    power,
    text_color,
)

CUT_MARGIN = {"l": 56, "r": 12, "t": 62, "b": 96}  # the layout's margin, taller for the label
PAD = 0.08  # of the measured curves' extent, above and below


def regime_words(rate: float | None, regime: str) -> str:
    """The rate and the word with the thresholds, e.g. "-0.075 decades per step on average,
    below -0.01: vanishing"."""
    if rate is None:
        return "exactly 0 from l = 1 on: vanishing"
    where = {
        "vanishing": f"below -{REGIME_RATE:g}",
        "exploding": f"above +{REGIME_RATE:g}",
        "neither": f"within +-{REGIME_RATE:g}",
    }[regime]
    word = "neither vanishing nor exploding" if regime == "neither" else regime
    return f"{rate:+.3g} decades per step on average, {where}: {word}"


def measured_range(curves: list[np.ndarray], also: tuple[float, ...] = ()) -> list[float]:
    """[low, high] over the finite values of the measured curves and ``also``, padded."""
    values = [float(v) for c in curves for v in np.asarray(c, dtype=float) if math.isfinite(v)]
    values += list(also)
    low, high = min(values), max(values)
    pad = max(PAD * (high - low), 0.25)
    return [low - pad, high + pad]


def cut_bound_note(bound: np.ndarray, y_range: list[float], name: str, color: str) -> dict | None:
    """The label of a bound that runs off the top of y_range: its value at the end, just above
    the plot (the figure's top margin is made room for, see ``CUT_MARGIN``)."""
    top = finite(bound[-1])
    if top is None or top <= y_range[1]:
        return None
    return {
        "xref": "paper",
        "x": 1,
        "xanchor": "right",
        "yref": "paper",
        "y": 1,
        "yanchor": "bottom",
        "text": f"{name} off the top: {power(top)} at l = {len(bound) - 1}",
        "showarrow": False,
        "font": {"size": 11, "color": text_color(color)},
    }


def _slope_words(r: GradientFlowResult) -> str:
    b = r.bound_factors
    mean_top = b.mean_top_slope
    if mean_top is None:
        return (
            "A step whose every slope phi'(a_t,i) is exactly 0 makes the slope factor, the "
            "bound and the product exactly 0 from that step back."
        )
    sentence = (
        f"Each step's largest slope |phi'| averages {mean_top:.3g} (geometric mean), while the "
        f"median slope over all steps and units is {b.median_slope:.3g}"
    )
    if b.median_slope < 0.1:
        state = "off (slope 0)" if b.median_slope == 0 else "saturated (slope below 0.1)"
        sentence += (
            f": most units are {state}, which the bound, keeping only the steepest unit of "
            "each step, does not see."
        )
    else:
        sentence += "."
    return sentence


def bound_factors_figure(r: GradientFlowResult) -> Figure:
    """The RNN's bound as the lecture writes it: weight factor + slope factor = the bound,
    and the measured spectral profile below it."""
    b, t_len = r.bound_factors, r.config.seq_len
    what = STATE_LABEL[r.config.cell]
    distance = r.distance.tolist()
    data = [
        line(
            distance,
            finite_list(b.weight),
            f"weight factor l · {LOG10} {norm(matrix('W_hh'))}",
            VERMILLION,
            "dash",
        ),
        line(
            distance,
            finite_list(b.slope),
            f"slope factor Σ<sub>t</sub> {LOG10} max |φ′|",
            GREEN,
            "dashdot",
        ),
        line(distance, finite_list(b.bound), "bound (their sum)", BLACK, "dot"),
        line(distance, finite_list(r.profile.spectral), "measured spectral norm", BLUE),
    ]
    weight, slope, bound = (finite(v[-1]) for v in (b.weight, b.slope, b.bound))
    measured = finite(r.profile.spectral[-1])
    sentence = (
        f"At l = {t_len} the weight factor is {_decades(weight)} and the slope factor "
        f"{_decades(slope)}, so the bound is {_decades(bound)}"
    )
    if measured is None:
        sentence += f" and the measured d{what}_T/d{what}_0 is exactly 0. "
    elif bound is not None:
        sentence += (
            f", {bound - measured:.3g} decades above the measured norm ({_decades(measured)}). "
        )
    else:
        sentence += ". "
    sentence += _slope_words(r)
    made = layout(
        "Pascanu's bound, factor by factor",
        {"title": {"text": f"distance l = T {MINUS} k (steps back in time)"}},
        {"title": {"text": LOG10}},
    )
    return figure("Bound factors: weight, slope and the measured norm", sentence, data, made)


def _decades(value: float | None) -> str:
    return "-infinity decades (exactly 0)" if value is None else f"{value:+.3g} decades"
