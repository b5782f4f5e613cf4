"""Every Plotly figure BPTT Lab draws, built here and only here.

A builder takes an engine result and returns ``{"title", "summary", "figure"}`` where
``figure`` is a plain Plotly dict (data + layout) and ``summary`` one sentence that states
the figure's numbers in words (read by screen readers, and by anyone in a hurry). The page,
the embed and the API all serve these dicts; the browser only calls ``Plotly.react``.

Colours are the Okabe-Ito palette, distinguishable with every common colour-vision
deficiency; lines also differ by dash so the figures survive greyscale printing.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..engine import GradientFlowResult
from ..engine.cliff import LOG10_ZERO, CliffDescent, CliffSurface, ClipGeometry
from ..engine.compare import HORIZON_DROP, CompareResult
from ..engine.display import bin_steps
from ..engine.eigen import EigenResult, derivative_curves, pascanu_region
from ..engine.gradient_flow import HORIZON_LOG10
from ..engine.spectrum import pascanu_log10_bound
from .serialize import finite, finite_list

BLUE, SKY, GREEN, ORANGE = "#0072B2", "#56B4E9", "#009E73", "#E69F00"
VERMILLION, PURPLE, GREY, BLACK = "#D55E00", "#CC79A7", "#767676", "#000000"
Figure = dict[str, Any]


def _layout(title: str, xaxis: dict, yaxis: dict, **extra) -> dict[str, Any]:
    """A compact layout; ``uirevision`` is fixed so zoom and pan survive Plotly.react."""
    layout = {
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
    layout["xaxis"].setdefault("gridcolor", "#e5e5e5")
    layout["yaxis"].setdefault("gridcolor", "#e5e5e5")
    layout.update(extra)
    return layout


def _line(x, y, name: str, color: str, dash: str = "solid", **extra) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "lines",
        "x": x,
        "y": y,
        "name": name,
        "line": {"color": color, "dash": dash, "width": 2},
        **extra,
    }


def _hline(y: float, color: str, text: str, dash: str = "dot") -> tuple[dict, dict]:
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
        "font": {"size": 11, "color": color},
    }
    return shape, note


def _vline(x: float, color: str, text: str) -> tuple[dict, dict]:
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
        "font": {"size": 11, "color": color},
    }
    return shape, note


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


def _num(x: float) -> str:
    return f"{x:.3g}"


# the recurrent matrix whose spectrum the figures show, by cell
RECURRENT_MATRIX = {"rnn": "W_hh", "lstm": "W_hg", "gru": "W_hn"}


# -- gradient flow (/explore) -----------------------------------------------------------------


def profile_figure(r: GradientFlowResult) -> dict[str, Any]:
    """(1) log10 ||dh_T/dh_{T-l}|| against l, with Pascanu's bound and the 1e-3 horizon."""
    distance = r.distance.tolist()
    cell = r.config.cell
    what = "(h, c)" if cell == "lstm" else "h"
    data = [
        _line(distance, finite_list(r.profile.spectral), "spectral norm", BLUE),
        _line(distance, finite_list(r.profile.frobenius), "Frobenius norm", SKY, "dash"),
    ]
    for key, name, color, dash in (
        ("hh", "dh_T/dh_T-l (c fixed)", GREEN, "dashdot"),
        ("cc", "dc_T/dc_T-l", ORANGE, "longdash"),
    ):
        block = (getattr(r, "blocks", None) or {}).get(key)
        if block is not None:
            data.append(_line(distance, finite_list(block.spectral), name, color, dash))
    if r.log10_bound is not None:
        data.append(_line(distance, finite_list(r.log10_bound), "Pascanu bound", VERMILLION, "dot"))
    shapes, notes = [], []
    for shape, note in (_hline(HORIZON_LOG10, GREY, "1e-3"),):
        shapes.append(shape)
        notes.append(note)
    s = r.summary
    if s.horizon is not None:
        shape, note = _vline(s.horizon, GREY, f" horizon l = {s.horizon}")
        shapes.append(shape)
        notes.append(note)
    final = finite(r.profile.spectral[-1])
    t_len = r.config.seq_len
    sentence = (
        f"The spectral norm of d{what}_T/d{what}_(T-l) goes from 1 at l = 0 to {power(final)} at "
        f"l = {t_len} ({s.regime}"
    )
    if s.log10_growth_per_step is not None:
        sentence += f", {s.log10_growth_per_step:+.3g} decades per step"
    sentence += "); "
    sentence += (
        f"it first falls below 1e-3 at l = {s.horizon}"
        if s.horizon is not None
        else "it never falls below 1e-3"
    )
    if r.log10_bound is not None and s.gamma_sigma_max is not None:
        sentence += (
            f", and Pascanu's bound (gamma x sigma_max = {_num(s.gamma_sigma_max)})^l "
            f"reaches {power(finite(r.log10_bound[-1]))}."
        )
    else:
        sentence += "."
    layout = _layout(
        f"Gradient norm ||d{what}_T / d{what}_T-l|| against distance l",
        {"title": {"text": "distance l = T - k (steps back in time)"}},
        {"title": {"text": "log10 norm"}},
        shapes=shapes,
        annotations=notes,
    )
    return {
        "title": "Gradient norm against distance",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


def _circle(radius: float, color: str, dash: str) -> dict[str, Any]:
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


def eigenvalue_figure(r: GradientFlowResult) -> dict[str, Any]:
    """(2) eigenvalues of W_hh in the complex plane, the unit circle and the 1/gamma circle."""
    spec = r.spectrum
    lam = spec.eigenvalues
    gamma = r.summary.gamma
    outside = int(np.count_nonzero(np.abs(lam) > 1.0))
    reach = max(1.0, spec.spectral_radius) * 1.1
    shapes = [_circle(1.0, BLACK, "solid")]
    if gamma is not None and gamma != 1.0:
        shapes.append(_circle(1.0 / gamma, VERMILLION, "dash"))
        reach = max(reach, 1.1 / gamma)
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "x": finite_list(lam.real),
            "y": finite_list(lam.imag),
            "name": "eigenvalues",
            "marker": {"color": BLUE, "size": 7, "line": {"color": "#ffffff", "width": 0.5}},
            "hovertemplate": "%{x:.4f} %{y:+.4f}i<extra></extra>",
        },
        # legend entries for the circles, which are layout shapes
        _line([None], [None], "unit circle", BLACK),
    ]
    if len(shapes) > 1:
        data.append(_line([None], [None], "1/gamma circle", VERMILLION, "dash"))
    which = RECURRENT_MATRIX[r.config.cell]
    sentence = (
        f"{which} has spectral radius {_num(spec.spectral_radius)}; {outside} of {lam.size} "
        f"eigenvalues lie outside the unit circle"
    )
    sentence += (
        f", and the 1/gamma circle has radius {_num(1.0 / gamma)}." if gamma is not None else "."
    )
    layout = _layout(
        f"Eigenvalues of {which}",
        {"title": {"text": "real part"}, "range": [-reach, reach], "constrain": "domain"},
        {
            "title": {"text": "imaginary part"},
            "range": [-reach, reach],
            "scaleanchor": "x",
            "scaleratio": 1,
        },
        shapes=shapes,
    )
    return {"title": "Eigenvalues", "summary": sentence, "figure": {"data": data, "layout": layout}}


