"""Pascanu's cliff (/cliff): the loss surface, the gradient's magnitude, gradient descent
three ways, and the geometry of clipping."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...engine.cliff import (
    LOG10_ZERO,
    CliffDescent,
    CliffSurface,
    ClipGeometry,
    DescentOutcome,
)
from ..serialize import finite_list
from .style import (
    BLUE,
    GREEN,
    GREY,
    LOG10,
    VERMILLION,
    Figure,
    circle,
    cosine_words,
    figure,
    layout,
    legend_entry,
    line,
    log_axis,
    norm,
    num,
    power,
    square_axes,
    text_color,
    vline,
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


GRAD = norm("∇E")  # the gradient's norm, as figure text
GRAD_BALL = norm("g")


def _point(p) -> str:
    return f"({p[0]:.3g}, {p[1]:.3g})"


def throw_words(o: DescentOutcome) -> str:
    """'thrown off the wall at step k by a step of L (R times ...) to (w, b)', or ''."""
    if o.thrown_at is None:
        return ""
    ratio = o.throw_ratio
    times = (
        f"{ratio:.3g} times the median of the steps before it"
        if ratio is not None and np.isfinite(ratio)
        else "the steps before it having length 0"
    )
    return (
        f"thrown off the wall at step {o.thrown_at} by a step of {o.throw_length:.3g} "
        f"({times}) to (w, b) = {_point(o.landing)}"
    )


def end_words(o: DescentOutcome) -> str:
    """Where a run ended, by the median of its last iterations (not the last one alone)."""
    if o.diverged_at is not None:
        return f"diverged at step {o.diverged_at} (|w| or |b| would have passed 1e6)"
    last = f"the median of its last {o.tail} iterations"
    if o.plateau:
        return (
            f"stuck on a plateau at loss {o.median_loss:.3g} ({last}; it moved "
            f"{o.moved:.2g} in them)"
        )
    if o.stalled:
        return f"settled at loss {o.median_loss:.3g} ({last}; it moved {o.moved:.2g} in them)"
    return f"ends at loss {o.median_loss:.3g} ({last}; best {o.best_loss:.3g})"


def outcome_words(o: DescentOutcome) -> str:
    """The run's story, each clause true of its numbers: the throw if there was one, then
    the end."""
    thrown = throw_words(o)
    return f"{thrown}, then {end_words(o)}" if thrown else end_words(o)


def short_outcome_words(o: DescentOutcome) -> str:
    """outcome_words in a few words, for the page's headline numbers."""
    if o.diverged_at is not None:
        end = f"diverged at step {o.diverged_at}"
    elif o.plateau:
        end = f"stuck on a plateau at loss {o.median_loss:.3g}"
    elif o.stalled:
        end = f"settled at loss {o.median_loss:.3g}"
    else:
        end = f"ends at loss {o.median_loss:.3g} (best {o.best_loss:.3g})"
    if o.thrown_at is None:
        return end
    return f"thrown off the wall at step {o.thrown_at} (a step of {o.throw_length:.3g}), then {end}"


def comparison_words(outcomes: dict[str, DescentOutcome]) -> str:
    """One sentence comparing clipped by norm with unclipped, by their median losses."""
    none, norm = outcomes["none"], outcomes["norm"]
    if none.diverged_at is not None:
        return "Unclipped diverged; clipping by norm kept every step bounded."
    a, b = none.median_loss, norm.median_loss
    if b < a:
        times = f"{a / b:.3g} times lower" if b > 0 else "at 0"
        return f"Clipping by norm ends {times} than unclipped ({b:.3g} against {a:.3g})."
    if b > a:
        return f"Here clipping by norm ends higher than unclipped ({b:.3g} against {a:.3g})."
    return f"Clipping by norm and unclipped end at the same loss ({a:.3g})."


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
    outcomes = d.outcomes
    words = "; ".join(f"{MODE_NAMES[m]}: {outcome_words(o)}" for m, o in outcomes.items())
    lowest, highest = surface.loss_range
    sentence = (
        f"E ranges from {lowest:.3g} to {highest:.3g} over "
        f"the grid; from (w, b) = ({d.start[0]:.3g}, {d.start[1]:.3g}) with learning rate "
        f"{d.learning_rate:.3g}: {words}."
    )
    made = layout(
        "Loss surface and descent (click to start)",
        xaxis,
        yaxis,
        height=460,
        legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
        annotations=_off_map_notes(surface, outcomes),
    )
    return figure("Loss surface", sentence, data, made)


