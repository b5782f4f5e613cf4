"""The explorer's figures (/explore): the Jacobian profile, the spectrum of the recurrent
matrix and the per-step terms of the gradient; the gate and truncation figures are in
gates.py and truncation.py, and ``gradient_flow_figures`` puts them all in page order."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...engine import GradientFlowResult
from ...engine.display import finite_peak, window_split
from ...engine.gradient_flow import HORIZON_LOG10
from ..cells import RECURRENT_MATRIX, STATE_LABEL
from ..serialize import finite, finite_list
from .bounds import CUT_MARGIN, bound_factors_figure, cut_bound_note, measured_range, regime_words
from .gates import gate_heatmap_figure, gate_mean_figure, shown_gates
from .style import (
    BLACK,
    BLUE,
    GREEN,
    GREY,
    LOG10,
    MINUS,
    ORANGE,
    SKY,
    VERMILLION,
    Figure,
    circle,
    cosine_words,
    eigenvalue_markers,
    figure,
    hline,
    jacobian,
    layout,
    legend_entry,
    line,
    marked,
    matrix,
    norm,
    num,
    power,
    square_axes,
    vline,
)
from .truncation import randomized_figure, relative_words, truncation_figure


def profile_figure(r: GradientFlowResult) -> Figure:
    """(1) log10 ||dh_T/dh_{T-l}|| against l, with Pascanu's bound and the 1e-3 gradient
    horizon. The y-range follows the measured curves; a bound above them is cut at the top
    and labelled with its value at l = T."""
    distance = r.distance.tolist()
    what = STATE_LABEL[r.config.cell]
    measured = [r.profile.spectral, r.profile.frobenius]
    data = [
        line(distance, finite_list(r.profile.spectral), "spectral norm", BLUE),
        line(distance, finite_list(r.profile.frobenius), "Frobenius norm", SKY, "dash"),
    ]
    for key, name, color, dash in (
        ("hh", f"{jacobian('h')} (c fixed)", GREEN, "dashdot"),
        ("cc", jacobian("c"), ORANGE, "longdash"),
    ):
        block = (getattr(r, "blocks", None) or {}).get(key)
        if block is not None:
            data.append(line(distance, finite_list(block.spectral), name, color, dash))
            measured.append(block.spectral)
    y_range = measured_range(measured, (HORIZON_LOG10,))
    s = r.summary
    lines = [hline(HORIZON_LOG10, GREY, f"10<sup>{MINUS}3</sup>")]
    if s.horizon is not None:
        lines.append(vline(s.horizon, GREY, f" gradient horizon l = {s.horizon}"))
    shapes, notes = marked(lines)
    t_len = r.config.seq_len
    sentence = (
        f"The spectral norm of d{what}_T/d{what}_(T-l) goes from 1 at l = 0 to "
        f"{power(finite(r.profile.spectral[-1]))} at l = {t_len}: "
        f"{regime_words(s.log10_rate_per_step, s.regime)}. "
    )
    sentence += (
        f"Its gradient horizon, the first l at which it is below 1e-3, is l = {s.horizon}"
        if s.horizon is not None
        else f"It never falls below 1e-3 within {t_len} step{'s' * (t_len > 1)} "
        "(no gradient horizon)"
    )
    extra = {}
    if r.log10_bound is not None and s.gamma_sigma_max is not None:
        cut = cut_bound_note(r.log10_bound, y_range, "Pascanu bound", VERMILLION)
        if cut is not None:
            notes.append(cut)
            extra["margin"] = CUT_MARGIN
        data.append(line(distance, finite_list(r.log10_bound), "Pascanu bound", VERMILLION, "dot"))
        sentence += (
            f"; Pascanu's bound (gamma x sigma_max = {num(s.gamma_sigma_max)})^l "
            f"reaches {power(finite(r.log10_bound[-1]))} at l = {t_len}"
            + (" (cut at the top of the plot)." if cut is not None else ".")
        )
    else:
        sentence += "."
    made = layout(
        f"Gradient norm {norm(jacobian(what))}",
        {"title": {"text": f"distance l = T {MINUS} k (steps back in time)"}},
        {"title": {"text": f"{LOG10} norm"}, "range": y_range, "autorange": False},
        shapes=shapes,
        annotations=notes,
        **extra,
    )
    return figure("Gradient norm against distance", sentence, data, made)


def eigenvalue_figure(r: GradientFlowResult) -> Figure:
    """(2) eigenvalues of W_hh in the complex plane, the unit circle and the 1/gamma circle."""
    spec = r.spectrum
    lam = spec.eigenvalues
    gamma = r.summary.gamma
    reach = max(1.0, spec.spectral_radius) * 1.1
    shapes = [circle(1.0, BLACK, "solid")]
    if gamma is not None and gamma != 1.0:
        shapes.append(circle(1.0 / gamma, VERMILLION, "dash"))
        reach = max(reach, 1.1 / gamma)
    data = [
        eigenvalue_markers(
            lam, {"color": BLUE, "size": 7, "line": {"color": "#ffffff", "width": 0.5}}
        ),
        # legend entries for the circles, which are layout shapes
        legend_entry("unit circle", BLACK),
    ]
    if len(shapes) > 1:
        data.append(legend_entry("1/γ circle", VERMILLION, "dash"))
    which = RECURRENT_MATRIX[r.config.cell]
    sentence = (
        f"{which} has spectral radius {num(spec.spectral_radius)}; {spec.outside_unit_circle} "
        f"of {lam.size} eigenvalues lie outside the unit circle"
    )
    if gamma == 1.0:
        sentence += ", and with gamma = 1 the 1/gamma circle is the unit circle."
    elif gamma is not None:
        sentence += f", and the 1/gamma circle has radius {num(1.0 / gamma)}."
    else:
        sentence += "."
    xaxis, yaxis = square_axes("real part", "imaginary part", reach)
    made = layout(
        f"Eigenvalues of {matrix(which)}", xaxis, {**yaxis, "scaleratio": 1}, shapes=shapes
    )
    return figure("Eigenvalues", sentence, data, made)


def _clipping_words(c) -> str:
    if c.mode == "norm" and c.log10_coefficient == 0:
        return (
            f"; the total norm {power(c.log10_norm_before)} is within the threshold "
            f"{num(c.threshold)}, so clipping by norm leaves it unchanged."
        )
    if c.mode == "norm":
        return (
            f"; clipping the total norm {power(c.log10_norm_before)} at {num(c.threshold)} "
            f"multiplies every term by {power(c.log10_coefficient)} (cosine 1)."
        )
    if c.mode == "value" and c.log10_norm_after == c.log10_norm_before:
        return (
            f"; no entry of the summed gradient exceeds +-{num(c.threshold)}, so clipping "
            f"by value leaves it unchanged (norm {power(c.log10_norm_before)})."
        )
    if c.mode == "value":
        cosine = cosine_words(c.cosine)
        return (
            f"; clipping each entry of the summed gradient to +-{num(c.threshold)} takes the "
            f"total norm from {power(c.log10_norm_before)} to {power(c.log10_norm_after)} "
            f"and turns its direction (cosine {cosine})."
        )
    return f"; the total gradient norm is {power(c.log10_norm_before)}, unclipped."


def contribution_figure(r: GradientFlowResult) -> Figure:
    """(3) the per-step terms of dL/dW_hh against their distance, unclipped and clipped."""
    g, c, window = r.gradient, r.clipping, r.config.window
    contribution = g.log10_contribution
    distance = list(range(len(contribution)))
    if window is None:
        data = [line(distance, finite_list(contribution), "unclipped", BLUE)]
    else:  # truncated BPTT: the terms it keeps in colour, those it drops greyed
        kept, dropped = window_split(contribution, window)
        data = [line(distance, finite_list(kept), f"kept (l < {window})", BLUE)]
        if window < len(distance):
            name = f"dropped by truncation (l ≥ {window})"
            data.append(line(distance, finite_list(dropped), name, GREY, "dot"))
    clipped = c.scaled_contributions(contribution)
    if clipped is not None:
        data.append(line(distance, finite_list(clipped), "clipped by norm", ORANGE, "dash"))
    lines = []
    if window is not None and window < r.config.seq_len:
        lines.append(vline(window, GREY, f" window τ = {window}"))
    if c.mode != "none":
        for value, color, label in (
            (c.log10_norm_before, BLUE, "total before"),
            (c.log10_norm_after, ORANGE, "total after"),
        ):
            if np.isfinite(value):
                lines.append(hline(value, color, label, "dash"))
    shapes, notes = marked(lines)
    peak = finite_peak(contribution)
    if peak is not None:
        top, far = peak
        sentence = (
            f"The largest term of dL/dW_hh comes from distance l = {top} "
            f"({power(float(contribution[top]))}) and the farthest nonzero one, l = {far}, "
            f"is {power(float(contribution[far]))}"
        )
    else:
        sentence = "Every term of dL/dW_hh is exactly zero"
    sentence += _clipping_words(c)
    if window is not None:
        error = r.truncation.error_at(window)
        sentence += (
            f" Truncated BPTT with window tau = {window} keeps the terms with l < {window} "
            f"and is off from full BPTT by {relative_words(error)}."
        )
    made = layout(
        f"Per-step terms of dL/d{matrix('W_hh')}",
        {"title": {"text": f"distance l = T {MINUS} k of the term"}},
        {"title": {"text": f"{LOG10} {norm('term')}"}},
        shapes=shapes,
        annotations=notes,
    )
    return figure("Per-step gradient contributions", sentence, data, made)


def singular_value_figure(r: GradientFlowResult) -> Figure:
    """(4) the singular values of W_hh, with 1/gamma (sigma_max below it guarantees vanishing)."""
    sv = r.spectrum.singular_values
    s = r.summary
    index = list(range(1, sv.size + 1))
    data = [
        {
            "type": "bar",
            "x": index,
            "y": finite_list(sv),
            "name": "singular values",
            "marker": {"color": GREEN},
            "hovertemplate": "σ<sub>%{x}</sub> = %{y:.4f}<extra></extra>",
        }
    ]
    shapes, notes = marked(
        [hline(1.0 / s.gamma, VERMILLION, "1/γ", "dash")] if s.gamma is not None else []
    )
    which = RECURRENT_MATRIX[r.config.cell]
    sentence = f"{which} has sigma_max = {num(float(sv[0]))} and sigma_min = {num(float(sv[-1]))}"
    if s.gamma_sigma_max == 0:
        sentence += "; gamma x sigma_max = 0: the gradient is exactly 0 one step back."
    elif s.gamma_sigma_max is not None and s.vanishing_guaranteed:
        sentence += (
            f"; gamma x sigma_max = {num(s.gamma_sigma_max)} is below 1, so the gradient is "
            f"guaranteed to vanish, by at least {-math.log10(s.gamma_sigma_max):.3g} decades "
            f"per step (measured: {regime_words(s.log10_rate_per_step, s.regime)})."
        )
    elif s.gamma_sigma_max is not None:
        sentence += (
            f"; gamma x sigma_max = {num(s.gamma_sigma_max)} is at least 1, so the bound does "
            f"not decide: the slopes along the run do, and the measured profile is "
            f"{regime_words(s.log10_rate_per_step, s.regime)}."
        )
    else:
        sentence += "; Pascanu's condition is for the vanilla RNN, the gates rescale every step."
    made = layout(
        f"Singular values of {matrix(which)}",
        {"title": {"text": "index i"}},
        {"title": {"text": "σ<sub>i</sub>"}, "rangemode": "tozero"},
        shapes=shapes,
        annotations=notes,
        bargap=0.15,
        showlegend=False,
    )
    return figure("Singular values", sentence, data, made)


GRADIENT_FLOW_FIGURES = {
    "profile": profile_figure,
    "eigenvalues": eigenvalue_figure,
    "contributions": contribution_figure,
    "singular_values": singular_value_figure,
}


def gradient_flow_figures(r: GradientFlowResult) -> list[dict[str, Any]]:
    """The explorer's figures in page order, each ``{"name", "title", "summary", "figure"}``;
    gated cells get their gate figures next to the profile."""
    builders = dict(GRADIENT_FLOW_FIGURES)
    order = list(builders)
    if getattr(r, "bound_factors", None) is not None:
        builders["bound_factors"] = bound_factors_figure
        order.insert(1, "bound_factors")
    if shown_gates(r):
        builders |= {"gates": gate_heatmap_figure, "gate_means": gate_mean_figure}
        order[1:1] = ["gates", "gate_means"]
    after = order.index("contributions") + 1
    if r.truncation is not None:
        builders["truncation"] = truncation_figure
        order.insert(after, "truncation")
        after += 1
    if r.randomized is not None:
        builders["randomized"] = randomized_figure
        order.insert(after, "randomized")
    return [{"name": name, **builders[name](r)} for name in order]
