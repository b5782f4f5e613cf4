"""Pascanu's cliff (/cliff): the loss surface, the gradient's magnitude, gradient descent
three ways, and the geometry of clipping."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...engine.cliff import LOG10_ZERO, CliffDescent, CliffSurface, ClipGeometry, DescentPath
from ..serialize import finite_list
from .style import (
    BLUE,
    GREEN,
    GREY,
    VERMILLION,
    Figure,
    circle,
    cosine_words,
    figure,
    layout,
    legend_entry,
    line,
    num,
    power,
    square_axes,
)

MODE_NAMES = {"none": "unclipped", "norm": "clipped by norm", "value": "clipped by value"}
MODE_STYLE = {"none": (VERMILLION, "solid"), "norm": (BLUE, "dash"), "value": (GREEN, "dot")}


def _path_traces(d: CliffDescent) -> list[dict[str, Any]]:
    traces = []
    for mode, p in d.paths.items():
        color, dash = MODE_STYLE[mode]
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": finite_list(p.points[:, 0]),
                "y": finite_list(p.points[:, 1]),
                "name": MODE_NAMES[mode],
                "line": {"color": color, "dash": dash, "width": 2},
                "marker": {"color": color, "size": 4},
                "hovertemplate": "step %{pointNumber}: w %{x:.4f}, b %{y:.4f}<extra></extra>",
            }
        )
    traces.append(_start_trace(d))
    return traces


def _start_trace(d: CliffDescent) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "markers",
        "x": [d.start[0]],
        "y": [d.start[1]],
        "name": "start",
        "marker": {"color": "#ffffff", "size": 12, "symbol": "star", "line": {"width": 1.5}},
    }


def _grid_axes(surface: CliffSurface) -> tuple[dict, dict]:
    c = surface.config
    return (
        {"title": {"text": "w"}, "range": [c.w_min, c.w_max]},
        {"title": {"text": "b"}, "range": [c.b_min, c.b_max]},
    )


def _outcome(p: DescentPath) -> str:
    if p.diverged_at is not None:
        return f"diverged at step {p.diverged_at}"
    return f"ends at loss {float(p.loss[-1]):.3g}, longest step {p.longest_step:.3g}"


def cliff_surface_figure(surface: CliffSurface, d: CliffDescent) -> Figure:
    """The loss E(w, b) as a heatmap, with the three descent paths from the start point."""
    xaxis, yaxis = _grid_axes(surface)
    data = [
        {
            "type": "heatmap",
            "x": finite_list(surface.w),
            "y": finite_list(surface.b),
            "z": finite_list(np.round(surface.loss, 6)),
            "colorscale": "Cividis",
            "colorbar": {"title": {"text": "E"}, "thickness": 12},
            "name": "loss",
            "hovertemplate": "w %{x:.3f}, b %{y:.3f}: E = %{z:.4f}<extra></extra>",
        },
        *_path_traces(d),
    ]
    words = "; ".join(f"{MODE_NAMES[m]} {_outcome(p)}" for m, p in d.paths.items())
    lowest, highest = surface.loss_range
    sentence = (
        f"E ranges from {lowest:.3g} to {highest:.3g} over "
        f"the grid; from (w, b) = ({d.start[0]:.3g}, {d.start[1]:.3g}) with learning rate "
        f"{d.learning_rate:.3g}: {words}."
    )
    made = layout(
        "Loss surface E(w, b) and gradient descent (click to start)",
        xaxis,
        yaxis,
        height=460,
        legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
    )
    return figure("Loss surface", sentence, data, made)


def log10_list(a: np.ndarray) -> list:
    """log10 values with the engine's LOG10_ZERO (exactly zero) as null."""
    return finite_list(np.where(a <= LOG10_ZERO, -np.inf, a))


def cliff_gradient_figure(surface: CliffSurface, d: CliffDescent) -> Figure:
    """log10 ||grad E|| over the grid: the walls light up."""
    xaxis, yaxis = _grid_axes(surface)
    g = surface.log10_grad_norm
    data = [
        {
            "type": "heatmap",
            "x": finite_list(surface.w),
            "y": finite_list(surface.b),
            "z": log10_list(np.round(g, 4)),
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": "log10 |grad|"}, "thickness": 12},
            "name": "log10 ||grad E||",
            "hovertemplate": "w %{x:.3f}, b %{y:.3f}: log10 ||grad E|| = %{z:.2f}<extra></extra>",
        },
        _start_trace(d),
    ]
    row, col = surface.gradient_peak
    median = surface.median_log10_grad_norm
    sentence = (
        f"The gradient norm peaks at {power(float(g[row, col]))} at (w, b) = "
        f"({float(surface.w[col]):.3g}, {float(surface.b[row]):.3g}), on the wall"
    )
    sentence += f", against a median of {power(median)} over the grid." if median else "."
    made = layout("Gradient norm ||grad E|| (log scale)", xaxis, yaxis, height=460)
    return figure("Gradient norm", sentence, data, made)


