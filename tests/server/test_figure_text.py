"""Figure text and axes, over every view of the registry and a few configurations each:
every figure has a title in its layout (it is drawn in exported images), math is typeset
with Plotly's <sub>/<sup> and Unicode rather than ASCII (dh_T, ||, log10, gamma), log axes
are labelled in powers of ten only, legends sit outside the plot area, and Pascanu's markers
that coincide on /eigen are told apart, which must be true of the numbers."""

from __future__ import annotations

import math
import re
from itertools import pairwise

import plotly.graph_objects as go
import pytest

from bpttlab.server import compute
from bpttlab.server.catalog import VIEWS
from bpttlab.server.figures.eigen import NONLINEARITY_STYLE
from bpttlab.server.figures.style import plain_text
from bpttlab.server.settings import Settings

CONFIGS = {
    "explore": [
        {},
        {"truncation": "10", "keep_prob": "0.4", "draws": "7"},
        {"cell": "lstm", "seq_len": "400", "forget_bias": "3"},
        {"cell": "gru", "truncation": "20", "keep_prob": "0.9", "draws": "40"},
        {"clip": "norm", "scale": "2"},
    ],
    "compare": [{}, {"seq_len": "400", "forget_bias": "3"}],
    "cliff": [{}, {"learning_rate": "0.01", "steps": "200"}, {"clip_threshold": "0.001"}],
    "eigen": [
        {},
        {"radius1": "0.5", "radius2": "0.5", "angle2": "0", "radius3": "0.5", "angle3": "0"},
        {"matrix": "gaussian", "scale": "0.95", "hidden_size": "32"},
    ],
    "network": [
        {},
        {"bidirectional": "true", "seq_len": "5", "num_layers": "1", "labels": "movie"},
        {"cell": "rnn", "num_layers": "4", "skip": "residual", "loss": "last"},
    ],
    "depth": [
        {},
        {"compare": "true", "activation": "sigmoid", "gate_bias": "-3"},
        {"activation": "relu", "init": "he", "architecture": "residual", "depth": "30"},
        {"architecture": "dense", "activation": "identity", "depth": "1", "width": "1"},
    ],
}
CASES = [(view, params) for view, configs in CONFIGS.items() for params in configs]


@pytest.fixture(scope="module")
def results() -> dict[tuple[str, int], object]:
    """Each case's engine result, computed as the app computes it."""
    with compute.using(compute.Runtime.of(Settings())):
        return {
            (view, i): VIEWS[view].compute(VIEWS[view].query.model_validate(params))
            for i, (view, params) in enumerate(CASES)
        }


@pytest.fixture(scope="module")
def figures(results) -> dict[tuple[str, int], list[dict]]:
    return {(view, i): VIEWS[view].draw(r)["figures"] for (view, i), r in results.items()}


def test_every_view_is_covered():
    assert set(CONFIGS) == set(VIEWS)


def _texts(f: dict) -> list[str]:
    """Every piece of text Plotly draws from the figure: title, axis titles, legend names,
    hover templates (without their %{...} fields), colour bar titles, annotations."""
    layout, texts = f["figure"]["layout"], [f["figure"]["layout"]["title"]["text"]]
    for key, axis in layout.items():
        if re.fullmatch(r"[xy]axis\d*", key):
            texts.append(((axis.get("title") or {}).get("text")) or "")
    texts += [a.get("text", "") for a in layout.get("annotations", [])]
    for t in f["figure"]["data"]:
        texts.append(t.get("name", ""))
        texts.append(re.sub(r"%\{[^}]*\}", "", t.get("hovertemplate", "")))
        texts.append((((t.get("colorbar") or {}).get("title")) or {}).get("text", ""))
    return texts


ASCII_MATH = [
    (r"[A-Za-z)]_[A-Za-z0-9(]", "an ASCII subscript (dh_T, W_hh)"),
    (r"\|\|", "|| for a norm"),
    (r"log10", "log10 without a subscript"),
    (r"\b(gamma|sigma|lambda|rho|phi|tau|sqrt)\b", "a Greek letter spelled out"),
    (r"\^", "^ for a power"),
    (r"\d-\d|\bT - ", "- for a minus sign"),
    (r"<=|>=", "<= or >="),
]


@pytest.mark.parametrize(("view", "index"), [(v, i) for i, (v, _) in enumerate(CASES)])
def test_every_figure_has_a_title_and_typeset_math(figures, view, index):
    for f in figures[(view, index)]:
        go.Figure(f["figure"])  # still valid Plotly
        title = f["figure"]["layout"]["title"]["text"]
        assert plain_text(title).strip(), f"{view}/{f['name']} has no title in its layout"
        for text in _texts(f):
            for pattern, what in ASCII_MATH:
                assert not re.search(pattern, text), f"{view}/{f['name']}: {what} in {text!r}"
        # summaries are plain text (the page sets them as textContent): no markup
        assert "<" not in f["summary"] or "< " in f["summary"], f["summary"]
        assert not re.search(r"</?(sub|sup|br)>", f["summary"])


def _log_axes(f: dict) -> list[tuple[str, dict]]:
    layout = f["figure"]["layout"]
    return [
        (k, a)
        for k, a in layout.items()
        if re.fullmatch(r"[xy]axis\d*", k) and isinstance(a, dict) and a.get("type") == "log"
    ]


def _plotted(f: dict, key: str) -> list[float]:
    letter = key[0]
    return [
        v
        for t in f["figure"]["data"]
        for v in (t.get(letter) or [])
        if isinstance(v, int | float) and math.isfinite(v) and v > 0
    ]


