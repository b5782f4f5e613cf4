"""The look every figure shares, and the one shape of a figure: palette, layout, lines, the
reference lines and circles with their notes, and numbers in words.

Colours are the Okabe-Ito palette, distinguishable with every common colour-vision
deficiency; lines also differ by dash so the figures survive greyscale printing.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..serialize import finite_list

BLUE, SKY, GREEN, ORANGE = "#0072B2", "#56B4E9", "#009E73", "#E69F00"
VERMILLION, PURPLE, GREY, BLACK = "#D55E00", "#CC79A7", "#767676", "#000000"
# Okabe-Ito in the order curves take them; its yellow is too faint on white
PALETTE = (BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILLION, BLACK, GREY)
# Text drawn in a line's colour (a note, an arrow's label) must read at 4.5:1 on white (WCAG
# 1.4.3); four of Okabe-Ito's colours do not (sky 2.3, orange 2.3, purple 3.1, green 3.4,
# vermillion 3.9), so their notes use a darker shade of the same hue (5.3 to 5.8:1).
TEXT_SHADE = {
    SKY: "#1C6E99",
    ORANGE: "#8A5C00",
    PURPLE: "#A8457E",
    GREEN: "#007A5A",
    VERMILLION: "#B34700",
}


def text_color(color: str) -> str:
    """The colour to write a note in, for a line of ``color``: readable on white."""
    return TEXT_SHADE.get(color, color)


Figure = dict[str, Any]

# Math in figure text (titles, axis titles, legends, hover), which Plotly renders from a small
# HTML subset: <sub>, <sup>, and Unicode symbols. Summaries are plain text and stay ASCII-ish.
MINUS = "\u2212"  # the minus sign, so T-l reads as one subscript, not "dh_T minus l"
NORM = "\u2016"  # the double bar of a norm
LOG10 = "log<sub>10</sub>"
T_MINUS_L = f"T{MINUS}l"


def sub(base: str, index: str) -> str:
    """base with a subscript: sub("W", "hh") is W<sub>hh</sub>."""
    return f"{base}<sub>{index}</sub>"


def norm(text: str) -> str:
    return f"{NORM}{text}{NORM}"


def jacobian(state: str, lower: str = T_MINUS_L) -> str:
    """dh<sub>T</sub>/dh<sub>T-l</sub> (the LSTM's state "(h, c)" as d(h, c)<sub>T</sub>)."""
    return f"d{sub(state, 'T')}/d{sub(state, lower)}"


def plain_text(text: str) -> str:
    """Plotly's figure markup as plain text, for CSV headers and data tables:
    W<sub>hh</sub> -> W_hh, h<sub>T-l</sub> -> h_(T-l), l<sup>2</sup> -> l^2, tags dropped."""

    def script(mark: str):
        def put(m: re.Match) -> str:
            inner = m.group(1)
            return f"{mark}{inner}" if re.fullmatch(r"\w+", inner) else f"{mark}({inner})"

        return put

    text = text.replace(LOG10, "log10")
    text = re.sub(r"<sub>(.*?)</sub>", script("_"), text)
    text = re.sub(r"<sup>(.*?)</sup>", script("^"), text)
    text = re.sub(r"<br\s*/?>", " ", text)
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def figure(title: str, summary: str, data: list, layout: dict) -> Figure:
    """What every builder returns: ``{"title", "summary", "figure": {"data", "layout"}}``."""
    return {"title": title, "summary": summary, "figure": {"data": data, "layout": layout}}


def layout(title: str, xaxis: dict, yaxis: dict, **extra) -> dict[str, Any]:
    """A compact layout; ``uirevision`` is fixed so zoom and pan survive Plotly.react."""
    made = {
        "title": {"text": title, "font": {"size": 15}, "x": 0.01, "xanchor": "left"},
        "xaxis": {"zeroline": False, "automargin": True, **xaxis},
        "yaxis": {"zeroline": False, "automargin": True, **yaxis},
        "margin": {"l": 56, "r": 12, "t": 40, "b": 96},
        "legend": {"orientation": "h", "x": 0, "y": -0.32, "yanchor": "top"},
        "hovermode": "closest",
        "uirevision": "keep",
        "font": {"family": "system-ui, sans-serif", "size": 12},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "height": 380,
    }
    made["xaxis"].setdefault("gridcolor", "#e5e5e5")
    made["yaxis"].setdefault("gridcolor", "#e5e5e5")
    made.update(extra)
    return made


def log_axis(title: str, values: Iterable[float | None], **extra) -> dict[str, Any]:
    """A log axis labelled in powers of ten only, all in one style (10<sup>-3</sup>,
    10<sup>0</sup>, 10<sup>2</sup>; never "0.001", "1" or "1m"): ticks on whole decades, every
    ``dtick``-th so at most about eight labels, no minor labels. The range is padded out to
    whole decades around the finite positive ``values`` so that at least two labelled ticks
    are always in view."""
    logs = [math.log10(v) for v in values if v is not None and math.isfinite(v) and v > 0]
    low, high = (math.floor(min(logs)), math.ceil(max(logs))) if logs else (-1, 1)
    if high - low < 1:
        high = low + 1
    step = max(1, math.ceil((high - low) / 8))
    decades = [k for k in range(low, high + 1) if k % step == 0]
    axis: dict[str, Any] = {
        "title": {"text": title},
        "type": "log",
        "range": [low, high],
        "autorange": False,
        "tickmode": "array",
        "tickvals": [10.0**k for k in decades],
        "ticktext": [f"10<sup>{k}</sup>".replace("-", MINUS) for k in decades],
        "minor": {"showgrid": False, "ticks": ""},
    }
    axis.update(extra)
    return axis


def line(x, y, name: str, color: str, dash: str = "solid", **extra) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "y": y,
        "name": name,
        "line": {"color": color, "dash": dash, "width": 2},
        **extra,
    }


