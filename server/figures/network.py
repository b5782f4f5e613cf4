"""The network's figures (/network): the (layer x time) map of the gradient norms, the
influence map per direction and their union, and the double sum's terms (once the engine
gives them). Every map is a log10 heatmap; a blank cell is an exact zero (null)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...engine.network import NetworkConfig
from ...engine.network_maps import UNION_SLACK, NetworkMaps
from ..serialize import finite_list
from .style import LOG10, NORM, Figure, figure, layout, power, sub

DIRECTION_WORDS = {"forward": "forward", "backward": "backward"}
ARROWS = {"forward": "forward \u2192", "backward": "\u2190 backward"}
GAP = 0.1  # between side-by-side panels, a fraction of the width
HIGHLIGHT = "#D55E00"  # the last step's row of the terms map (vermillion)


def _panels(count: int) -> list[tuple[float, float]]:
    width = (1.0 - GAP * (count - 1)) / count
    return [(i * (width + GAP), i * (width + GAP) + width) for i in range(count)]


def _steps(t_len: int, words: tuple[str, ...] | None) -> dict[str, Any]:
    """A time axis: steps 1..T, labelled with the words when there are some."""
    axis: dict[str, Any] = {"tickmode": "auto"}
    if words is not None:
        axis = {"tickmode": "array", "tickvals": list(range(1, t_len + 1)), "ticktext": list(words)}
    return axis


def _heatmaps(
    title: str,
    maps: list[tuple[str, np.ndarray]],
    x: dict[str, Any],
    y: dict[str, Any],
    hover: str,
    colorbar: str,
    *,
    y_values: list | None = None,
    reversed_y: bool = True,
    height: int = 400,
    shapes: list | None = None,
) -> tuple[list[dict], dict[str, Any]]:
    """Side-by-side heatmaps of log10 values (null: exact zero) on one colour scale, each
    panel named above it; returns (data, layout)."""
    data, notes, axes = [], [], {}
    for i, ((name, z), (lo, hi)) in enumerate(zip(maps, _panels(len(maps)), strict=True)):
        suffix = "" if i == 0 else str(i + 1)
        rows, cols = z.shape
        data.append(
            {
                "type": "heatmap",
                "z": finite_list(z),
                "x": list(range(1, cols + 1)),
                "y": y_values or list(range(1, rows + 1)),
                "xaxis": f"x{suffix}",
                "yaxis": f"y{suffix}",
                "coloraxis": "coloraxis",
                "name": name,
                "hoverongaps": False,
                "hovertemplate": f"{name}: {hover}<extra></extra>",
            }
        )
        axes[f"xaxis{suffix}"] = {
            **x,
            "domain": [lo, hi],
            "anchor": f"y{suffix}",
            "showgrid": False,
            "zeroline": False,
            "automargin": True,
        }
        # the panels share their rows: only the first one labels them
        shared = {} if i == 0 else {"showticklabels": False, "title": {"text": ""}}
        axes[f"yaxis{suffix}"] = {
            **y,
            **shared,
            "anchor": f"x{suffix}",
            "showgrid": False,
            "zeroline": False,
            "automargin": True,
            **({"autorange": "reversed"} if reversed_y else {}),
        }
        if len(maps) > 1:
            notes.append(
                {
                    "xref": f"x{suffix} domain",
                    "yref": "paper",
                    "x": 0.5,
                    "y": 1.0,
                    "yanchor": "bottom",
                    "text": name,
                    "showarrow": False,
                    "font": {"size": 12},
                }
            )
    made = layout(
        title,
        axes.pop("xaxis"),
        axes.pop("yaxis"),
        annotations=notes,
        shapes=shapes or [],
        coloraxis={
            "colorscale": "Viridis",
            "colorbar": {"title": {"text": colorbar, "side": "right"}, "thickness": 12},
        },
        showlegend=False,
        height=height,
        margin={"l": 56, "r": 12, "t": 64, "b": 56},
    )
    made.update(axes)
    return data, made


def _word(t: int, words: tuple[str, ...] | None) -> str:
    return f't = {t} ("{words[t - 1]}")' if words else f"t = {t}"


def _word_k(k: int, words: tuple[str, ...] | None) -> str:
    return f'k = {k} ("{words[k - 1]}")' if words else f"k = {k}"


def layer_time_figure(m: NetworkMaps, words: tuple[str, ...] | None) -> Figure:
    """(1) log10 ||dL/dh_t|| for every layer (rows, layer 1 at the bottom) and step."""
    return layer_time_heatmap(m.config, m.result.gradient.layer_time, m.directions, words)


def layer_time_heatmap(
    c: NetworkConfig, lt: dict[str, np.ndarray], means: dict[str, Any],
    words: tuple[str, ...] | None,
) -> Figure:  # fmt: skip
    """The layer-time figure of any network: lt {direction: (L, T) log10 ||dL/dh_t||} and
    means {direction: anything with top_mean, bottom_mean and layer_drop} (LayerMeans or
    DirectionSummary), whose numbers the caption states."""
    names = list(lt)
    maps = [(ARROWS[n] if len(names) > 1 else "dL/dh", lt[n]) for n in names]
    x = {"title": {"text": "step t"}, **_steps(c.seq_len, words)}
    y = {"title": {"text": "layer"}, "dtick": 1}
    hover = f"layer %{{y}}, step %{{x}}: {LOG10} {NORM}dL/d{sub('h', 't')}{NORM} = %{{z:.2f}}"
    data, made = _heatmaps(
        f"Gradient norm {NORM}dL/d{sub('h', 't')}{NORM} by layer and step",
        maps,
        x,
        y,
        hover,
        f"{LOG10} {NORM}dL/dh{NORM}",
        reversed_y=False,
        height=300 + 20 * c.num_layers,
    )
    loss = "at every step" if c.loss == "every" else "at the last step only"
    parts = []
    for n in names:
        s = means[n]
        who = f"the {DIRECTION_WORDS[n]} direction" if len(names) > 1 else "the network"
        if s.top_mean is None or s.bottom_mean is None:
            parts.append(f"in {who}, dL/dh_t is exactly zero at every step of a layer")
        elif c.num_layers == 1:
            parts.append(
                f"in {who}, ||dL/dh_t|| is {power(s.top_mean)} at its one step"
                if c.seq_len == 1
                else f"in {who}, ||dL/dh_t|| has a geometric mean of {power(s.top_mean)} "
                f"over the {c.seq_len} steps"
            )
        else:
            drop = s.layer_drop
            how = (
                f"{abs(drop):.2g} decades lower at the bottom"
                if drop >= 0.005
                else f"{abs(drop):.2g} decades higher at the bottom"
                if drop <= -0.005
                else "the same at the bottom"
            )
            parts.append(
                f"in {who}, the geometric mean of ||dL/dh_t|| over t is "
                f"{power(s.top_mean)} at the top layer ({c.num_layers}) and "
                f"{power(s.bottom_mean)} at layer 1: {how}"
            )
    skip = " with residual skips" if c.skip == "residual" and c.num_layers > 1 else ""
    sentence = f"Loss {loss}{skip}: " + "; ".join(parts) + "."
    return figure("Gradient norm by layer and step", sentence, data, made)


def _ahead_words(name: str, s, one_way: bool) -> str:
    later = "after t" if name == "forward" else "before t"
    side = "right of" if name == "forward" else "left of"
    who = "the network's output" if one_way else f"the {name} half's output"
    if s.ahead_total == 0:
        return f"{who}: one step, nothing {later}"
    if s.ahead_nonzero == 0:
        return (
            f"{who} at t depends on no input {later}: every entry {side} the diagonal is "
            "exactly zero (blank)"
        )
    return (
        f"{who} at t depends on inputs {later} too, through the other half of the layers "
        f"below ({s.ahead_nonzero} of the {s.ahead_total} entries {side} the diagonal are "
        "nonzero)"
    )


def influence_figure(m: NetworkMaps, words: tuple[str, ...] | None) -> Figure:
    """(2) log10 ||dy_t/dx_k||_2 per direction, side by side (rows t, columns k)."""
    c = m.config
    names = list(m.influence)
    maps = [(ARROWS[n] if len(names) > 1 else "forward", m.influence[n]) for n in names]
    x = {"title": {"text": "input k"}, **_steps(c.seq_len, words)}
    y = {"title": {"text": "output t"}, **_steps(c.seq_len, words)}
    what = f"{NORM}d{sub('y', 't')}/d{sub('x', 'k')}{NORM}"
    hover = f"t = %{{y}}, k = %{{x}}: {LOG10} {what} = %{{z:.2f}}"
    data, made = _heatmaps(
        f"Influence {what}, spectral norm",
        maps,
        x,
        y,
        hover,
        f"{LOG10} {NORM}dy/dx{NORM}",
        height=420,
    )
    parts = [_ahead_words(n, m.directions[n], len(names) == 1) for n in names]
    sentence = "; ".join(p[0].upper() + p[1:] for p in parts[:1]) + "".join(
        f"; {p}" for p in parts[1:]
    )
    sentence += "."
    fwd = m.influence["forward"]
    t_len = c.seq_len
    if t_len >= 2:
        t, k = t_len - 1, t_len
        sentence += (
            f" At {_word(t, words)} the {'forward half' if len(names) > 1 else 'output'}'s "
            f"||dy_t/dx_k|| for {_word_k(k, words)} "
            f"is {_amount(fwd[t - 1, k - 1])}"
        )
        if "backward" in m.influence:
            back = m.influence["backward"][t - 1, k - 1]
            sentence += f"; the backward half's is {_amount(back)}"
        sentence += "."
    s = m.directions["forward"]
    if s.reach is not None and t_len >= 2:
        sentence += (
            f" From the last step, the {'forward half' if len(names) > 1 else 'output'}'s "
            f"||dy_T/dx_1|| is {abs(s.reach):.2g} "
            f"decades {'below' if s.reach <= 0 else 'above'} ||dy_T/dx_T||."
        )
    if words is None and t_len > 1:
        sentence += " Blank cells are exact zeros."
    return figure("Influence of each input on each output", sentence, data, made)


def _amount(log10_value: float) -> str:
    """A log10 value in words: "exactly 0" for -inf."""
    return power(float(log10_value)) if np.isfinite(log10_value) else "exactly 0"


def union_figure(m: NetworkMaps, words: tuple[str, ...] | None) -> Figure:
    """(3) the union of the two directions' influence, for the concatenated output."""
    c = m.config
    x = {"title": {"text": "input k"}, **_steps(c.seq_len, words)}
    y = {"title": {"text": "output t"}, **_steps(c.seq_len, words)}
    union = m.union
    hover = f"t = %{{y}}, k = %{{x}}: {LOG10} union = %{{z:.2f}}"
    data, made = _heatmaps(
        "Union of the two directions",
        [("union", union)],
        x,
        y,
        hover,
        f"{LOG10} union",
        height=420,
    )
    zeros = int(np.sum(~np.isfinite(union)))
    sentence = (
        "For the concatenated output y_t = [forward; backward], each cell is log10 "
        "sqrt(||J_fwd||_2^2 + ||J_bwd||_2^2) of the two halves' spectral norms: not the "
        "spectral norm of the stacked Jacobian [J_fwd; J_bwd], but at least it and at most "
        f"{UNION_SLACK:.2f} decades above it. "
    )
    sentence += (
        "Every output step depends on every input: no cell is zero."
        if zeros == 0
        else f"{zeros} of the {union.size} cells are exactly zero (blank)."
    )
    return figure("Influence, both directions together", sentence, data, made)


