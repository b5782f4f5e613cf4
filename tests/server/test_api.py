"""The JSON API: defaults, closed forms through HTTP, reproducibility from the weights."""

import math
from dataclasses import asdict

import numpy as np
import pytest

from bpttlab.engine import GradientFlowConfig
from bpttlab.server.schemas import GradientFlowQuery

from .conftest import strict_json


def get(client, path, **params):
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return strict_json(r.text)


def test_health(client):
    assert get(client, "/api/v1/health")["status"] == "ok"


def test_every_engine_field_is_a_query_parameter():
    assert set(GradientFlowQuery.model_fields) == {*GradientFlowConfig.field_names(), "include"}


def test_defaults_are_filled_in(client):
    body = get(client, "/api/v1/gradient-flow")
    assert body["config"] == {**asdict(GradientFlowConfig()), "include": ""}
    t_len = body["config"]["seq_len"]
    assert body["distance"] == list(range(t_len + 1))
    for key in ("spectral", "frobenius"):
        assert len(body["log10_norm"][key]) == t_len + 1
    assert len(body["log10_bound"]) == t_len + 1
    assert len(body["gradient"]["log10_contribution"]) == t_len
    assert len(body["gradient"]["log10_dh"]) == t_len + 1
    assert body["log10_norm"]["spectral"][0] == pytest.approx(0.0, abs=1e-12)
    assert body["log10_norm"]["frobenius"][0] == pytest.approx(0.5 * math.log10(32), abs=1e-12)
    assert set(body["summary"]) >= {"regime", "horizon", "gamma_sigma_max"}
    assert "weights" not in body


