"""The figures of a user's model (/model, ``bpttlab analyze``, ``bpttlab.analyze``): in exact
mode /network's figures of those weights, and in both modes the Jacobian norms of every
(layer, direction) over the distance l, exact or estimated (a band of two standard errors
around the estimate, the spectral norm's lower bound dotted). Matrix-free: the layer-time map
(exact) and the estimated Jacobian norms only."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...engine.model_analysis import ModelAnalysis
from ..compute import NetworkRun
from ..serialize import finite_list
from .network import layer_time_heatmap, network_figures
from .style import LOG10, MINUS, NORM, PALETTE, Figure, figure, layout, power, sub

SE_BAND = 2.0  # the shaded band: the estimate plus or minus this many standard errors
DASHES = {"forward": "solid", "backward": "dash"}


def quantity(a: ModelAnalysis) -> str:
    """The Jacobian the figure draws: the LSTM's h_T by its whole state (h, c), else h."""
    return "h_state" if a.config.cell == "lstm" else "h"


def _jacobian_title(q: str) -> str:
    state = "(h, c)" if q == "h_state" else "h"
    return f"d{sub('h', 'T')}/d{state}<sub>T{MINUS}l</sub>"


def _who(a: ModelAnalysis, layer: int, direction: str) -> str:
    two = a.config.directions == 2
    return f"layer {layer + 1}" + (f" {direction}" if two else "")


def _last_live(values: np.ndarray) -> int | None:
    live = np.flatnonzero(np.isfinite(values))
    return None if live.size == 0 else int(live[-1])


def jacobian_figure(a: ModelAnalysis) -> Figure:
    """log10 ||dh_T/dh_{T-l}|| (the LSTM: ||dh_T/d(h, c)_{T-l}||) over l for every layer and
    direction: Frobenius (exact, or estimated with its band) and spectral (exact, or its
    lower bound)."""
    q, t_len = quantity(a), a.config.seq_len
    x = list(range(t_len + 1))
    data: list[dict[str, Any]] = []
    ends = []  # (value at the last live l, that l, who)
    for layer in range(a.config.num_layers):
        color = PALETTE[layer % len(PALETTE)]
        for name, layers in a.jacobians.items():
            j = layers[layer][q]
            who = _who(a, layer, name)
            frob, spec = j.frobenius, j.spectral
            if frob.method == "estimate":
                lo = frob.log10 - SE_BAND * frob.log10_se
                hi = frob.log10 + SE_BAND * frob.log10_se
                data.append(_band(x, hi, None, color, who))
                data.append(_band(x, lo, "tonexty", color, who))
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": finite_list(frob.log10),
                    "name": who,
                    "legendgroup": who,
                    "line": {"color": color, "dash": DASHES[name], "width": 2},
                    "hovertemplate": f"{who}, l = %{{x}}: {LOG10} Frobenius = %{{y:.2f}}"
                    "<extra></extra>",
                }
            )
            bound = spec.method == "lower_bound"
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines",
                    "x": x,
                    "y": finite_list(spec.log10),
                    "name": f"{who}: spectral" + (" (lower bound)" if bound else ""),
                    "legendgroup": who,
                    "showlegend": False,
                    "line": {"color": color, "dash": "dot", "width": 1.5},
                    "hovertemplate": f"{who}, l = %{{x}}: {LOG10} spectral"
                    + (" \u2265 " if bound else " = ")
                    + "%{y:.2f}<extra></extra>",
                }
            )
            last = _last_live(frob.log10)
            ends.append((None if last is None else float(frob.log10[last]), last, who))
    title = f"{NORM}{_jacobian_title(q)}{NORM} by distance l"
    rows = len(ends)  # legend entries, one per (layer, direction): at most two a row on a phone
    made = layout(
        title,
        {"title": {"text": "distance l (steps back from T)"}},
        {"title": {"text": f"{LOG10} norm"}},
        height=360 + 28 * rows,
        margin={"l": 56, "r": 12, "t": 40, "b": 100 + 28 * rows},
        legend={"orientation": "h", "x": 0, "y": -0.42, "yanchor": "top"},
    )
    return figure("Jacobian norms over the distance", _jacobian_summary(a, q, ends), data, made)


def _band(x, y, fill, color, who) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "y": finite_list(y),
        "line": {"width": 0, "color": color},
        "fill": fill or "none",
        "fillcolor": _translucent(color),
        "legendgroup": who,
        "showlegend": False,
        "hoverinfo": "skip",
        "name": f"{who}: \u00b1{SE_BAND:g} standard errors",
    }


def _translucent(color: str) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},0.18)"


def _jacobian_summary(a: ModelAnalysis, q: str, ends) -> str:
    t_len = a.config.seq_len
    what = "||dh_T/d(h, c)_{T-l}||" if q == "h_state" else "||dh_T/dh_{T-l}||"
    some = next(iter(a.jacobians.values()))[0][q]
    lines = "solid; dashed for the backward direction" if a.config.directions == 2 else "solid"
    if some.frobenius.method == "estimate":
        how = (
            f"Estimated from k = {some.probes} random probes: the Frobenius norm ({lines}) has "
            "a standard "
            f"error of {float(some.frobenius.log10_se[0]):.2g} decades (shaded: "
            f"\u00b1{SE_BAND:g} standard errors) and the dotted lines are lower bounds of the "
            "spectral norm."
        )
    else:
        how = f"Exact: the Frobenius norm ({lines}) and the spectral norm (dotted)."
    dead = [f"{who} from l = {(last or 0) + 1} on" for _, last, who in ends
            if last is None or last < t_len]  # fmt: skip
    live = [(value, who) for value, last, who in ends if last == t_len]
    parts = []
    if live:
        low, high = min(live), max(live)
        if len(live) == 1:
            parts.append(f"at l = T = {t_len}, {what}_F is {power(low[0])} ({low[1]})")
        else:
            parts.append(
                f"at l = T = {t_len}, {what}_F ranges from {power(low[0])} ({low[1]}) to "
                f"{power(high[0])} ({high[1]})"
            )
    if dead:
        parts.append(f"it is exactly zero in {', '.join(dead)}")
    start = (
        f"At l = 0 the Jacobian is the identity (Frobenius norm sqrt(n) = "
        f"{power(0.5 * np.log10(a.config.hidden_size))}, spectral norm 1)"
    )
    return f"{how} {start}; " + "; ".join(parts) + "."


def model_figures(a: ModelAnalysis) -> list[dict[str, Any]]:
    """The figures in page order, each ``{"name", "title", "summary", "figure"}``: exact mode
    /network's figures of these weights then the Jacobian norms; matrix-free the layer-time
    map and the estimated Jacobian norms."""
    if a.maps is not None:
        built = network_figures(NetworkRun(a.maps, None))
    else:
        lt = {name: s.log10 for name, s in a.layer_time.items()}
        heat = layer_time_heatmap(a.config, lt, a.layer_means, None)
        built = [{"name": "layer_time", **heat}]
    return [*built, {"name": "jacobians", **jacobian_figure(a)}]