def _off_map_notes(surface: CliffSurface, outcomes: dict[str, DescentOutcome]) -> list[dict]:
    """A note for each throw that landed outside the plotted grid (its line leaves the map)."""
    c = surface.config
    notes = []
    for mode, o in outcomes.items():
        if o.landing is None:
            continue
        w, b = o.landing
        if c.w_min <= w <= c.w_max and c.b_min <= b <= c.b_max:
            continue
        notes.append(
            {
                "xref": "paper",
                "yref": "paper",
                "x": 0.99,
                "y": 0.98 - 0.07 * len(notes),
                "xanchor": "right",
                "yanchor": "top",
                "text": f"{MODE_NAMES[mode]}: thrown to (w, b) = {_point(o.landing)}, off the map",
                "showarrow": False,
                "bgcolor": "rgba(255,255,255,0.85)",
                "font": {"size": 11, "color": text_color(MODE_STYLE[mode][0])},
            }
        )
    return notes


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
            "colorbar": {"title": {"text": f"{LOG10} {GRAD}"}, "thickness": 12},
            "name": f"{LOG10} {GRAD}",
            "hovertemplate": f"w %{{x:.3f}}, b %{{y:.3f}}: {LOG10} {GRAD} = %{{z:.2f}}"
            "<extra></extra>",
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
    made = layout(f"Gradient norm {GRAD} ({LOG10} colour scale)", xaxis, yaxis, height=460)
    return figure("Gradient norm", sentence, data, made)


def _per_iteration(
    d: CliffDescent, key: str, title: str, ytitle: str, log: bool, also: tuple[float, ...] = ()
):
    data, values = [], []
    for mode, p in d.paths.items():
        color, dash = MODE_STYLE[mode]
        y = getattr(p, key)
        values += finite_list(y)
        data.append(line(list(range(len(y))), finite_list(y), MODE_NAMES[mode], color, dash))
    values += also
    yaxis = log_axis(ytitle, values) if log else {"title": {"text": ytitle}}
    return data, layout(title, {"title": {"text": "iteration"}}, yaxis)


def cliff_loss_figure(d: CliffDescent) -> Figure:
    """E per iteration on a log axis, the first throw marked; the caption gives each run's
    median and best loss over its last iterations."""
    title = "Loss per iteration (log scale)"
    data, made = _per_iteration(d, "loss", title, "E", log=True)
    outcomes = d.outcomes
    thrown = [(m, o.thrown_at) for m, o in outcomes.items() if o.thrown_at is not None]
    if thrown:
        marks = [
            vline(k, MODE_STYLE[m][0], f" {MODE_NAMES[m]} thrown at step {k}") for m, k in thrown
        ]
        made.update(shapes=[s for s, _ in marks], annotations=[n for _, n in marks])
    tail = outcomes["none"].tail
    words = "; ".join(
        f"{MODE_NAMES[m]} {o.median_loss:.3g} ({o.best_loss:.3g})"
        + (f", diverged at step {o.diverged_at}" if o.diverged_at is not None else "")
        for m, o in outcomes.items()
    )
    sentence = (
        f"Median loss over each run's last {tail} iterations (best in brackets): {words}. "
        + comparison_words(outcomes)
    )
    return figure("Loss per iteration", sentence, data, made)