@pytest.mark.parametrize(
    ("scale", "seq_len"),
    [(0.5, 100), (3.0, 1000), (0.1, 1000), (1.0, 1000)],
)
def test_linear_identity_rnn_closed_form(client, scale, seq_len):
    """identity phi and W = scale * I: ||dh_T/dh_(T-l)||_2 = scale^l, even at 10^477."""
    body = get(
        client,
        "/api/v1/gradient-flow",
        nonlinearity="identity",
        init="identity",
        scale=scale,
        seq_len=seq_len,
        hidden_size=8,
    )
    expected = np.arange(seq_len + 1) * math.log10(scale)
    np.testing.assert_allclose(body["log10_norm"]["spectral"], expected, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(
        body["log10_norm"]["frobenius"], expected + 0.5 * math.log10(8), rtol=1e-9, atol=1e-9
    )
    regime = "exploding" if scale > 1 else "vanishing" if scale < 1 else "neither"
    assert body["summary"]["regime"] == regime


def test_orthogonal_linear_rnn_keeps_norm_one(client):
    body = get(
        client,
        "/api/v1/gradient-flow",
        nonlinearity="identity",
        init="orthogonal",
        seq_len=1000,
        hidden_size=16,
    )
    np.testing.assert_allclose(body["log10_norm"]["spectral"], 0.0, atol=1e-9)
    assert body["summary"]["horizon"] is None


def test_zero_weights_give_null_not_minus_infinity(client):
    body = get(client, "/api/v1/gradient-flow", scale=0, seq_len=5)
    assert body["log10_norm"]["spectral"][0] == pytest.approx(0.0)
    assert body["log10_norm"]["spectral"][1:] == [None] * 5


def test_weights_reproduce_the_profile(client):
    """Anyone holding `weights` rebuilds the run: tanh RNN in PyTorch's layout, direct products."""
    body = get(client, "/api/v1/gradient-flow", seq_len=12, hidden_size=6, include="weights")
    w = {k: np.array(v) for k, v in body["weights"].items()}
    assert w["weight_ih"].shape == (6, 4) and w["weight_hh"].shape == (6, 6)
    assert w["inputs"].shape == (12, 4) and w["h0"].shape == (6,) and w["target"].shape == (6,)
    h = [w["h0"]]
    for x in w["inputs"]:
        h.append(np.tanh(w["weight_ih"] @ x + w["bias_ih"] + w["weight_hh"] @ h[-1] + w["bias_hh"]))
    product = np.eye(6)
    expected = [0.0]
    for t in range(12, 0, -1):  # dh_T/dh_(t-1) = dh_T/dh_t diag(1 - h_t^2) W_hh
        product = product @ (np.diag(1 - h[t] ** 2) @ w["weight_hh"])
        expected.append(math.log10(np.linalg.norm(product, 2)))
    np.testing.assert_allclose(body["log10_norm"]["spectral"], expected, rtol=1e-9, atol=1e-12)
    loss = 0.5 * np.sum((h[-1] - w["target"]) ** 2)
    assert body["gradient"]["log10_loss"] == pytest.approx(math.log10(loss), rel=1e-12)


def test_clipping_by_norm_reports_pytorch_semantics(client):
    body = get(client, "/api/v1/gradient-flow", clip="norm", clip_threshold=0.5, scale=2)
    clip = body["gradient"]["clipping"]
    total = 10 ** clip["log10_norm_before"]
    assert total > 0.5
    assert 10 ** clip["log10_coefficient"] == pytest.approx(0.5 / (total + 1e-6), rel=1e-12)
    assert 10 ** clip["log10_norm_after"] == pytest.approx(0.5 * total / (total + 1e-6))
    assert clip["cosine"] == 1.0
    shifted = np.array(clip["log10_contribution"], dtype=float)
    raw = np.array(body["gradient"]["log10_contribution"], dtype=float)
    assert np.array_equal(np.isnan(shifted), np.isnan(raw))  # null (zero) terms stay zero
    kept = ~np.isnan(raw)
    np.testing.assert_allclose(shifted[kept] - raw[kept], clip["log10_coefficient"])


def test_clipping_by_value_bounds_every_entry(client):
    body = get(client, "/api/v1/gradient-flow", clip="value", clip_threshold=0.01)
    clip = body["gradient"]["clipping"]
    assert clip["log10_norm_after"] < clip["log10_norm_before"]
    assert clip["cosine"] < 1.0
    assert clip["log10_contribution"] is None
    for name, log_norm in clip["log10_norms_after"].items():
        assert log_norm is not None, name


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize(
    "extreme",
    [
        {"scale": 100, "seq_len": 1000},
        {"scale": 0, "seq_len": 1},
        {"scale": 1e-3, "seq_len": 1000, "input": "zeros"},
        {"scale": 100, "seq_len": 1000, "nonlinearity": "relu", "clip": "value"},
        {"scale": 100, "seq_len": 300, "nonlinearity": "identity", "clip": "norm"},
        {"scale": 0, "seq_len": 50, "input": "zeros", "clip": "value"},
    ],
)
def test_extremes_give_finite_json(client, cell, extreme):
    for path in ("/api/v1/gradient-flow", "/api/v1/gradient-flow/figures"):
        r = client.get(path, params={"cell": cell, "hidden_size": 8, **extreme})
        assert r.status_code == 200, r.text
        strict_json(r.text)  # raises on NaN or Infinity


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_carry_their_extra_parts(client, cell):
    body = get(client, "/api/v1/gradient-flow", cell=cell, seq_len=20, include="weights")
    n = body["config"]["hidden_size"]
    assert len(body["log10_input_sensitivity"]["spectral"]) == 20
    assert body["log10_bound"] is None
    gates = body["gates"]
    expected = {"f", "i", "g", "o", "c"} if cell == "lstm" else {"r", "z"}
    assert set(gates) == expected
    for gate in gates.values():
        assert np.array(gate["values"]).shape == (20, n)
        np.testing.assert_allclose(np.mean(gate["values"], axis=1), gate["mean"])
    if cell == "lstm":
        assert set(body["log10_norm_blocks"]) == {"hh", "cc"}
        assert np.array(body["weights"]["c0"]).shape == (n,)
        assert np.array(body["weights"]["weight_hh"]).shape == (4 * n, n)
    else:
        assert "log10_norm_blocks" not in body
        assert np.array(body["weights"]["weight_hh"]).shape == (3 * n, n)


def test_responses_are_compressed(client):
    r = client.get("/api/v1/gradient-flow", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"


def test_openapi_describes_every_parameter(client):
    spec = client.get("/openapi.json").json()
    for path in ("/api/v1/gradient-flow", "/api/v1/gradient-flow/figures"):
        params = spec["paths"][path]["get"]["parameters"]
        assert {p["name"] for p in params} == set(GradientFlowQuery.model_fields)
        for p in params:
            assert p.get("description"), p["name"]
            assert "default" in p["schema"], p["name"]
    assert client.get("/docs").status_code == 200
