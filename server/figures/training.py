"""The figures of a training job (/train): loss and accuracy (or MSE) per step against the
task's chance level, the gradient norm before and after clipping with the steps where
clipping fired, the ||dL/dh_t|| profile at initialisation and at the latest profile step,
and a sweep's final accuracy against the dependency length.

A builder takes the job's ``TrainingView`` (server/jobs.py: the records received so far, the
profiles, the task's levels, the final result once there is one) and draws; it computes
nothing.
"""

from __future__ import annotations

import math
from typing import Any

from .style import (
    BLUE,
    GREY,
    ORANGE,
    PALETTE,
    VERMILLION,
    Figure,
    figure,
    hline,
    layout,
    line,
    log_axis,
    marked,
    sub,
)

CELL_NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def training_figures(view: dict[str, Any]) -> dict[str, Figure]:
    """Every figure of the job so far (a sweep: its accuracy-vs-L figure once there are
    points); ``view`` as jobs.Job.training_view gives it."""
    if view["sweep"] is not None:
        return {"sweep": sweep_figure(view)}
    figs = {"loss": loss_figure(view), "gradient": gradient_figure(view)}
    if view["profiles"]:
        figs["profile"] = profile_figure(view)
    return figs


def _mode(steps: list[int]) -> str:
    """Lines, with markers while there are too few steps for a line to be seen."""
    return "lines" if len(steps) > 2 else "lines+markers"


def _steps(view: dict) -> list[int]:
    return view["records"].get("step", [])


def loss_figure(view: dict) -> Figure:
    """The loss per step (and accuracy on a second axis for classification tasks), with the
    task's chance / memoryless levels."""
    rec, steps = view["records"], _steps(view)
    regression = view["chance_accuracy"] is None
    data = [line(steps, rec.get("loss", []), "loss (batch)", BLUE, mode=_mode(steps))]
    lines = [hline(view["baseline_loss"], GREY, f"memoryless baseline {view['baseline_loss']:.3g}")]
    extra: dict[str, Any] = {}
    if not regression:
        data.append(
            line(steps, rec.get("accuracy", []), "accuracy (batch)", ORANGE, yaxis="y2",
                 mode=_mode(steps))
        )  # fmt: skip
        extra["yaxis2"] = {"title": {"text": "accuracy"}, "overlaying": "y", "side": "right",
                           "range": [0, 1.02], "showgrid": False, "automargin": True,
                           "tickvals": [0, 0.25, 0.5, 0.75, 1]}  # fmt: skip
        extra["margin"] = {"l": 56, "r": 56, "t": 40, "b": 96}
        chance = hline(view["chance_accuracy"], ORANGE, f"chance {view['chance_accuracy']:.3g}")
        chance[0]["yref"] = chance[1]["yref"] = "y2"
        lines.append(chance)
    shapes, notes = marked(lines)
    name = "MSE" if regression else "cross-entropy"
    lay = layout(
        "Loss during training", {"title": {"text": "step"}},
        {"title": {"text": f"loss ({name})"}, "rangemode": "tozero"},
        shapes=shapes, annotations=notes, **extra,
    )  # fmt: skip
    return figure("Loss during training", _loss_summary(view), data, lay)


def _loss_summary(view: dict) -> str:
    rec, steps = view["records"], _steps(view)
    if not steps:
        return "No step has been taken yet."
    last = rec["loss"][-1]
    text = f"After {len(steps)} of {view['steps']} steps the batch loss is "
    text += "not finite" if last is None else f"{last:.3g}"
    text += f" (memoryless baseline {view['baseline_loss']:.3g})"
    final = view["final"]
    if final is not None:
        if view["chance_accuracy"] is None:
            text += f"; held-out MSE {final['mse']:.3g} (baseline 0.167)."
        else:
            text += (
                f"; held-out accuracy {final['accuracy']:.3g} "
                f"(chance {view['chance_accuracy']:.3g})."
            )
    else:
        text += "."
    return text


