"""The gated cells' figures on /explore: gate activations over time, and their means."""

from __future__ import annotations

import numpy as np

from ...engine import GradientFlowResult
from ...engine.display import bin_width, extents, heatmap, means
from ..cells import GATE_ORDER, gate_name
from ..serialize import finite_list
from .style import BLUE, GREEN, GREY, ORANGE, PURPLE, Figure, figure, layout, line

GATE_COLORS = {"f": BLUE, "i": ORANGE, "o": GREEN, "c": PURPLE, "z": BLUE, "u": BLUE, "r": ORANGE}
HEATMAP_UNITS = 32  # units shown in a gate heatmap
HEATMAP_STEPS = 200  # time bins of a gate heatmap
OPEN, SHUT = 0.9, 0.1  # a gate whose mean is >= OPEN is open, <= SHUT shut
# a gate that decides how much of the state is kept per step: (the state, whether the kept
# share is the gate itself or 1 - gate). f: c = f c_prev + i g; z (PyTorch's GRU):
# h = (1 - z) n + z h_prev; u (the lecture's GRU): h = (1 - u) h_prev + u h~
KEEPS = {"f": ("c", True), "z": ("h", True), "u": ("h", False)}


def keep_words(gate: str, mean: float) -> str:
    """What a keeping gate's mean over all steps and units says, open/shut wording only when
    the mean is >= OPEN or <= SHUT."""
    state, direct = KEEPS[gate]
    kept = mean if direct else 1.0 - mean
    sentence = f"{gate} averages {mean:.3g}"
    if mean >= OPEN:
        sentence += f" (>= {OPEN:g}: open)"
    elif mean <= SHUT:
        sentence += f" (<= {SHUT:g}: shut)"
    if kept >= OPEN:
        return sentence + f": {state} is carried over almost unchanged ({kept:.0%} kept per step)."
    if kept <= SHUT:
        return sentence + f": {state} is mostly replaced each step (about {kept:.0%} kept)."
    share = "about half" if 0.4 <= kept <= 0.6 else f"about {kept:.0%}"
    return sentence + f": the cell keeps {share} of {state} per step."


def shown_gates(r: GradientFlowResult) -> list[str]:
    gates = getattr(r, "gates", None) or {}
    return [k for k in GATE_ORDER[r.config.cell] if k in gates]


def _gate_trace(name: str, k: int, units: int, binned, height: float, top: float) -> dict:
    axis = "" if k == 0 else str(k + 1)
    bounded = name != "c"
    trace = {
        "type": "heatmap",
        "x": binned.steps.tolist(),
        "y": list(range(1, units + 1)),
        "z": np.round(binned.values.T, 4).tolist(),
        "xaxis": f"x{axis}",
        "yaxis": f"y{axis}",
        "colorscale": "Cividis" if bounded else "RdBu",
        "zmin": 0.0 if bounded else None,
        "zmax": 1.0 if bounded else None,
        "zmid": None if bounded else 0.0,
        "showscale": k == 0 or not bounded,
        "colorbar": {
            "len": height,
            "y": top - height / 2,
            "thickness": 10,
            "title": {"text": "" if bounded else "c"},
        },
        "name": gate_name(name),
        "hovertemplate": f"{name}: %{{z:.3f}}<br>step %{{x}}, unit %{{y}}<extra></extra>",
    }
    return {key: value for key, value in trace.items() if value is not None}


def gate_heatmap_figure(r: GradientFlowResult) -> Figure:
    """Gate activations over time (time x unit), one heatmap per gate, stacked."""
    names = shown_gates(r)
    n = r.config.hidden_size
    units = min(n, HEATMAP_UNITS)
    rows = len(names)
    gap = 0.06
    height = (1.0 - gap * (rows - 1)) / rows
    data, layout_axes, notes = [], {}, []
    for k, name in enumerate(names):
        binned = heatmap(r.gates[name], units, HEATMAP_STEPS)
        axis = "" if k == 0 else str(k + 1)
        top = 1.0 - k * (height + gap)
        data.append(_gate_trace(name, k, units, binned, height, top))
        layout_axes[f"xaxis{axis}"] = {
            "anchor": f"y{axis}",
            "matches": "x" if k else None,
            "showticklabels": k == rows - 1,
            "title": {"text": "time step t" if k == rows - 1 else ""},
        }
        layout_axes[f"yaxis{axis}"] = {
            "domain": [max(0.0, round(top - height, 6)), min(1.0, round(top, 6))],
            "title": {"text": name},
            "showgrid": False,
        }
        notes.append(
            {
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": top,
                "xanchor": "left",
                "yanchor": "bottom",
                "text": gate_name(name),
                "showarrow": False,
                "font": {"size": 11},
            }
        )
    for axes in layout_axes.values():
        for key in [k for k, v in axes.items() if v is None]:
            del axes[key]
    mean = means({k: r.gates[k] for k in names})
    described = ", ".join(f"{gate_name(k)} {mean[k]:.3g}" for k in names)
    shown = f"units 1-{units} of {n}" if units < n else f"all {n} units"
    width = bin_width(r.config.seq_len, HEATMAP_STEPS)
    binned_note = "" if width == 1 else f", each cell the mean over {width} steps"
    sentence = (
        f"Mean activation over all steps and units: {described}; the heatmaps show "
        f"{shown}{binned_note}."
    )
    made = layout(
        "Gate activations over time",
        layout_axes.pop("xaxis"),
        layout_axes.pop("yaxis"),
        annotations=notes,
        height=150 * rows + 60,
        showlegend=False,
        **layout_axes,
    )
    return figure("Gate activations", sentence, data, made)


def gate_mean_figure(r: GradientFlowResult) -> Figure:
    """Per-step means of the gates over units, against time."""
    names = shown_gates(r)
    steps = list(range(1, r.config.seq_len + 1))
    data = [
        line(steps, finite_list(r.gate_means[k]), gate_name(k), GATE_COLORS.get(k, GREY), dash)
        for k, dash in zip(names, ("solid", "dash", "dot", "dashdot"), strict=False)
    ]
    extent = extents({k: r.gate_means[k] for k in names})
    described = "; ".join(
        f"{gate_name(k)} from {extent[k][0]:.3g} to {extent[k][1]:.3g}" for k in names
    )
    sentence = f"Per-step means over units: {described}."
    overall = means({k: r.gates[k] for k in names if k in KEEPS})
    for key in names:
        if key in KEEPS:
            sentence += " " + keep_words(key, overall[key])
    made = layout(
        "Gate means per step",
        {"title": {"text": "time step t"}},
        {"title": {"text": "mean over units"}},
    )
    return figure("Gate means", sentence, data, made)