def legend_entry(name: str, color: str, dash: str = "solid") -> dict[str, Any]:
    """A trace with no points: the legend entry of a layout shape."""
    return line([None], [None], name, color, dash)


def hline(y: float, color: str, text: str, dash: str = "dot") -> tuple[dict, dict]:
    """A horizontal line across the plot at y, and its note at the right end."""
    shape = {
        "type": "line",
        "xref": "paper",
        "x0": 0,
        "x1": 1,
        "yref": "y",
        "y0": y,
        "y1": y,
        "line": {"color": color, "dash": dash, "width": 1},
    }
    note = {
        "xref": "paper",
        "x": 1,
        "xanchor": "right",
        "yref": "y",
        "y": y,
        "yanchor": "bottom",
        "text": text,
        "showarrow": False,
        "font": {"size": 11, "color": text_color(color)},
    }
    return shape, note


def vline(x: float, color: str, text: str) -> tuple[dict, dict]:
    """A vertical dashed line at x, and its note at the top."""
    shape = {
        "type": "line",
        "xref": "x",
        "x0": x,
        "x1": x,
        "yref": "paper",
        "y0": 0,
        "y1": 1,
        "line": {"color": color, "dash": "dash", "width": 1},
    }
    note = {
        "xref": "x",
        "x": x,
        "xanchor": "left",
        "yref": "paper",
        "y": 1,
        "yanchor": "top",
        "text": text,
        "showarrow": False,
        "font": {"size": 11, "color": text_color(color)},
    }
    return shape, note


def marked(lines: list[tuple[dict, dict]]) -> tuple[list[dict], list[dict]]:
    """The shapes and the notes of reference lines, as a layout takes them."""
    return [shape for shape, _ in lines], [note for _, note in lines]


def circle(radius: float, color: str, dash: str) -> dict[str, Any]:
    return {
        "type": "circle",
        "xref": "x",
        "yref": "y",
        "x0": -radius,
        "y0": -radius,
        "x1": radius,
        "y1": radius,
        "line": {"color": color, "dash": dash, "width": 1.5},
    }


def matrix(name: str) -> str:
    """A weight block's name with its subscript: "W_hh" -> W<sub>hh</sub>."""
    base, _, index = name.partition("_")
    return sub(base, index) if index else name


def eigenvalue_markers(eigenvalues: np.ndarray, marker: dict) -> dict[str, Any]:
    """The eigenvalues as points of the complex plane."""
    return {
        "type": "scatter",
        "mode": "markers",
        "x": finite_list(eigenvalues.real),
        "y": finite_list(eigenvalues.imag),
        "name": "eigenvalues",
        "marker": marker,
        "hovertemplate": "%{x:.4f} %{y:+.4f}i<extra></extra>",
    }


def square_axes(x_title: str, y_title: str, reach: float) -> tuple[dict, dict]:
    """x and y axes over [-reach, reach] on equal scales (circles drawn round)."""
    return (
        {"title": {"text": x_title}, "range": [-reach, reach], "constrain": "domain"},
        {"title": {"text": y_title}, "range": [-reach, reach], "scaleanchor": "x"},
    )


def power(log10_value: float | None) -> str:
    """10^x in words a reader can parse: 0.0031, 3.1e-12, 1.7e+477, or 0 for -inf."""
    if log10_value is None or log10_value == -math.inf:
        return "0"
    if log10_value == math.inf:
        return "infinity"
    if -3 <= log10_value < 4:
        return f"{10.0**log10_value:.3g}"
    exponent = math.floor(log10_value)
    mantissa = 10.0 ** (log10_value - exponent)
    if mantissa >= 9.995:
        mantissa, exponent = 1.0, exponent + 1
    return f"{mantissa:.2f}e{exponent:+d}"


def num(x: float) -> str:
    return f"{x:.3g}"


def cosine_words(cosine: float | None) -> str:
    return "undefined" if cosine is None else f"{cosine:.4f}"