def gradient_figure(view: dict) -> Figure:
    """||gradient|| before and after clipping per step, log scale, clipped steps marked."""
    rec, steps = view["records"], _steps(view)
    before, after = rec.get("grad_norm", []), rec.get("clipped_norm", [])
    fired = [s for s, c in zip(steps, rec.get("clipped", []), strict=True) if c]
    at = dict(zip(steps, before, strict=True))
    data = [
        line(steps, before, "before clipping", BLUE, mode=_mode(steps)),
        line(steps, after, "after clipping", ORANGE, dash="dot", mode=_mode(steps)),
        {"type": "scatter", "mode": "markers", "x": fired, "y": [at[s] for s in fired],
         "name": "clipping fired", "marker": {"color": VERMILLION, "symbol": "x", "size": 7}},
    ]  # fmt: skip
    config = view["config"]
    extra: dict[str, Any] = {}
    if config["clip"] == "norm":
        shape, note = hline(config["clip_threshold"], GREY, "clip threshold")
        note["y"] = math.log10(config["clip_threshold"])  # a log axis places notes in log10
        extra = {"shapes": [shape], "annotations": [note]}
    norms = [v for v in before + after if v is not None]
    shown = norms + ([config["clip_threshold"]] if config["clip"] == "norm" else [])
    lay = layout(
        "Gradient norm per step", {"title": {"text": "step"}},
        log_axis("\u2016\u2207L\u2016", shown), **extra,
    )  # fmt: skip
    summary = (
        f"Clipping ({config['clip']}) fired at {len(fired)} of {len(steps)} steps."
        if config["clip"] != "none"
        else f"No clipping; {len(steps)} steps."
    )
    if norms:  # before and after clipping; the threshold is only drawn
        summary += f" The gradient norm ranged from {min(norms):.3g} to {max(norms):.3g}."
    return figure("Gradient norm per step", summary, data, lay)


def profile_figure(view: dict) -> Figure:
    """log10 ||dL/dh_t|| over t at step 0 and at the latest profile step."""
    profiles = view["profiles"]
    shown = [profiles[0]] if len(profiles) == 1 else [profiles[0], profiles[-1]]
    data, values = [], []
    for p, color in zip(shown, (BLUE, ORANGE), strict=False):
        logs = p["log10_dh"]
        ys = [None if v is None else 10.0**v for v in logs]
        values += [y for y in ys if y is not None]
        name = "at initialisation" if p["step"] == 0 else f"at step {p['step']}"
        data.append(line(list(range(len(logs))), ys, name, color))
    lay = layout(
        "Gradient reaching each step", {"title": {"text": "step t"}},
        log_axis(f"\u2016\u2202L/\u2202{sub('h', 't')}\u2016", values),
    )  # fmt: skip
    first = shown[0]["log10_dh"]
    finite = [(t, v) for t, v in enumerate(first) if v is not None]
    summary = "The profile at initialisation has no non-zero value."
    if finite:
        (t0, v0), (t1, v1) = finite[0], finite[-1]
        summary = (
            f"At initialisation ||dL/dh_t|| is 10^{v0:.1f} at t = {t0} and 10^{v1:.1f} at "
            f"t = {t1}: {abs(v1 - v0):.1f} decades apart."
        )
    return figure("Gradient reaching each step", summary, data, lay)


HOLD_ACCURACY = 0.9  # a run "holds" at L when its held-out accuracy is at least this
HOLD_MSE_SHARE = 0.1  # ... or (adding) its MSE at most this share of the memoryless baseline
SYMBOLS = ("circle", "square", "diamond")
# where cells score the same (all at 1) their markers overlap: each drawn smaller and dashed
# differently from the one before, so every cell's point stays visible
SIZES = (12, 8, 5)
DASHES = ("solid", "dash", "dot")


def _lengths(values: list[int]) -> str:
    return ", ".join(str(v) for v in values)


def _cell_sentence(cell: str, mine: list[dict], key: str, holds, complete: bool) -> str:
    """What one cell's finished runs show, from their numbers: where it holds, its score
    elsewhere, where it diverged ("every L" only once all of its lengths have run)."""
    name = CELL_NAMES.get(cell, cell)
    scored = [p for p in mine if p[key] is not None]
    held = [p["length"] for p in scored if holds(p[key])]
    other = [p for p in scored if not holds(p[key])]
    broke = [p["length"] for p in mine if p[key] is None]
    parts = []
    if held and not other and not broke and complete:
        parts.append(f"holds at every L ({_lengths(held)})")
    elif held:
        parts.append(f"holds at L = {_lengths(held)}")
    else:
        parts.append("holds at no L")
    if other:
        parts.append(", ".join(f"{p[key]:.3g} at L = {p['length']}" for p in other))
    if broke:
        parts.append(f"no score at L = {_lengths(broke)} (diverged)")
    return f"{name} " + "; ".join(parts) + "."


