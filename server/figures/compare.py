"""The three cells side by side (/compare): input sensitivity and memory horizons."""

from __future__ import annotations

from typing import Any

from ...engine.compare import HORIZON_DROP, CompareResult
from ..cells import CELL_NAMES
from ..serialize import finite, finite_list
from .style import (
    BLUE,
    GREEN,
    GREY,
    VERMILLION,
    Figure,
    figure,
    hline,
    layout,
    line,
    marked,
    power,
    vline,
)

CELL_STYLE = {"rnn": (VERMILLION, "solid"), "lstm": (BLUE, "dash"), "gru": (GREEN, "dot")}
OTHER_CELL = (GREY, "dashdot")  # a registered cell with no style of its own


def _horizon_words(horizon: int | None, seq_len: int) -> str:
    return f"{horizon} steps" if horizon is not None else f"more than {seq_len - 1} steps"


def compare_numbers(r: CompareResult) -> list[dict[str, str]]:
    """Each cell's memory horizon as a number to show next to the figure."""
    t_len = r.config.seq_len
    return [
        {
            "name": cell,
            "label": f"{CELL_NAMES[cell]} memory horizon",
            "value": _horizon_words(m.horizon, t_len),
        }
        for cell, m in r.cells.items()
    ]


def sensitivity_figure(r: CompareResult) -> Figure:
    """log10 ||dh_T/dx_{T-l}|| relative to l = 0 for the three cells, with their horizons."""
    t_len = r.config.seq_len
    distance = list(range(t_len))
    data, lines = [], [hline(-HORIZON_DROP, GREY, "1e-3 of l = 0")]
    for cell, m in r.cells.items():
        color, dash = CELL_STYLE.get(cell, OTHER_CELL)
        data.append(line(distance, finite_list(m.relative), CELL_NAMES[cell], color, dash))
        if m.horizon is not None:
            lines.append(vline(m.horizon, color, f" {CELL_NAMES[cell]} {m.horizon}"))
    shapes, notes = marked(lines)
    words = ", ".join(
        f"{CELL_NAMES[cell]} {_horizon_words(m.horizon, t_len)}" for cell, m in r.cells.items()
    )
    sentence = (
        f"The input sensitivity ||dh_T/dx_(T-l)|| falls below 1e-3 of its value at l = 0 "
        f"after: {words}."
    )
    made = layout(
        "Input sensitivity relative to l = 0",
        {"title": {"text": "distance l = T - t of the input x_t"}},
        {"title": {"text": "log10 of the ratio to l = 0"}},
        shapes=shapes,
        annotations=notes,
    )
    return figure("Input sensitivity, three cells", sentence, data, made)


def absolute_sensitivity_figure(r: CompareResult) -> Figure:
    """log10 ||dh_T/dx_{T-l}|| itself, spectral norm, for the three cells."""
    distance = list(range(r.config.seq_len))
    data = []
    for cell, m in r.cells.items():
        color, dash = CELL_STYLE.get(cell, OTHER_CELL)
        spectral = m.result.input_sensitivity.spectral
        data.append(line(distance, finite_list(spectral), CELL_NAMES[cell], color, dash))
    words = ", ".join(
        f"{CELL_NAMES[cell]} {power(finite(m.result.input_sensitivity.spectral[0]))}"
        for cell, m in r.cells.items()
    )
    sentence = f"At l = 0 the sensitivity ||dh_T/dx_T|| is: {words}."
    made = layout(
        "Input sensitivity ||dh_T / dx_T-l||",
        {"title": {"text": "distance l = T - t of the input x_t"}},
        {"title": {"text": "log10 norm"}},
    )
    return figure("Input sensitivity, absolute", sentence, data, made)


def compare_figures(r: CompareResult) -> list[dict[str, Any]]:
    return [
        {"name": "sensitivity", **sensitivity_figure(r)},
        {"name": "absolute", **absolute_sensitivity_figure(r)},
    ]
