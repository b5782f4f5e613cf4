import re

import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpttlab.engine import GradientFlowConfig
from bpttlab.engine.compare import compare_cells
from bpttlab.server.figures.compare import LABEL_NEAR, label_rows, sensitivity_figure

from .conftest import strict_json


def test_compare_api_matches_the_engine(client):
    r = client.get("/api/v1/compare", params={"seq_len": 200, "forget_bias": 5})
    assert r.status_code == 200
    body = strict_json(r.text)
    engine = compare_cells(GradientFlowConfig(seq_len=200, forget_bias=5.0))
    assert set(body["cells"]) == {"rnn", "lstm", "gru"}
    assert body["distance"] == list(range(200))
    for cell, m in engine.cells.items():
        assert body["cells"][cell]["memory_horizon"] == m.horizon
        assert body["cells"][cell]["log10_input_sensitivity"]["spectral"] == (
            m.result.input_sensitivity.spectral.tolist()
        )


def test_compare_figures_and_numbers(client):
    body = client.get("/api/v1/compare/figures", params={"seq_len": 50}).json()
    for f in body["figures"]:
        go.Figure(f["figure"])
    [sensitivity] = [f for f in body["figures"] if f["name"] == "sensitivity"]
    assert [t["name"] for t in sensitivity["figure"]["data"]] == ["RNN", "LSTM", "GRU"]
    names = ["rnn", "lstm", "gru", "lstm-gates", "gru-gates"]
    assert [n["name"] for n in body["numbers"]] == names


def test_compare_refuses_per_cell_controls(client):
    r = client.get("/api/v1/compare", params={"cell": "lstm"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cell"
    r = client.get("/api/v1/compare", params={"seq_len": 0})
    assert r.json()["errors"][0]["limit"] == {"ge": 1}


def test_compare_page(page_client):
    r = page_client.get("/compare", params={"seq_len": 120})
    assert r.template.name == "compare.html"
    assert r.context["query"].seq_len == 120
    names = ["rnn", "lstm", "gru", "lstm-gates", "gru-gates"]
    assert [n["name"] for n in r.context["numbers"]] == names
    for _, href in r.context["presets"]:
        assert page_client.get(href).status_code == 200


def test_compare_api_gives_each_gated_cells_gate_means(client):
    body = strict_json(client.get("/api/v1/compare", params={"seq_len": 40}).text)
    engine = compare_cells(GradientFlowConfig(seq_len=40))
    for cell, m in engine.cells.items():
        c = body["cells"][cell]
        assert c["gate_means"] == m.gate_means
        assert (c["keep_gate"], c["kept_per_step"]) == (m.keep_gate, m.kept)
    assert (
        body["cells"]["rnn"]["gate_means"] == {} and body["cells"]["rnn"]["kept_per_step"] is None
    )


def horizon_labels(fig) -> list[tuple[float, float, str]]:
    """The notes of the vertical horizon lines: (x in data units, y in paper units, text)."""
    notes = fig["figure"]["layout"]["annotations"]
    return [(a["x"], a["y"], a["text"]) for a in notes if a["xref"] == "x"]


def assert_labels_apart(fig, seq_len):
    labels = horizon_labels(fig)
    span = seq_len - 1
    for i, (x1, y1, t1) in enumerate(labels):
        for x2, y2, t2 in labels[i + 1 :]:
            if abs(x1 - x2) < LABEL_NEAR * span:
                assert y1 != y2, (t1, t2)
    assert all(0 <= y < 1 for _, y, _ in labels)


@pytest.mark.parametrize(
    "config",
    [
        {},  # RNN 31, LSTM 23, GRU 24: three labels within a few steps
        {"seq_len": 300},
        {"seq_len": 60, "forget_bias": -5, "update_bias": -5},
        {"seq_len": 400, "forget_bias": 3},
    ],
)
def test_horizon_labels_never_share_a_row_when_close(config):
    r = compare_cells(GradientFlowConfig(**config))
    fig = sensitivity_figure(r)
    shown = [m.horizon for m in r.cells.values() if m.horizon is not None]
    assert sorted(x for x, _, _ in horizon_labels(fig)) == sorted(shown)
    assert_labels_apart(fig, r.config.seq_len)


def test_the_default_horizon_labels_are_on_three_rows():
    fig = sensitivity_figure(compare_cells(GradientFlowConfig()))
    assert len({y for _, y, _ in horizon_labels(fig)}) == 3


@given(st.lists(st.integers(0, 99), max_size=6))
def test_label_rows_separate_every_close_pair(xs):
    rows = label_rows(xs, 99)
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            if abs(xs[i] - xs[j]) < LABEL_NEAR * 99:
                assert rows[i] != rows[j]


GATE_SENTENCE = re.compile(
    r"the (LSTM|GRU)'s (?:forget|update) gate (\w) averages ([0-9.e-]+): (it holds|it wipes|"
    r"the cell keeps about (\d+)%)"
)


@settings(max_examples=25, deadline=None)
@given(
    forget_bias=st.sampled_from([-6.0, -2.0, 0.0, 1.0, 2.5, 4.0, 6.0]),
    update_bias=st.sampled_from([-6.0, -2.0, 0.0, 1.5, 3.0, 6.0]),
    gru_form=st.sampled_from(["pytorch", "lecture"]),
    seed=st.integers(0, 5),
    seq_len=st.integers(20, 80),
)
def test_every_caption_is_true_of_its_numbers(forget_bias, update_bias, gru_form, seed, seq_len):
    """The caption names each horizon as computed, and says a gate holds (wipes) the state
    only when the fraction it carries over is >= 0.9 (<= 0.1)."""
    config = GradientFlowConfig(
        seq_len=seq_len,
        hidden_size=8,
        seed=seed,
        forget_bias=forget_bias,
        update_bias=update_bias,
        gru_form=gru_form,
    )
    r = compare_cells(config)
    caption = sensitivity_figure(r)["summary"]
    for m in r.cells.values():
        label = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}[m.cell]
        words = f"{m.horizon} steps" if m.horizon is not None else f"more than {seq_len - 1}"
        assert f"{label} {words}" in caption
    found = GATE_SENTENCE.findall(caption)
    assert [f[0] for f in found] == ["LSTM", "GRU"]
    for label, gate, mean, verdict, percent in found:
        m = r.cells[label.lower()]
        assert gate == m.keep_gate
        assert float(mean) == pytest.approx(m.gate_means[gate], rel=5e-3)
        kept = m.gate_means[gate] if gate in "fz" else 1 - m.gate_means[gate]
        if verdict == "it holds":
            assert kept >= 0.9
        elif verdict == "it wipes":
            assert kept <= 0.1
        else:
            assert 0.1 < kept < 0.9 and int(percent) == round(100 * kept)
    assert_labels_apart(sensitivity_figure(r), seq_len)