def test_log_axes_show_powers_of_ten_only(figures):
    seen = set()
    for (view, _), made in figures.items():
        for f in made:
            for key, axis in _log_axes(f):
                seen.add((view, f["name"]))
                where = f"{view}/{f['name']} {key}"
                # labelled on whole decades only, every one in the form 10^k
                assert axis["tickmode"] == "array", where
                decades = [math.log10(v) for v in axis["tickvals"]]
                assert all(abs(k - round(k)) < 1e-9 for k in decades), where
                decades = [round(k) for k in decades]
                assert axis["ticktext"] == [
                    f"10<sup>{k}</sup>".replace("-", "\u2212") for k in decades
                ], where
                assert len({b - a for a, b in pairwise(decades)}) <= 1, where
                assert (axis.get("minor") or {}).get("ticks", "") == "", where
                low, high = axis["range"]
                assert axis["autorange"] is False and low == int(low) and high == int(high)
                assert [k for k in decades if low <= k <= high] == decades, where
                assert 2 <= len(decades) <= 9, (where, decades)
                values = [math.log10(v) for v in _plotted(f, key)]
                assert values and low <= min(values) and max(values) <= high, where
    # the figures drawn on log axes are all checked (not a test that passes on nothing)
    assert {("explore", "randomized"), ("cliff", "loss"), ("cliff", "steps")} <= seen


def test_legends_are_outside_the_plot_area(figures):
    for (view, _), made in figures.items():
        for f in made:
            layout = f["figure"]["layout"]
            if layout.get("showlegend") is False:
                continue
            legend = layout["legend"]
            below = legend["y"] < 0 and legend.get("yanchor") == "top"
            right = legend.get("x", 0) >= 1 and legend.get("xanchor") == "left"
            assert below or right, f"{view}/{f['name']} legend {legend}"
            if view == "eigen" and f["name"] == "components":
                assert below and legend["orientation"] == "h"  # wraps into rows on a phone


def _contrast_on_white(color: str) -> float:
    """WCAG 2's contrast ratio of an sRGB colour "#rrggbb" against white."""
    channels = [int(color.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    lum = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (lum + 0.05)


def test_notes_drawn_in_colour_read_at_4_5_to_1(figures):
    coloured = 0
    for (view, _), made in figures.items():
        for f in made:
            for note in f["figure"]["layout"].get("annotations", []):
                color = note.get("font", {}).get("color")
                if color is None:
                    continue  # the layout's ink
                coloured += 1
                ratio = _contrast_on_white(color)
                assert ratio >= 4.5, f"{view}/{f['name']} {note['text']!r} {color} {ratio:.2f}"
    assert coloured >= 5  # the horizon, threshold, bound and memory-horizon notes among them


def _markers(made: list[dict]) -> list[dict]:
    [regions] = [f for f in made if f["name"] == "regions"]
    return [t for t in regions["figure"]["data"] if t.get("mode") == "markers"]


@pytest.mark.parametrize("index", [i for i, (v, _) in enumerate(CASES) if v == "eigen"])
def test_coincident_condition_markers_are_told_apart(results, figures, index):
    view, _ = CASES[index]
    result = results[(view, index)]
    markers = _markers(figures[(view, index)])
    assert len(markers) == len(NONLINEARITY_STYLE)
    # each marker is drawn where the engine puts its nonlinearity: (sigma_max, gamma)
    by_name = {t["name"].split(":")[0]: t for t in markers}
    assert set(by_name) == set(NONLINEARITY_STYLE)
    for k, t in by_name.items():
        gamma, region = result.regions[k]
        assert t["x"] == [result.sigma_max] and t["y"] == [gamma]
        assert t["name"].startswith(f"{k}: {region}")
    for k, t in by_name.items():
        same = [
            o for o in by_name if o != k and by_name[o]["x"] == t["x"] and by_name[o]["y"] == t["y"]
        ]
        if same:
            # the legend says so, naming each of the others, and the symbols differ in shape
            # and size, the larger drawn first so that every one stays visible
            assert "same point as" in t["name"], t["name"]
            assert all(o in t["name"].split("same point as", 1)[1] for o in same)
            for o in same:
                a, b = t["marker"], by_name[o]["marker"]
                assert a["symbol"] != b["symbol"] and a["size"] != b["size"]
                first, second = sorted((t, by_name[o]), key=markers.index)
                assert first["marker"]["size"] > second["marker"]["size"]
                assert a["line"]["color"] == "#ffffff" and a["line"]["width"] > 0
        else:
            assert "same point" not in t["name"]


def test_tanh_relu_and_identity_coincide_on_the_default_eigen_view(results, figures):
    """gamma = 1 for tanh, relu and identity: their three markers fall on one point, and
    sigmoid's (gamma = 1/4) on another; the caption says which share it."""
    index = CASES.index(("eigen", {}))
    result = results[("eigen", index)]
    assert [result.regions[k][0] for k in ("tanh", "relu", "identity")] == [1.0, 1.0, 1.0]
    names = {t["name"].split(":")[0]: t["name"] for t in _markers(figures[("eigen", index)])}
    assert names["tanh"].endswith("(same point as relu and identity)")
    assert names["relu"].endswith("(same point as tanh and identity)")
    assert "same point" not in names["sigmoid"]
    [regions] = [f for f in figures[("eigen", index)] if f["name"] == "regions"]
    assert "tanh, relu and identity share gamma = 1" in regions["summary"]


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("\u2016dh<sub>T</sub>/dh<sub>T\u2212l</sub>\u2016", "\u2016dh_T/dh_(T\u2212l)\u2016"),
        ("log<sub>10</sub> norm", "log10 norm"),
        ("\u03c1<sup>l</sup>", "\u03c1^l"),
        ("a &amp; b<br>c", "a & b c"),
    ],
)
def test_plain_text_of_figure_markup(markup, text):
    """CSV headers and data tables show the figure's text without markup."""
    assert plain_text(markup) == text