def sweep_figure(view: dict) -> Figure:
    """Held-out accuracy (or MSE) at the end of each run against the dependency length, one
    line per cell (points in order of L, drawn as the runs end), the chance level (or the
    memoryless baseline) drawn. The caption says, per cell, at which L it holds (held-out
    accuracy >= 0.9, or MSE <= a tenth of the baseline) and its score at the others."""
    sweep, points = view["sweep"], view["sweep_points"]
    regression = view["chance_accuracy"] is None
    key = "mse" if regression else "accuracy"
    level = view["baseline_loss"] if regression else view["chance_accuracy"]
    if regression:

        def holds(v: float) -> bool:
            return v <= HOLD_MSE_SHARE * level

    else:

        def holds(v: float) -> bool:
            return v >= HOLD_ACCURACY

    data = []
    styles = zip(sweep["cells"], PALETTE, SYMBOLS, SIZES, DASHES, strict=False)
    for cell, color, symbol, size, dash in styles:
        mine = sorted((p for p in points if p["cell"] == cell), key=lambda p: p["length"])
        data.append(
            {"type": "scatter", "mode": "lines+markers", "x": [p["length"] for p in mine],
             "y": [p[key] for p in mine], "name": CELL_NAMES.get(cell, cell),
             "line": {"color": color, "width": 2, "dash": dash},
             "marker": {"color": color, "symbol": symbol, "size": size}}
        )  # fmt: skip
    note = f"memoryless baseline {level:.3g}" if regression else f"chance {level:.3g}"
    shapes, notes = marked([hline(level, GREY, note)])
    # the note under the line at its left end: the short L, where cells score high, not at
    # the long L, where a collapsed cell's point sits on the line
    notes[0].update(x=0, xanchor="left", yanchor="top")
    lengths = sorted(sweep["lengths"])
    xaxis: dict[str, Any] = {"title": {"text": "dependency length L"}, "tickmode": "array",
                             "tickvals": lengths}  # fmt: skip
    if lengths[-1] >= 5 * lengths[0]:  # a wide span of L reads best on a log axis
        pad = 0.08 * (math.log10(lengths[-1]) - math.log10(lengths[0]))
        xaxis.update(
            type="log", range=[math.log10(lengths[0]) - pad, math.log10(lengths[-1]) + pad]
        )
    else:
        pad = 0.08 * max(1, lengths[-1] - lengths[0])
        xaxis["range"] = [lengths[0] - pad, lengths[-1] + pad]
    yaxis: dict[str, Any] = {"title": {"text": "held-out " + key}, "rangemode": "tozero"}
    if not regression:
        yaxis.update(range=[0, 1.05], tickvals=[0, 0.25, 0.5, 0.75, 1])
    lay = layout(
        "Final accuracy against dependency length" if not regression else "Final MSE against L",
        xaxis, yaxis, shapes=shapes, annotations=notes,
    )  # fmt: skip
    total = len(sweep["cells"]) * len(sweep["lengths"])
    summary = f"{len(points)} of {total} runs finished."
    for cell in sweep["cells"]:
        mine = sorted((p for p in points if p["cell"] == cell), key=lambda p: p["length"])
        if mine:
            complete = len(mine) == len(sweep["lengths"])
            summary += " " + _cell_sentence(cell, mine, key, holds, complete)
    criterion = (
        f"MSE of at most {HOLD_MSE_SHARE * level:.3g}"
        if regression
        else f"accuracy of at least {HOLD_ACCURACY}"
    )
    level_words = (
        f"the memoryless baseline is {level:.3g}" if regression else f"chance is {level:.3g}"
    )
    summary += f" Holding means a held-out {criterion}; {level_words}."
    return figure(lay["title"]["text"], summary, data, lay)
