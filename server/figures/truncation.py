"""Truncated BPTT on /explore: the error of every window, and randomized truncation."""

from __future__ import annotations

from ...engine import GradientFlowResult
from ..serialize import finite_list
from .style import (
    BLUE,
    GREY,
    LOG10,
    MINUS,
    ORANGE,
    Figure,
    figure,
    hline,
    layout,
    line,
    log_axis,
    marked,
    matrix,
    norm,
    vline,
)

TAU = "τ"


def relative_words(error: float) -> str:
    return "nothing (exactly full BPTT)" if error == 0 else f"{error:.3g} relative"


def truncation_figure(r: GradientFlowResult) -> Figure:
    """The relative error of truncated BPTT in dL/dW_hh against the window tau."""
    t, window, t_len = r.truncation, r.config.window, r.config.seq_len
    data = [
        line(
            t.taus.tolist(),
            finite_list(t.log10_relative_error),
            f"{norm(f'G {MINUS} G<sub>{TAU}</sub>')} / {norm('G')}",
            BLUE,
            mode="lines+markers" if t_len <= 60 else "lines",
        )
    ]
    lines = [hline(-3.0, GREY, f"10<sup>{MINUS}3</sup>")]
    enough = t.first_tau_below(1e-3)
    if window is not None:
        lines.append(vline(window, ORANGE, f" {TAU} = {window}"))
        sentence = (
            f"Truncating BPTT to the window tau = {window} (the last {window} of {t_len} "
            f"steps) leaves an error of "
            f"{relative_words(t.error_at(window))} in dL/dW_hh; "
        )
    else:
        sentence = f"Over windows tau = 1..{t_len}, "
    sentence += (
        f"the error first falls below 1e-3 at tau = {enough}."
        if enough is not None and enough < t_len
        else "only the full window (tau = T) is within 1e-3: every step matters."
    )
    shapes, notes = marked(lines)
    made = layout(
        f"Truncated BPTT: error against window {TAU}",
        {"title": {"text": f"window {TAU} (terms with l < {TAU} kept)"}},
        {"title": {"text": f"{LOG10} relative error in dL/d{matrix('W_hh')}"}},
        shapes=shapes,
        annotations=notes,
    )
    return figure("Truncation error against the window", sentence, data, made)


def randomized_figure(r: GradientFlowResult) -> Figure:
    """Randomized truncation: each draw's error, and the running mean's, against 1/sqrt(m)."""
    rand = r.randomized
    m = list(range(1, rand.draws + 1))
    rms = rand.rms_draw_error
    data = [
        line(
            m,
            finite_list(rand.draw_error),
            "one draw",
            GREY,
            mode="markers",
            marker={"color": GREY, "size": 6, "symbol": "circle-open"},
        ),
        line(m, finite_list(rand.mean_error), "mean of the first m draws", BLUE),
        line(m, finite_list(rand.rms_over_sqrt_draws), "rms of one draw / √m", ORANGE, "dot"),
    ]
    sentence = (
        f"Keeping each step with probability {rand.p:.3g} (and weighting it by 1/p) gives an "
        f"unbiased estimate of dL/dW_hh: one draw keeps {rand.mean_kept_fraction:.0%} of "
        f"the steps on average and is off by {rms:.3g} (rms, relative); the mean of "
        f"{rand.draws} draws is off by {float(rand.mean_error[-1]):.3g}, where shrinking like "
        f"1/sqrt(m) would give {float(rand.rms_over_sqrt_draws[-1]):.3g}."
    )
    made = layout(
        "Randomized truncation: error against m",
        {"title": {"text": "number of draws m"}},
        log_axis(
            f"relative error in dL/d{matrix('W_hh')}",
            [*rand.draw_error, *rand.mean_error, *rand.rms_over_sqrt_draws],
        ),
    )
    return figure("Randomized truncation converging", sentence, data, made)
