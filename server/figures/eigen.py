"""The linear case (/eigen): the eigen-expansion of g_l = (W^T)^l g_0, transient growth,
the eigenvalues, the nonlinearities' slopes and Pascanu's conditions."""

from __future__ import annotations

from typing import Any

from ...engine.eigen import EigenResult, derivative_curves, pascanu_boundary
from ...engine.spectrum import ON_CIRCLE
from ..serialize import finite_list
from .style import (
    BLACK,
    BLUE,
    GREEN,
    LOG10,
    MINUS,
    ORANGE,
    PALETTE,
    PURPLE,
    VERMILLION,
    Figure,
    circle,
    eigenvalue_markers,
    figure,
    layout,
    legend_entry,
    line,
    norm,
    num,
    power,
    square_axes,
)

EIGEN_COMPONENTS = 12  # component curves drawn (largest |lambda| first)
NONLINEARITY_STYLE = {
    "tanh": (BLUE, "solid"),
    "sigmoid": (ORANGE, "dash"),
    "relu": (GREEN, "dot"),
    "identity": (PURPLE, "dashdot"),
}


def _lambda_text(lam: complex) -> str:
    if abs(lam.imag) < 1e-12:
        return f"{lam.real:.3g}"
    return f"{lam.real:.3g}{lam.imag:+.3g}i"


G_L = "g<sub>l</sub>"
W_L = "W<sup>l</sup>"
RHO_L = "ρ<sup>l</sup>"


def eigen_component_figure(r: EigenResult) -> Figure:
    """|c_i lambda_i^l| ||q_i|| for each component, and ||g_l|| directly and as their sum."""
    distance = r.distance.tolist()
    shown = min(EIGEN_COMPONENTS, r.eigenvalues.size)
    data = [
        line(
            distance,
            finite_list(r.log10_component[:, i]),
            f"λ<sub>{i + 1}</sub> = " + _lambda_text(complex(r.eigenvalues[i])).replace("-", MINUS),
            PALETTE[i % len(PALETTE)],
            "dot",
            line={"color": PALETTE[i % len(PALETTE)], "dash": "dot", "width": 1.2},
            hovertemplate=f"component {i + 1}: l = %{{x}}, {LOG10} %{{y:.3f}}<extra></extra>",
        )
        for i in range(shown)
    ]
    data.append(line(distance, finite_list(r.log10_direct), f"{norm(G_L)} directly", BLACK))
    data.append(
        line(
            distance,
            finite_list(r.log10_expansion),
            norm("Σ of the components"),
            ORANGE,
            "dash",
        )
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
    made = layout(
        f"Components of {G_L} = Σ<sub>i</sub> c<sub>i</sub> λ<sub>i</sub><sup>l</sup> "
        "q<sub>i</sub>",
        {"title": {"text": "distance l"}},
        {"title": {"text": f"{LOG10} norm"}},
        height=460,
        # below the plot, where on a phone it wraps into rows instead of covering the curves
        legend={"orientation": "h", "x": 0, "y": -0.2, "yanchor": "top", "font": {"size": 10}},
    )
    return figure("Eigen-expansion", sentence, data, made)


def eigen_plane_figure(r: EigenResult) -> Figure:
    lam = r.eigenvalues
    reach = max(1.0, r.spectral_radius) * 1.15
    data = [
        eigenvalue_markers(lam, {"color": BLUE, "size": 9}),
        legend_entry("unit circle", BLACK),
    ]
    sentence = (
        f"Spectral radius {num(r.spectral_radius)}, sigma_max {num(r.sigma_max)}; "
        f"{r.outside_unit_circle} of {lam.size} eigenvalues lie outside the unit circle."
    )
    made = layout(
        "Eigenvalues of W",
        *square_axes("real part", "imaginary part", reach),
        shapes=[circle(1.0, BLACK, "solid")],
    )
    return figure("Eigenvalues", sentence, data, made)


EXACT_RATIO = 1e-9  # log10 ||W^l|| / rho^l within this of 0 at every l: ||W^l|| = rho^l
ZERO_RADIUS = 1e-6  # a nilpotent W's eigenvalues come out of rounding at ~1e-8: zero


def _power_sentence(r: EigenResult) -> str:
    """What ||W^l|| does against rho^l, each clause read off the numbers."""
    peak_l, peak = r.power_norm_peak
    t_len = int(r.distance[-1])
    end = float(r.log10_power_norm[-1])
    rho = num(r.spectral_radius)
    if r.spectral_radius < 1.0 - ON_CIRCLE and peak > 0:
        after = (
            f" before it falls to {power(end)} at l = {t_len}"
            if peak_l < t_len
            else ", the last distance shown (with rho < 1 it must decay later)"
        )
        return (
            f"Every eigenvalue lies inside the unit circle (rho = {rho}), yet ||W^l|| grows to "
            f"{power(peak)} at l = {peak_l}{after}: W is non-normal (a normal W has "
            f"||W^l|| = rho^l), with eigenvectors of condition {r.eigenvector_condition:.3g}."
        )
    ratio = r.power_ratio_range
    if ratio is None or r.spectral_radius < ZERO_RADIUS:
        return (
            f"Every eigenvalue is 0 up to rounding (rho = {rho}): ||W^l|| is largest at "
            f"l = {peak_l} ({power(peak)}) and is {power(end)} at l = {t_len}."
        )
    if max(abs(ratio[0]), abs(ratio[1])) <= EXACT_RATIO:
        return (
            f"||W^l|| equals rho^l = {rho}^l at every l shown, as it does for a normal W "
            f"(largest value {power(peak)} at l = {peak_l})."
        )
    return (
        f"||W^l|| lies between {power(ratio[0])} and {power(ratio[1])} times rho^l = {rho}^l "
        f"(largest value {power(peak)} at l = {peak_l})."
    )


def power_norm_figure(r: EigenResult) -> Figure:
    """||W^l||, the worst case over g_0, against rho^l: transient growth of a non-normal W."""
    distance = r.distance.tolist()
    data = [
        line(distance, finite_list(r.log10_power_norm), norm(W_L), BLUE),
        line(
            distance,
            finite_list(r.log10_direct),
            f"{norm(G_L)} for this g<sub>0</sub>",
            GREEN,
            "dash",
        ),
        line(distance, finite_list(r.log10_radius_power), RHO_L, VERMILLION, "dot"),
    ]
    sentence = _power_sentence(r)
    made = layout(
        f"{norm(W_L)} against {RHO_L}",
        {"title": {"text": "distance l"}},
        {"title": {"text": f"{LOG10} norm"}},
    )
    return figure("Transient growth", sentence, data, made)


def derivative_figure() -> Figure:
    """phi'(a) for each nonlinearity, with its bound gamma."""
    curves = derivative_curves()
    a = finite_list(curves.a)
    data = [
        line(a, finite_list(curves.derivative[k]), f"{k}′ (γ = {curves.gamma[k]:g})", *sty)
        for k, sty in NONLINEARITY_STYLE.items()
    ]
    sentence = (
        "The slope bound gamma = sup |phi'| is "
        + ", ".join(f"{k} {curves.gamma[k]:g}" for k in NONLINEARITY_STYLE)
        + "; sigmoid' peaks at 1/4 at a = 0, tanh' at 1."
    )
    made = layout(
        "Derivatives of the nonlinearities",
        {"title": {"text": "pre-activation a"}},
        {"title": {"text": "φ′(a)"}, "range": [-0.05, 1.1]},
    )
    return figure("Nonlinearity slopes", sentence, data, made)


SIGMA_MAX = "\u03c3<sub>max</sub>"
# Pascanu's markers: a symbol each; markers at the same point are drawn one inside the other,
# the first of a group the largest, each outlined in white
CONDITION_SYMBOL = {
    "tanh": "diamond",
    "sigmoid": "triangle-up",
    "relu": "square",
    "identity": "circle",
}
MARKER_SIZE, MARKER_STEP = 10, 7


def coincident(sigma_max: float, regions: dict[str, tuple[float, str]]) -> list[list[str]]:
    """The nonlinearities grouped by the point their marker is drawn at, (sigma_max, gamma),
    in NONLINEARITY_STYLE order."""
    groups: dict[tuple[float, float], list[str]] = {}
    for k in NONLINEARITY_STYLE:
        groups.setdefault((sigma_max, regions[k][0]), []).append(k)
    return list(groups.values())


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _condition_markers(sigma_max: float, regions: dict[str, tuple[float, str]]) -> list[dict]:
    """One marker per nonlinearity at (sigma_max, gamma). Markers that coincide are told
    apart: drawn largest first, each smaller one on top, and their legend says so."""
    traces = []
    for group in coincident(sigma_max, regions):
        for i, k in enumerate(group):
            gamma, region = regions[k]
            others = [o for o in group if o != k]
            name = f"{k}: {region}"
            if others:
                name += f"<br>(same point as {_and(others)})"
            color = NONLINEARITY_STYLE[k][0]
            traces.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "x": [sigma_max],
                    "y": [gamma],
                    "name": name,
                    "marker": {
                        "color": color,
                        "size": MARKER_SIZE + MARKER_STEP * (len(group) - 1 - i),
                        "symbol": CONDITION_SYMBOL.get(k, "diamond"),
                        "line": {"color": "#ffffff", "width": 1.5},
                    },
                    "hovertemplate": f"{k}: {SIGMA_MAX} = %{{x:.3g}}, \u03b3 = %{{y:g}}"
                    "<extra></extra>",
                }
            )
    return traces


