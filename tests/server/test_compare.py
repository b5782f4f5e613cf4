import plotly.graph_objects as go

from bpttlab.engine import GradientFlowConfig
from bpttlab.engine.compare import compare_cells

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
    assert [n["name"] for n in body["numbers"]] == ["rnn", "lstm", "gru"]


def test_compare_refuses_per_cell_controls(client):
    r = client.get("/api/v1/compare", params={"cell": "lstm"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cell"
    r = client.get("/api/v1/compare", params={"seq_len": 0})
    assert r.json()["errors"][0]["limit"] == {"ge": 1}


def test_compare_page(page_client):
    r = page_client.get("/compare", params={"seq_len": 120})
    assert r.template.name == "compare.html"
    assert r.context["query"].seq_len == 120
    assert [n["name"] for n in r.context["numbers"]] == ["rnn", "lstm", "gru"]
    for _, href in r.context["presets"]:
        assert page_client.get(href).status_code == 200