def terms_figure(m: NetworkMaps, words: tuple[str, ...] | None) -> Figure:
    """(4) log10 ||term(t, k)||_F of the first layer's dL/dW_hh, per direction, with the
    last step's row (the last-step loss's terms) outlined."""
    c, t_len = m.config, m.config.seq_len
    names = list(m.terms)
    maps = [(ARROWS[n] if len(names) > 1 else "forward", m.terms[n]) for n in names]
    x = {"title": {"text": "source k"}, **_steps(t_len, words)}
    y = {"title": {"text": "loss step t"}, **_steps(t_len, words)}
    hover = f"t = %{{y}}, k = %{{x}}: {LOG10} {NORM}term{NORM} = %{{z:.2f}}"
    shapes = [
        {
            "type": "rect",
            "xref": f"x{'' if i == 0 else i + 1} domain",
            "yref": f"y{'' if i == 0 else i + 1}",
            "x0": 0,
            "x1": 1,
            "y0": t_len - 0.5,
            "y1": t_len + 0.5,
            "line": {"color": HIGHLIGHT, "width": 2},
        }
        for i in range(len(maps))
    ]
    data, made = _heatmaps(
        f"Terms of dL/d{sub('W', 'hh')}, layer 1",
        maps,
        x,
        y,
        hover,
        f"{LOG10} {NORM}term{NORM}",
        height=420,
        shapes=shapes,
    )
    parts = []
    for n in names:
        z = m.terms[n]
        rows = int(np.sum(np.any(np.isfinite(z), axis=1)))
        last = z[-1]
        live = np.isfinite(last)
        part = f"{n}: {rows} of the {t_len} loss steps have a nonzero term"
        if np.any(live):
            top = int(np.argmax(np.where(live, last, -np.inf))) + 1
            part += (
                f"; in the last step's row (outlined) the largest term comes from "
                f"{_word_k(top, words)} ({power(float(last[top - 1]))})"
            )
        else:
            part += "; the last step's row (outlined) is exactly zero"
        parts.append(part)
    loss = "every step" if c.loss == "every" else "the last step only"
    sentence = f"Loss at {loss}; " + "; ".join(parts) + "."
    sentence += (
        " A term at the step a direction reads first is zero: it multiplies the zero initial state."
    )
    return figure("Terms of the double sum", sentence, data, made)


def network_figures(run) -> list[dict[str, Any]]:
    """The figures of /network in page order, each ``{"name", "title", "summary",
    "figure"}``; ``run`` is compute.NetworkRun (the maps and the time axis's words)."""
    m, words = run.maps, run.words
    built = [
        ("layer_time", layer_time_figure(m, words)),
        ("influence", influence_figure(m, words)),
    ]
    if m.union is not None:
        built.append(("influence_union", union_figure(m, words)))
    if m.terms is not None:
        built.append(("terms", terms_figure(m, words)))
    return [{"name": name, **f} for name, f in built]