def region_figure(r: EigenResult) -> Figure:
    """Pascanu's conditions in the (sigma_max, gamma) plane: below gamma = 1/sigma_max the
    gradient is guaranteed to vanish; above it exploding is possible (not certain)."""
    regions = r.regions
    boundary = pascanu_boundary(r.sigma_max)
    top = boundary.top
    data = [
        line(
            finite_list(boundary.sigma),
            finite_list(boundary.gamma),
            f"\u03b3 = 1/{SIGMA_MAX}",
            BLACK,
        ),
    ]
    data += _condition_markers(r.sigma_max, regions)
    notes = [
        {"x": 0.35 * top, "y": 0.12, "text": "vanishing guaranteed", "showarrow": False},
        {"x": 0.7 * top, "y": 0.9, "text": "exploding possible", "showarrow": False},
    ]
    words = "; ".join(f"{k} {regions[k][1]}" for k in NONLINEARITY_STYLE)
    sentence = (
        f"With sigma_max(W) = {num(r.sigma_max)}: {words}. sigma_max < 1/gamma guarantees "
        "vanishing; sigma_max > 1/gamma is necessary, not sufficient, for exploding."
    )
    shared = [group for group in coincident(r.sigma_max, regions) if len(group) > 1]
    for group in shared:
        sentence += (
            f" {_and(group)} share gamma = {regions[group[0]][0]:g}: their markers are drawn "
            "at the same point, one inside the other."
        )
    made = layout(
        "Pascanu's conditions",
        {"title": {"text": f"{SIGMA_MAX}(W)"}, "range": [0, top]},
        {"title": {"text": "\u03b3"}, "range": [0, 1.1]},
        annotations=notes,
    )
    return figure("Pascanu's conditions", sentence, data, made)


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
        {"name": "radius", "label": "Spectral radius", "value": num(r.spectral_radius)},
        {"name": "sigma", "label": "sigma_max(W)", "value": num(r.sigma_max)},
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
