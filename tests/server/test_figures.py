"""Figures: valid Plotly, one sentence each, zoom kept across updates, numbers from the engine."""

import plotly.graph_objects as go
import pytest

from bpttlab.engine import GradientFlowConfig, gradient_flow
from bpttlab.server.figures import gradient_flow_figures, power

CASES = [
    {},
    {"clip": "norm", "scale": 2.0},
    {"clip": "value", "clip_threshold": 0.01, "nonlinearity": "sigmoid"},
    {"scale": 0.0, "seq_len": 3},
    {"cell": "lstm", "forget_bias": 5.0, "peephole": True},
    {"cell": "gru", "gru_form": "lecture", "seq_len": 400},
    {"init": "identity", "nonlinearity": "relu", "scale": 3.0, "seq_len": 1000},
    {"truncation": 10, "keep_prob": 0.4, "draws": 7},
    {"cell": "lstm", "truncation": 3, "clip": "norm"},
    {"cell": "gru", "truncation": 500, "seq_len": 50, "keep_prob": 0.9},
]


@pytest.mark.parametrize("overrides", CASES)
def test_figures_are_valid_plotly(overrides):
    result = gradient_flow(GradientFlowConfig(**overrides))
    figures = gradient_flow_figures(result)
    names = [f["name"] for f in figures]
    assert names[0] == "profile"
    assert {"eigenvalues", "contributions", "singular_values"} <= set(names)
    if result.config.cell != "rnn":
        assert names[1:3] == ["gates", "gate_means"]
    for f in figures:
        go.Figure(f["figure"])  # raises on any invalid property
        assert f["figure"]["layout"]["uirevision"] == "keep"
        assert f["summary"].endswith(".") and f["summary"].count(". ") <= 2
        assert f["title"]


def test_profile_figure_plots_the_engine_profile_and_marks_the_horizon():
    result = gradient_flow(GradientFlowConfig(seq_len=120))
    [profile] = [f for f in gradient_flow_figures(result) if f["name"] == "profile"]
    traces = {t["name"]: t for t in profile["figure"]["data"]}
    assert traces["spectral norm"]["y"] == result.profile.spectral.tolist()
    assert traces["Pascanu bound"]["y"] == result.log10_bound.tolist()
    horizon = result.summary.horizon
    assert horizon is not None
    xs = [s["x0"] for s in profile["figure"]["layout"]["shapes"] if s["xref"] == "x"]
    assert xs == [horizon]
    assert f"l = {horizon}" in profile["summary"]


def test_gate_heatmaps_bin_long_sequences():
    result = gradient_flow(GradientFlowConfig(cell="lstm", seq_len=1000, hidden_size=40))
    [gates] = [f for f in gradient_flow_figures(result) if f["name"] == "gates"]
    heatmaps = gates["figure"]["data"]
    assert [h["name"] for h in heatmaps] == [
        "forget gate f",
        "input gate i",
        "output gate o",
        "cell state c",
    ]
    for h in heatmaps:
        assert len(h["y"]) == 32 and len(h["x"]) == 200 and len(h["z"][0]) == 200
    assert "units 1-32 of 40" in gates["summary"] and "5 steps" in gates["summary"]


@pytest.mark.parametrize(
    ("log10", "text"),
    [
        (0.0, "1"),
        (-2.0, "0.01"),
        (477.1212547, "1.32e+477"),
        (-1000.0, "1.00e-1000"),
        (float("-inf"), "0"),
        (3.9999999999, "1e+04"),
        (-3.5, "3.16e-4"),
    ],
)
def test_power_words(log10, text):
    assert power(log10) == text