def contribution_figure(r: GradientFlowResult) -> dict[str, Any]:
    """(3) the per-step terms of dL/dW_hh against their distance, unclipped and clipped."""
    g, c, window = r.gradient, r.clipping, r.config.window
    distance = np.arange(len(g.log10_contribution))
    if window is None:
        data = [_line(distance.tolist(), finite_list(g.log10_contribution), "unclipped", BLUE)]
    else:  # truncated BPTT: the terms it keeps in colour, those it drops greyed
        kept = np.where(distance < window, g.log10_contribution, np.nan)
        data = [_line(distance.tolist(), finite_list(kept), f"kept (l < {window})", BLUE)]
        if window < len(distance):
            dropped = np.where(distance >= window, g.log10_contribution, np.nan)
            name = f"dropped by truncation (l >= {window})"
            data.append(_line(distance.tolist(), finite_list(dropped), name, GREY, "dot"))
    clipped = c.scaled_contributions(g.log10_contribution)
    if clipped is not None:
        data.append(
            _line(distance.tolist(), finite_list(clipped), "clipped by norm", ORANGE, "dash")
        )
    shapes, notes = [], []
    if window is not None and window < r.config.seq_len:
        shape, note = _vline(window, GREY, f" window tau = {window}")
        shapes.append(shape)
        notes.append(note)
    if c.mode != "none":
        for value, color, label in (
            (c.log10_norm_before, BLUE, "total before"),
            (c.log10_norm_after, ORANGE, "total after"),
        ):
            if math.isfinite(value):
                shape, note = _hline(value, color, label, "dash")
                shapes.append(shape)
                notes.append(note)
    contribution = g.log10_contribution
    nonzero = np.flatnonzero(np.isfinite(contribution))
    if nonzero.size:
        peak = int(nonzero[np.argmax(contribution[nonzero])])
        far = int(nonzero[-1])
        sentence = (
            f"The largest term of dL/dW_hh comes from distance l = {peak} "
            f"({power(float(contribution[peak]))}) and the farthest nonzero one, l = {far}, "
            f"is {power(float(contribution[far]))}"
        )
    else:
        sentence = "Every term of dL/dW_hh is exactly zero"
    if c.mode == "norm":
        sentence += (
            f"; clipping the total norm {power(c.log10_norm_before)} at {_num(c.threshold)} "
            f"multiplies every term by {power(c.log10_coefficient)} (cosine 1)."
        )
    elif c.mode == "value" and c.log10_norm_after == c.log10_norm_before:
        sentence += (
            f"; no entry of the summed gradient exceeds +-{_num(c.threshold)}, so clipping "
            f"by value leaves it unchanged (norm {power(c.log10_norm_before)})."
        )
    elif c.mode == "value":
        cosine = "undefined" if c.cosine is None else f"{c.cosine:.4f}"
        sentence += (
            f"; clipping each entry of the summed gradient to +-{_num(c.threshold)} takes the "
            f"total norm from {power(c.log10_norm_before)} to {power(c.log10_norm_after)} "
            f"and turns its direction (cosine {cosine})."
        )
    else:
        sentence += f"; the total gradient norm is {power(c.log10_norm_before)}, unclipped."
    if window is not None:
        error = r.truncation.error_at(window)
        sentence += (
            f" Truncated BPTT with window tau = {window} keeps the terms with l < {window} "
            f"and is off from full BPTT by {_relative_words(error)}."
        )
    layout = _layout(
        "Per-step terms of dL/dW_hh",
        {"title": {"text": "distance l = T - k of the term"}},
        {"title": {"text": "log10 ||term||"}},
        shapes=shapes,
        annotations=notes,
    )
    return {
        "title": "Per-step gradient contributions",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


def singular_value_figure(r: GradientFlowResult) -> dict[str, Any]:
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
            "hovertemplate": "sigma_%{x} = %{y:.4f}<extra></extra>",
        }
    ]
    shapes, notes = [], []
    if s.gamma is not None:
        shape, note = _hline(1.0 / s.gamma, VERMILLION, "1/gamma", "dash")
        shapes.append(shape)
        notes.append(note)
    which = RECURRENT_MATRIX[r.config.cell]
    sentence = f"{which} has sigma_max = {_num(float(sv[0]))} and sigma_min = {_num(float(sv[-1]))}"
    if s.gamma_sigma_max is not None:
        verdict = (
            "below 1, so the gradient is guaranteed to vanish"
            if s.vanishing_guaranteed
            else "at least 1, so vanishing is not guaranteed (and exploding is possible)"
        )
        sentence += f"; gamma x sigma_max = {_num(s.gamma_sigma_max)} is {verdict}."
    else:
        sentence += "; Pascanu's condition is for the vanilla RNN, the gates rescale every step."
    layout = _layout(
        f"Singular values of {which}",
        {"title": {"text": "index i"}},
        {"title": {"text": "sigma_i"}, "rangemode": "tozero"},
        shapes=shapes,
        annotations=notes,
        bargap=0.15,
        showlegend=False,
    )
    return {
        "title": "Singular values",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


GATE_NAMES = {
    "i": "input gate i",
    "f": "forget gate f",
    "g": "candidate g",
    "o": "output gate o",
    "c": "cell state c",
    "r": "reset gate r",
    "z": "update gate z",
    "u": "update gate u",
}
GATE_COLORS = {"f": BLUE, "i": ORANGE, "o": GREEN, "c": PURPLE, "z": BLUE, "u": BLUE, "r": ORANGE}
HEATMAP_UNITS = 32  # units shown in a gate heatmap
HEATMAP_STEPS = 200  # time bins of a gate heatmap


def _shown_gates(r: GradientFlowResult) -> list[str]:
    gates = getattr(r, "gates", None) or {}
    order = ("f", "i", "o", "c") if r.config.cell == "lstm" else ("z", "u", "r")
    return [k for k in order if k in gates]


def gate_heatmap_figure(r: GradientFlowResult) -> dict[str, Any]:
    """Gate activations over time (time x unit), one heatmap per gate, stacked."""
    names = _shown_gates(r)
    n = r.config.hidden_size
    units = min(n, HEATMAP_UNITS)
    rows = len(names)
    gap = 0.06
    height = (1.0 - gap * (rows - 1)) / rows
    data, layout_axes, notes = [], {}, []
    for k, name in enumerate(names):
        values = r.gates[name][:, :units]
        steps, binned = bin_steps(values, HEATMAP_STEPS)
        axis = "" if k == 0 else str(k + 1)
        top = 1.0 - k * (height + gap)
        bounded = name != "c"
        data.append(
            {
                "type": "heatmap",
                "x": steps.tolist(),
                "y": list(range(1, units + 1)),
                "z": np.round(binned.T, 4).tolist(),
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
                "name": GATE_NAMES[name],
                "hovertemplate": f"{name}: %{{z:.3f}}<br>step %{{x}}, unit %{{y}}<extra></extra>",
            }
        )
        data[-1] = {key: value for key, value in data[-1].items() if value is not None}
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
                "text": GATE_NAMES[name],
                "showarrow": False,
                "font": {"size": 11},
            }
        )
    for axes in layout_axes.values():
        for key in [k for k, v in axes.items() if v is None]:
            del axes[key]
    means = {k: float(np.mean(r.gates[k])) for k in names}
    described = ", ".join(f"{GATE_NAMES[k]} {means[k]:.3g}" for k in names)
    shown = f"units 1-{units} of {n}" if units < n else f"all {n} units"
    width = -(-r.config.seq_len // HEATMAP_STEPS)
    binned_note = "" if width == 1 else f", each cell the mean over {width} steps"
    sentence = (
        f"Mean activation over all steps and units: {described}; the heatmaps show "
        f"{shown}{binned_note}."
    )
    layout = _layout(
        "Gate activations over time",
        layout_axes.pop("xaxis"),
        layout_axes.pop("yaxis"),
        annotations=notes,
        height=150 * rows + 60,
        showlegend=False,
        **layout_axes,
    )
    return {
        "title": "Gate activations",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


def gate_mean_figure(r: GradientFlowResult) -> dict[str, Any]:
    """Per-step means of the gates over units, against time."""
    names = _shown_gates(r)
    steps = list(range(1, r.config.seq_len + 1))
    data = [
        _line(steps, finite_list(r.gate_means[k]), GATE_NAMES[k], GATE_COLORS[k], dash)
        for k, dash in zip(names, ("solid", "dash", "dot", "dashdot"), strict=False)
    ]
    lo = {k: float(np.min(r.gate_means[k])) for k in names}
    hi = {k: float(np.max(r.gate_means[k])) for k in names}
    described = "; ".join(f"{GATE_NAMES[k]} from {lo[k]:.3g} to {hi[k]:.3g}" for k in names)
    sentence = f"Per-step means over units: {described}."
    keeps = {"f": ("forget gate f", "near 1", "c"), "z": ("update gate z", "near 1", "h")}
    keeps["u"] = ("update gate u", "near 0", "h")  # lecture form: h = (1-u) h_prev + u h~
    for key in names:
        if key in keeps:
            gate, where, state = keeps[key]
            sentence += f" With the {gate} {where}, {state} is carried over almost unchanged."
    layout = _layout(
        "Gate means per step",
        {"title": {"text": "time step t"}},
        {"title": {"text": "mean over units"}},
    )
    return {"title": "Gate means", "summary": sentence, "figure": {"data": data, "layout": layout}}


def _relative_words(error: float) -> str:
    return "nothing (exactly full BPTT)" if error == 0 else f"{error:.3g} relative"


def truncation_figure(r: GradientFlowResult) -> dict[str, Any]:
    """The relative error of truncated BPTT in dL/dW_hh against the window tau."""
    t, window, t_len = r.truncation, r.config.window, r.config.seq_len
    data = [
        _line(
            t.taus.tolist(),
            finite_list(t.log10_relative_error),
            "||G - G_tau|| / ||G||",
            BLUE,
            mode="lines+markers" if t_len <= 60 else "lines",
        )
    ]
    shapes, notes = [], []
    for shape, note in (_hline(-3.0, GREY, "1e-3"),):
        shapes.append(shape)
        notes.append(note)
    enough = t.first_tau_below(1e-3)
    if window is not None:
        shape, note = _vline(window, ORANGE, f" tau = {window}")
        shapes.append(shape)
        notes.append(note)
        sentence = (
            f"Truncating BPTT to the window tau = {window} (the last {window} of {t_len} "
            f"steps) leaves an error of "
            f"{_relative_words(t.error_at(window))} in dL/dW_hh; "
        )
    else:
        sentence = f"Over windows tau = 1..{t_len}, "
    sentence += (
        f"the error falls below 1e-3 from tau = {enough} on."
        if enough is not None and enough < t_len
        else "only the full window (tau = T) is within 1e-3: every step matters."
    )
    layout = _layout(
        "Truncated BPTT: error in dL/dW_hh against the window",
        {"title": {"text": "window tau (terms with l < tau kept)"}},
        {"title": {"text": "log10 relative error"}},
        shapes=shapes,
        annotations=notes,
    )
    return {
        "title": "Truncation error against the window",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


def randomized_figure(r: GradientFlowResult) -> dict[str, Any]:
    """Randomized truncation: each draw's error, and the running mean's, against 1/sqrt(m)."""
    rand = r.randomized
    m = np.arange(1, rand.draws + 1)
    rms = float(np.sqrt(np.mean(rand.draw_error**2)))
    data = [
        _line(
            m.tolist(),
            finite_list(rand.draw_error),
            "one draw",
            GREY,
            mode="markers",
            marker={"color": GREY, "size": 6, "symbol": "circle-open"},
        ),
        _line(m.tolist(), finite_list(rand.mean_error), "mean of the first m draws", BLUE),
        _line(
            m.tolist(), finite_list(rms / np.sqrt(m)), "rms of one draw / sqrt(m)", ORANGE, "dot"
        ),
    ]
    sentence = (
        f"Keeping each step with probability {rand.p:.3g} (and weighting it by 1/p) gives an "
        f"unbiased estimate of dL/dW_hh: one draw keeps {np.mean(rand.kept_fraction):.0%} of "
        f"the steps on average and is off by {rms:.3g} (rms, relative); the mean of "
        f"{rand.draws} draws is off by {float(rand.mean_error[-1]):.3g}, shrinking like "
        "1/sqrt(m)."
    )
    layout = _layout(
        "Randomized truncation: error against draws",
        {"title": {"text": "number of draws m"}},
        {"title": {"text": "relative error in dL/dW_hh"}, "type": "log"},
    )
    return {
        "title": "Randomized truncation converging",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


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
    if _shown_gates(r):
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


# -- three cells side by side (/compare) ------------------------------------------------------

CELL_NAMES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
CELL_STYLE = {"rnn": (VERMILLION, "solid"), "lstm": (BLUE, "dash"), "gru": (GREEN, "dot")}


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


def sensitivity_figure(r: CompareResult) -> dict[str, Any]:
    """log10 ||dh_T/dx_{T-l}|| relative to l = 0 for the three cells, with their horizons."""
    t_len = r.config.seq_len
    distance = list(range(t_len))
    data, shapes, notes = [], [], []
    shape, note = _hline(-HORIZON_DROP, GREY, "1e-3 of l = 0")
    shapes.append(shape)
    notes.append(note)
    for cell, m in r.cells.items():
        color, dash = CELL_STYLE[cell]
        data.append(_line(distance, finite_list(m.relative), CELL_NAMES[cell], color, dash))
        if m.horizon is not None:
            shape, note = _vline(m.horizon, color, f" {CELL_NAMES[cell]} {m.horizon}")
            shapes.append(shape)
            notes.append(note)
    words = ", ".join(
        f"{CELL_NAMES[cell]} {_horizon_words(m.horizon, t_len)}" for cell, m in r.cells.items()
    )
    sentence = (
        f"The input sensitivity ||dh_T/dx_(T-l)|| falls below 1e-3 of its value at l = 0 "
        f"after: {words}."
    )
    layout = _layout(
        "Input sensitivity relative to l = 0",
        {"title": {"text": "distance l = T - t of the input x_t"}},
        {"title": {"text": "log10 of the ratio to l = 0"}},
        shapes=shapes,
        annotations=notes,
    )
    return {
        "title": "Input sensitivity, three cells",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


def absolute_sensitivity_figure(r: CompareResult) -> dict[str, Any]:
    """log10 ||dh_T/dx_{T-l}|| itself, spectral norm, for the three cells."""
    distance = list(range(r.config.seq_len))
    data = []
    for cell, m in r.cells.items():
        color, dash = CELL_STYLE[cell]
        spectral = m.result.input_sensitivity.spectral
        data.append(_line(distance, finite_list(spectral), CELL_NAMES[cell], color, dash))
    words = ", ".join(
        f"{CELL_NAMES[cell]} {power(finite(m.result.input_sensitivity.spectral[0]))}"
        for cell, m in r.cells.items()
    )
    sentence = f"At l = 0 the sensitivity ||dh_T/dx_T|| is: {words}."
    layout = _layout(
        "Input sensitivity ||dh_T / dx_T-l||",
        {"title": {"text": "distance l = T - t of the input x_t"}},
        {"title": {"text": "log10 norm"}},
    )
    return {
        "title": "Input sensitivity, absolute",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


def compare_figures(r: CompareResult) -> list[dict[str, Any]]:
    return [
        {"name": "sensitivity", **sensitivity_figure(r)},
        {"name": "absolute", **absolute_sensitivity_figure(r)},
    ]


# -- Pascanu's cliff (/cliff) -------------------------------------------------------------------

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
    traces.append(
        {
            "type": "scatter",
            "mode": "markers",
            "x": [d.start[0]],
            "y": [d.start[1]],
            "name": "start",
            "marker": {"color": "#ffffff", "size": 12, "symbol": "star", "line": {"width": 1.5}},
        }
    )
    return traces


def _grid_axes(surface: CliffSurface) -> tuple[dict, dict]:
    c = surface.config
    return (
        {"title": {"text": "w"}, "range": [c.w_min, c.w_max]},
        {"title": {"text": "b"}, "range": [c.b_min, c.b_max]},
    )


def _outcome(p) -> str:
    if p.diverged_at is not None:
        return f"diverged at step {p.diverged_at}"
    longest = float(p.step_length.max()) if p.step_length.size else 0.0
    return f"ends at loss {float(p.loss[-1]):.3g}, longest step {longest:.3g}"


def cliff_surface_figure(surface: CliffSurface, d: CliffDescent) -> dict[str, Any]:
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
    sentence = (
        f"E ranges from {float(surface.loss.min()):.3g} to {float(surface.loss.max()):.3g} over "
        f"the grid; from (w, b) = ({d.start[0]:.3g}, {d.start[1]:.3g}) with learning rate "
        f"{d.learning_rate:.3g}: {words}."
    )
    layout = _layout(
        "Loss surface E(w, b) and gradient descent (click to start)",
        xaxis,
        yaxis,
        height=460,
        legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top"},
    )
    return {
        "title": "Loss surface",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


def cliff_gradient_figure(surface: CliffSurface, d: CliffDescent) -> dict[str, Any]:
    """log10 ||grad E|| over the grid: the walls light up."""
    xaxis, yaxis = _grid_axes(surface)
    g = surface.log10_grad_norm
    nonzero = g > LOG10_ZERO
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
        _path_traces(d)[-1],
    ]
    top = np.unravel_index(int(np.argmax(np.where(nonzero, g, -np.inf))), g.shape)
    median = float(np.median(g[nonzero])) if nonzero.any() else None
    sentence = (
        f"The gradient norm peaks at {power(float(g[top]))} at (w, b) = "
        f"({float(surface.w[top[1]]):.3g}, {float(surface.b[top[0]]):.3g}), on the wall"
    )
    sentence += f", against a median of {power(median)} over the grid." if median else "."
    layout = _layout("Gradient norm ||grad E|| (log scale)", xaxis, yaxis, height=460)
    return {
        "title": "Gradient norm",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


def log10_list(a: np.ndarray) -> list:
    """log10 values with the engine's LOG10_ZERO (exactly zero) as null."""
    return finite_list(np.where(a <= LOG10_ZERO, -np.inf, a))


def _per_iteration(d: CliffDescent, key: str, title: str, ytitle: str, log: bool):
    data = []
    for mode, p in d.paths.items():
        color, dash = MODE_STYLE[mode]
        y = getattr(p, key)
        data.append(_line(list(range(len(y))), finite_list(y), MODE_NAMES[mode], color, dash))
    yaxis = {"title": {"text": ytitle}}
    if log:
        yaxis["type"] = "log"
    layout = _layout(title, {"title": {"text": "iteration"}}, yaxis)
    return {"data": data, "layout": layout}


def cliff_loss_figure(d: CliffDescent) -> dict[str, Any]:
    fig = _per_iteration(d, "loss", "Loss per iteration", "E", log=False)
    words = "; ".join(
        f"{MODE_NAMES[m]} {float(p.loss[0]):.3g} to {float(p.loss[-1]):.3g}"
        + (f" (diverged at step {p.diverged_at})" if p.diverged_at is not None else "")
        for m, p in d.paths.items()
    )
    return {"title": "Loss per iteration", "summary": f"Loss: {words}.", "figure": fig}


def cliff_step_figure(d: CliffDescent) -> dict[str, Any]:
    fig = _per_iteration(d, "step_length", "Step length per iteration", "||step||", log=True)
    words = "; ".join(
        f"{MODE_NAMES[m]} at most {float(p.step_length.max()):.3g}"
        for m, p in d.paths.items()
        if p.step_length.size
    )
    bound = d.learning_rate * d.clip_threshold
    sentence = (
        f"Longest step: {words or 'no steps taken'}; clipping by norm bounds every step by "
        f"learning rate x threshold = {bound:.3g}."
    )
    return {"title": "Step length per iteration", "summary": sentence, "figure": fig}


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


def clipping_figure(geo: ClipGeometry) -> dict[str, Any]:
    """The gradient at the start point and its two clippings, drawn to scale of the threshold:
    the norm ball (clip_grad_norm_ keeps the direction) and the box (clip_grad_value_)."""
    c = geo.results["norm"].threshold
    log10_norm = geo.results["norm"].log10_norm_before
    norm = 10.0**log10_norm if log10_norm > -300 else 0.0
    norm_m = float(np.linalg.norm(geo.gradient))
    direction = geo.gradient / norm_m if norm_m > 0 else geo.gradient
    # the view fits the threshold, or the gradient when it is the smaller: a gradient of
    # 1e5 is drawn as a ray of the view's size, labelled with its true norm
    reach = 1.5 * (min(c, norm) if norm > 0 else c)
    shown = direction * min(1.3 * reach, norm)
    shapes = [
        _circle(c, BLUE, "dash"),
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
        _line([None], [None], "grad E (to the view's scale)", GREY),
        _line([None], [None], "clipped by norm, and the ball ||g|| <= c", BLUE, "dash"),
        _line([None], [None], "clipped by value, and the box |g_i| <= c", GREEN, "dot"),
    ]
    value = geo.results["value"]
    cosine = "undefined" if value.cosine is None else f"{value.cosine:.4f}"
    sentence = (
        f"At (w, b) = ({geo.point[0]:.3g}, {geo.point[1]:.3g}) the gradient has norm "
        f"{power(log10_norm)}; clipping by norm at {_num(c)} gives norm "
        f"{power(geo.results['norm'].log10_norm_after)} and cosine 1 (same direction), "
        f"clipping by value gives norm {power(value.log10_norm_after)} and cosine {cosine}."
    )
    layout = _layout(
        "Clipping the gradient at the start point",
        {"title": {"text": "dE/dw"}, "range": [-reach, reach], "constrain": "domain"},
        {"title": {"text": "dE/db"}, "range": [-reach, reach], "scaleanchor": "x"},
        shapes=shapes,
        annotations=notes,
        height=420,
        legend={"orientation": "v", "x": 0, "y": -0.25, "yanchor": "top"},
    )
    return {
        "title": "Clipping geometry",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


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
    value = geo.results["value"]
    numbers.append(
        {
            "name": "cosine-value",
            "label": "Cosine after clipping by value",
            "value": "undefined" if value.cosine is None else f"{value.cosine:.4f}",
        }
    )
    return numbers


# -- the linear case (/eigen) -----------------------------------------------------------------

EIGEN_COMPONENTS = 12  # component curves drawn (largest |lambda| first)
PALETTE = (
    BLUE,
    ORANGE,
    GREEN,
    PURPLE,
    SKY,
    VERMILLION,
    BLACK,
    GREY,
)  # Okabe-Ito; its yellow is too faint on white


def _lambda_text(lam: complex) -> str:
    if abs(lam.imag) < 1e-12:
        return f"{lam.real:.3g}"
    return f"{lam.real:.3g}{lam.imag:+.3g}i"


def eigen_component_figure(r: EigenResult) -> dict[str, Any]:
    """|c_i lambda_i^l| ||q_i|| for each component, and ||g_l|| directly and as their sum."""
    distance = r.distance.tolist()
    shown = min(EIGEN_COMPONENTS, r.eigenvalues.size)
    data = [
        _line(
            distance,
            finite_list(r.log10_component[:, i]),
            f"component {i + 1}, lambda = {_lambda_text(complex(r.eigenvalues[i]))}",
            PALETTE[i % len(PALETTE)],
            "dot",
            line={"color": PALETTE[i % len(PALETTE)], "dash": "dot", "width": 1.2},
        )
        for i in range(shown)
    ]
    data.append(_line(distance, finite_list(r.log10_direct), "||g_l|| directly", BLACK))
    data.append(
        _line(distance, finite_list(r.log10_expansion), "||sum of components||", ORANGE, "dash")
    )
    more = "" if shown == r.eigenvalues.size else f" (the {shown} largest of {r.eigenvalues.size})"
    sentence = (
        f"Each component shrinks or grows like |lambda_i|^l{more}; their sum matches "
        f"g_l = (W^T)^l g_0 computed directly to a largest relative difference of "
        f"{r.max_relative_difference:.2g}"
    )
    if r.eigenvector_condition > 1e8:
        sentence += (
            f" (the eigenvectors are nearly dependent, condition {r.eigenvector_condition:.2g}, "
            "so the expansion cannot represent g_l)"
        )
    sentence += "."
    layout = _layout(
        "Components of g_l = sum c_i lambda_i^l q_i",
        {"title": {"text": "distance l"}},
        {"title": {"text": "log10 norm"}},
        height=460,
        legend={"orientation": "v", "x": 1.02, "y": 1, "xanchor": "left", "font": {"size": 10}},
    )
    return {
        "title": "Eigen-expansion",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


def eigen_plane_figure(r: EigenResult) -> dict[str, Any]:
    lam = r.eigenvalues
    reach = max(1.0, r.spectral_radius) * 1.15
    data = [
        {
            "type": "scatter",
            "mode": "markers",
            "x": finite_list(lam.real),
            "y": finite_list(lam.imag),
            "name": "eigenvalues",
            "marker": {"color": BLUE, "size": 9},
            "hovertemplate": "%{x:.4f} %{y:+.4f}i<extra></extra>",
        },
        _line([None], [None], "unit circle", BLACK),
    ]
    outside = int(np.count_nonzero(np.abs(lam) > 1.0))
    sentence = (
        f"Spectral radius {_num(r.spectral_radius)}, sigma_max {_num(r.sigma_max)}; "
        f"{outside} of {lam.size} eigenvalues lie outside the unit circle."
    )
    layout = _layout(
        "Eigenvalues of W",
        {"title": {"text": "real part"}, "range": [-reach, reach], "constrain": "domain"},
        {"title": {"text": "imaginary part"}, "range": [-reach, reach], "scaleanchor": "x"},
        shapes=[_circle(1.0, BLACK, "solid")],
    )
    return {"title": "Eigenvalues", "summary": sentence, "figure": {"data": data, "layout": layout}}


def power_norm_figure(r: EigenResult) -> dict[str, Any]:
    """||W^l||, the worst case over g_0, against rho^l: transient growth of a non-normal W."""
    distance = r.distance.tolist()
    t_len = int(r.distance[-1])
    rho_line = pascanu_log10_bound(1.0, r.spectral_radius, t_len)
    data = [
        _line(distance, finite_list(r.log10_power_norm), "||W^l||", BLUE),
        _line(distance, finite_list(r.log10_direct), "||g_l|| for this g_0", GREEN, "dash"),
        _line(distance, finite_list(rho_line), "rho^l", VERMILLION, "dot"),
    ]
    peak_l = int(np.argmax(r.log10_power_norm))
    peak = float(r.log10_power_norm[peak_l])
    if r.transient_growth or (r.spectral_radius < 1 and peak > 0):
        sentence = (
            f"Every eigenvalue lies inside the unit circle (rho = {_num(r.spectral_radius)}), "
            f"yet ||W^l|| grows to {power(peak)} at l = {peak_l} before it decays: W is "
            f"non-normal, and its eigenvectors (condition {r.eigenvector_condition:.3g}) "
            f"are far from orthogonal."
        )
    else:
        sentence = (
            f"||W^l|| follows rho^l = {_num(r.spectral_radius)}^l up to a constant "
            f"(largest value {power(peak)} at l = {peak_l})."
        )
    layout = _layout(
        "||W^l|| against rho^l",
        {"title": {"text": "distance l"}},
        {"title": {"text": "log10 norm"}},
    )
    return {
        "title": "Transient growth",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


DERIVATIVE_GRID = np.linspace(-6.0, 6.0, 241)
NONLINEARITY_STYLE = {
    "tanh": (BLUE, "solid"),
    "sigmoid": (ORANGE, "dash"),
    "relu": (GREEN, "dot"),
    "identity": (PURPLE, "dashdot"),
}


def derivative_figure() -> dict[str, Any]:
    """phi'(a) for each nonlinearity, with its bound gamma."""
    curves = derivative_curves(DERIVATIVE_GRID)
    a = finite_list(curves.a)
    data = [
        _line(a, finite_list(curves.derivative[k]), f"{k}' (gamma = {curves.gamma[k]:g})", *sty)
        for k, sty in NONLINEARITY_STYLE.items()
    ]
    sentence = (
        "The slope bound gamma = sup |phi'| is "
        + ", ".join(f"{k} {curves.gamma[k]:g}" for k in NONLINEARITY_STYLE)
        + "; sigmoid' peaks at 1/4 at a = 0, tanh' at 1."
    )
    layout = _layout(
        "Derivatives of the nonlinearities",
        {"title": {"text": "pre-activation a"}},
        {"title": {"text": "phi'(a)"}, "range": [-0.05, 1.1]},
    )
    return {
        "title": "Nonlinearity slopes",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


def region_figure(r: EigenResult) -> dict[str, Any]:
    """Pascanu's conditions in the (sigma_max, gamma) plane: below gamma = 1/sigma_max the
    gradient is guaranteed to vanish; above it exploding is possible (not certain)."""
    curves = derivative_curves(DERIVATIVE_GRID[:1])
    top = max(3.0, 1.25 * r.sigma_max)
    sigma = np.linspace(1.0 / 1.1, top, 200)
    data = [
        _line(finite_list(sigma), finite_list(1.0 / sigma), "gamma = 1 / sigma_max", BLACK),
    ]
    for k, (color, _) in NONLINEARITY_STYLE.items():
        data.append(
            {
                "type": "scatter",
                "mode": "markers",
                "x": [r.sigma_max],
                "y": [curves.gamma[k]],
                "name": f"{k}: {pascanu_region(curves.gamma[k], r.sigma_max)}",
                "marker": {"color": color, "size": 11, "symbol": "diamond"},
            }
        )
    notes = [
        {"x": 0.35 * top, "y": 0.12, "text": "vanishing guaranteed", "showarrow": False},
        {"x": 0.7 * top, "y": 0.9, "text": "exploding possible", "showarrow": False},
    ]
    words = "; ".join(
        f"{k} {pascanu_region(curves.gamma[k], r.sigma_max)}" for k in NONLINEARITY_STYLE
    )
    sentence = (
        f"With sigma_max(W) = {_num(r.sigma_max)}: {words}. sigma_max < 1/gamma guarantees "
        "vanishing; sigma_max > 1/gamma is necessary, not sufficient, for exploding."
    )
    layout = _layout(
        "Pascanu's conditions",
        {"title": {"text": "sigma_max(W)"}, "range": [0, top]},
        {"title": {"text": "gamma"}, "range": [0, 1.1]},
        annotations=notes,
    )
    return {
        "title": "Pascanu's conditions",
        "summary": sentence,
        "figure": {"data": data, "layout": layout},
    }


def eigen_figures(r: EigenResult) -> list[dict[str, Any]]:
    return [
        {"name": "components", **eigen_component_figure(r)},
        {"name": "power", **power_norm_figure(r)},
        {"name": "eigenvalues", **eigen_plane_figure(r)},
        {"name": "derivatives", **derivative_figure()},
        {"name": "regions", **region_figure(r)},
    ]


def eigen_numbers(r: EigenResult) -> list[dict[str, str]]:
    return [
        {"name": "radius", "label": "Spectral radius", "value": _num(r.spectral_radius)},
        {"name": "sigma", "label": "sigma_max(W)", "value": _num(r.sigma_max)},
        {
            "name": "difference",
            "label": "Largest relative difference, expansion vs direct",
            "value": f"{r.max_relative_difference:.2g}",
        },
        {
            "name": "transient",
            "label": "Transient growth",
            "value": f"yes, peak {power(r.peak_log10)} at l = {r.peak_distance}"
            if r.transient_growth
            else "no",
        },
    ]
