"""The three cells side by side (/compare): input sensitivity, memory horizons, gate means."""

from __future__ import annotations

from typing import Any

from ...engine.compare import HORIZON_DROP, CellMemory, CompareResult
from ..cells import CELL_NAMES, gate_name
from ..serialize import finite, finite_list
from .style import (
    BLUE,
    GREEN,
    GREY,
    LOG10,
    MINUS,
    VERMILLION,
    Figure,
    figure,
    hline,
    layout,
    line,
    marked,
    norm,
    power,
    vline,
)

CELL_STYLE = {"rnn": (VERMILLION, "solid"), "lstm": (BLUE, "dash"), "gru": (GREEN, "dot")}
OTHER_CELL = (GREY, "dashdot")  # a registered cell with no style of its own
# a gate carrying over at least OPEN_AT of the state per step holds it; at most SHUT_AT wipes it
OPEN_AT, SHUT_AT = 0.9, 0.1
STATE_OF_GATE = {"f": "c", "z": "h", "u": "h"}
# horizon labels closer than this fraction of the x axis go on different rows
LABEL_NEAR = 0.25
LABEL_ROW = 0.08  # the height of a row of labels, as a fraction of the plot's height
DISTANCE = f"distance l = T {MINUS} t of the input x<sub>t</sub>"


def _horizon_words(horizon: int | None, seq_len: int) -> str:
    return f"{horizon} steps" if horizon is not None else f"more than {seq_len - 1} steps"


def keep_words(m: CellMemory) -> str | None:
    """What the gate that carries the state over does, in words true of its mean; None for a
    cell without one. Open (or shut) is said only when the kept fraction is >= OPEN_AT
    (or <= SHUT_AT)."""
    if m.keep_gate is None or m.kept is None:
        return None
    gate, kept = m.keep_gate, m.kept
    state = STATE_OF_GATE.get(gate, "the state")
    mean = f"the {CELL_NAMES[m.cell]}'s {gate_name(gate)} averages {m.gate_means[gate]:.3g}"
    if kept >= OPEN_AT:
        return f"{mean}: it holds {state}, carrying {kept:.3g} of it over each step"
    if kept <= SHUT_AT:
        return f"{mean}: it wipes {state}, keeping {kept:.2g} of it each step"
    return f"{mean}: the cell keeps about {round(100 * kept)}% of {state} each step"


def compare_numbers(r: CompareResult) -> list[dict[str, str]]:
    """Each cell's memory horizon, and each gated cell's gate means, to show next to the
    figure."""
    t_len = r.config.seq_len
    horizons = [
        {
            "name": cell,
            "label": f"{CELL_NAMES[cell]} memory horizon",
            "value": _horizon_words(m.horizon, t_len),
        }
        for cell, m in r.cells.items()
    ]
    gates = [
        {
            "name": f"{cell}-gates",
            "label": f"{CELL_NAMES[cell]} mean gates: "
            + ", ".join(gate_name(k).rsplit(" ", 1)[0] for k in m.gate_means),
            "value": " · ".join(f"{k} {v:.3g}" for k, v in m.gate_means.items()),
        }
        for cell, m in r.cells.items()
        if m.gate_means
    ]
    return horizons + gates


def label_rows(xs: list[float], span: float) -> list[int]:
    """A row (0 the top) for each label at xs, so that labels closer than LABEL_NEAR * span
    never share a row: each takes the first row no nearer label already holds."""
    rows: list[int] = [0] * len(xs)
    placed: list[int] = []
    for i in sorted(range(len(xs)), key=lambda k: xs[k]):
        taken = {rows[j] for j in placed if abs(xs[j] - xs[i]) < LABEL_NEAR * span}
        rows[i] = next(row for row in range(len(xs) + 1) if row not in taken)
        placed.append(i)
    return rows


def _horizon_lines(r: CompareResult) -> list[tuple[dict, dict]]:
    """The vertical line of each horizon, labels staggered in rows up from the foot of the
    plot so that none overlaps another."""
    span = max(r.config.seq_len - 1, 1)
    shown = [(cell, m) for cell, m in r.cells.items() if m.horizon is not None]
    rows = label_rows([m.horizon for _, m in shown], span)
    lines = []
    for (cell, m), row in zip(shown, rows, strict=True):
        color, _ = CELL_STYLE.get(cell, OTHER_CELL)
        shape, note = vline(m.horizon, color, f" {CELL_NAMES[cell]} {m.horizon} ")
        # at the foot of the plot, which the falling curves leave empty near their horizons
        note.update(y=row * LABEL_ROW, yanchor="bottom", bgcolor="rgba(255,255,255,0.85)")
        if m.horizon > 0.75 * span:  # near the right edge the label reads leftwards
            note["xanchor"] = "right"
        lines.append((shape, note))
    return lines


def sensitivity_figure(r: CompareResult) -> Figure:
    """log10 ||dh_T/dx_{T-l}|| relative to l = 0 for the three cells, with their horizons."""
    t_len = r.config.seq_len
    distance = list(range(t_len))
    data = []
    for cell, m in r.cells.items():
        color, dash = CELL_STYLE.get(cell, OTHER_CELL)
        data.append(line(distance, finite_list(m.relative), CELL_NAMES[cell], color, dash))
    threshold = hline(-HORIZON_DROP, GREY, f"10<sup>{MINUS}{HORIZON_DROP:g}</sup> of l = 0")
    threshold[1]["bgcolor"] = "rgba(255,255,255,0.85)"
    shapes, notes = marked([threshold, *_horizon_lines(r)])
    words = ", ".join(
        f"{CELL_NAMES[cell]} {_horizon_words(m.horizon, t_len)}" for cell, m in r.cells.items()
    )
    gates = [w for w in (keep_words(m) for m in r.cells.values()) if w]
    sentence = (
        f"The input sensitivity ||dh_T/dx_(T-l)|| falls below 1e-3 of its value at l = 0 "
        f"after: {words}" + "".join(f"; {w}" for w in gates) + "."
    )
    made = layout(
        "Input sensitivity relative to l = 0",
        {"title": {"text": DISTANCE}},
        {"title": {"text": f"{LOG10} of the ratio to l = 0"}},
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
        f"Input sensitivity {norm(f'dh<sub>T</sub>/dx<sub>T{MINUS}l</sub>')}",
        {"title": {"text": DISTANCE}},
        {"title": {"text": f"{LOG10} norm"}},
    )
    return figure("Input sensitivity, absolute", sentence, data, made)


def compare_figures(r: CompareResult) -> list[dict[str, Any]]:
    return [
        {"name": "sensitivity", **sensitivity_figure(r)},
        {"name": "absolute", **absolute_sensitivity_figure(r)},
    ]