def _per_iteration(d: CliffDescent, key: str, title: str, ytitle: str, log: bool):
    data = []
    for mode, p in d.paths.items():
        color, dash = MODE_STYLE[mode]
        y = getattr(p, key)
        data.append(line(list(range(len(y))), finite_list(y), MODE_NAMES[mode], color, dash))
    yaxis = {"title": {"text": ytitle}}
    if log:
        yaxis["type"] = "log"
    return data, layout(title, {"title": {"text": "iteration"}}, yaxis)


def cliff_loss_figure(d: CliffDescent) -> Figure:
    data, made = _per_iteration(d, "loss", "Loss per iteration", "E", log=False)
    words = "; ".join(
        f"{MODE_NAMES[m]} {float(p.loss[0]):.3g} to {float(p.loss[-1]):.3g}"
        + (f" (diverged at step {p.diverged_at})" if p.diverged_at is not None else "")
        for m, p in d.paths.items()
    )
    return figure("Loss per iteration", f"Loss: {words}.", data, made)


def cliff_step_figure(d: CliffDescent) -> Figure:
    title = "Step length per iteration"
    data, made = _per_iteration(d, "step_length", title, "||step||", log=True)
    words = "; ".join(
        f"{MODE_NAMES[m]} at most {p.longest_step:.3g}"
        for m, p in d.paths.items()
        if p.step_length.size
    )
    sentence = (
        f"Longest step: {words or 'no steps taken'}; clipping by norm bounds every step by "
        f"learning rate x threshold = {d.step_bound:.3g}."
    )
    return figure(title, sentence, data, made)


def _arrow(vector, color: str, text: str) -> dict[str, Any]:
    return {
        "x": float(vector[0]),
        "y": float(vector[1]),
        "ax": 0,
        "ay": 0,
        "xref": "x",
        "yref": "y",
        "axref": "x",
        "ayref": "y",
        "showarrow": True,
        "arrowhead": 2,
        "arrowwidth": 2,
        "arrowcolor": color,
        "text": text,
        "font": {"color": color, "size": 11},
    }


def clipping_figure(geo: ClipGeometry) -> Figure:
    """The gradient at the start point and its two clippings, drawn to scale of the threshold:
    the norm ball (clip_grad_norm_ keeps the direction) and the box (clip_grad_value_)."""
    c = geo.results["norm"].threshold
    log10_norm = geo.results["norm"].log10_norm_before
    norm = geo.gradient_norm
    # the view fits the threshold, or the gradient when it is the smaller: a gradient of
    # 1e5 is drawn as a ray of the view's size, labelled with its true norm
    reach = 1.5 * (min(c, norm) if norm > 0 else c)
    shown = geo.direction * min(1.3 * reach, norm)
    shapes = [
        circle(c, BLUE, "dash"),
        {
            "type": "rect",
            "xref": "x",
            "yref": "y",
            "x0": -c,
            "y0": -c,
            "x1": c,
            "y1": c,
            "line": {"color": GREEN, "dash": "dot", "width": 1.5},
        },
    ]
    notes = [
        _arrow(shown, GREY, f"grad E, norm {power(log10_norm)}"),
        _arrow(geo.clipped["norm"], BLUE, ""),
        _arrow(geo.clipped["value"], GREEN, ""),
    ]
    data = [
        legend_entry("grad E (to the view's scale)", GREY),
        legend_entry("clipped by norm, and the ball ||g|| <= c", BLUE, "dash"),
        legend_entry("clipped by value, and the box |g_i| <= c", GREEN, "dot"),
    ]
    value = geo.results["value"]
    sentence = (
        f"At (w, b) = ({geo.point[0]:.3g}, {geo.point[1]:.3g}) the gradient has norm "
        f"{power(log10_norm)}; clipping by norm at {num(c)} gives norm "
        f"{power(geo.results['norm'].log10_norm_after)} and cosine 1 (same direction), "
        f"clipping by value gives norm {power(value.log10_norm_after)} and cosine "
        f"{cosine_words(value.cosine)}."
    )
    made = layout(
        "Clipping the gradient at the start point",
        *square_axes("dE/dw", "dE/db", reach),
        shapes=shapes,
        annotations=notes,
        height=420,
        legend={"orientation": "v", "x": 0, "y": -0.25, "yanchor": "top"},
    )
    return figure("Clipping geometry", sentence, data, made)


def cliff_figures(surface: CliffSurface, d: CliffDescent, geo: ClipGeometry) -> list[dict]:
    return [
        {"name": "surface", **cliff_surface_figure(surface, d)},
        {"name": "gradient", **cliff_gradient_figure(surface, d)},
        {"name": "loss", **cliff_loss_figure(d)},
        {"name": "steps", **cliff_step_figure(d)},
        {"name": "clipping", **clipping_figure(geo)},
    ]


def cliff_numbers(d: CliffDescent, geo: ClipGeometry) -> list[dict[str, str]]:
    numbers = [
        {"name": f"outcome-{mode}", "label": MODE_NAMES[mode].capitalize(), "value": _outcome(p)}
        for mode, p in d.paths.items()
    ]
    numbers.append(
        {
            "name": "cosine-value",
            "label": "Cosine after clipping by value",
            "value": cosine_words(geo.results["value"].cosine),
        }
    )
    return numbers