def cliff_step_figure(d: CliffDescent) -> Figure:
    title = "Step length per iteration (log scale)"
    data, made = _per_iteration(
        d, "step_length", title, norm("step"), log=True, also=(d.step_bound,)
    )
    n = max(p.step_length.size for p in d.paths.values())
    if n:
        data.append(
            line(
                [1, n],
                [d.step_bound, d.step_bound],
                "learning rate × threshold",
                GREY,
                "dot",
                hoverinfo="skip",
            )
        )
    for trace in data[:3]:  # step i goes from iterate i - 1 to iterate i
        trace["x"] = [i + 1 for i in trace["x"]]
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
        "font": {"color": text_color(color), "size": 11},
    }


def clipping_figure(
    geo: ClipGeometry,
    where: str = "at the start point",
    title: str = "Clipping the gradient at the start point",
) -> Figure:
    """The gradient at geo.point (``where`` says which point that is) and its two clippings,
    drawn to scale of the threshold: the norm ball (clip_grad_norm_ keeps the direction) and
    the box (clip_grad_value_)."""
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
        _arrow(shown, GREY, f"∇E, norm {power(log10_norm)}"),
        _arrow(geo.clipped["norm"], BLUE, ""),
        _arrow(geo.clipped["value"], GREEN, ""),
    ]
    data = [
        legend_entry("∇E (to the view's scale)", GREY),
        legend_entry(f"clipped by norm, and the ball {GRAD_BALL} ≤ c", BLUE, "dash"),
        legend_entry("clipped by value, and the box |g<sub>i</sub>| ≤ c", GREEN, "dot"),
    ]
    value = geo.results["value"]
    sentence = (
        f"{where.capitalize()}, (w, b) = ({geo.point[0]:.3g}, {geo.point[1]:.3g}), the "
        "gradient has norm "
        f"{power(log10_norm)}; clipping by norm at {num(c)} gives norm "
        f"{power(geo.results['norm'].log10_norm_after)} and cosine 1 (same direction), "
        f"clipping by value gives norm {power(value.log10_norm_after)} and cosine "
        f"{cosine_words(value.cosine)}."
    )
    made = layout(
        title,
        *square_axes("dE/dw", "dE/db", reach),
        shapes=shapes,
        annotations=notes,
        height=420,
        legend={"orientation": "v", "x": 0, "y": -0.25, "yanchor": "top"},
    )
    return figure("Clipping geometry", sentence, data, made)


def _clip_where(d: CliffDescent) -> str:
    k = d.outcomes["none"].thrown_at
    return "at the start point" if k is None else f"where the unclipped run was thrown (step {k})"


def _clip_title(d: CliffDescent) -> str:
    k = d.outcomes["none"].thrown_at
    return "Clipping at the start point" if k is None else f"Clipping at the throw (step {k})"


def cliff_figures(surface: CliffSurface, d: CliffDescent, geo: ClipGeometry) -> list[dict]:
    return [
        {"name": "surface", **cliff_surface_figure(surface, d)},
        {"name": "gradient", **cliff_gradient_figure(surface, d)},
        {"name": "loss", **cliff_loss_figure(d)},
        {"name": "steps", **cliff_step_figure(d)},
        {"name": "clipping", **clipping_figure(geo, _clip_where(d), _clip_title(d))},
    ]


def cliff_numbers(d: CliffDescent, geo: ClipGeometry) -> list[dict[str, str]]:
    numbers = [
        {
            "name": f"outcome-{mode}",
            "label": f"{MODE_NAMES[mode].capitalize()} (loss: median of the last {o.tail})",
            "value": short_outcome_words(o),
        }
        for mode, o in d.outcomes.items()
    ]
    numbers.append(
        {
            "name": "cosine-value",
            "label": f"Cosine after clipping by value {_clip_where(d)}",
            "value": cosine_words(geo.results["value"].cosine),
        }
    )
    return numbers
