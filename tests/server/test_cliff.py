"""/cliff and /api/v1/cliff: the surface, the descents, their bounds and their figures."""

import numpy as np
import plotly.graph_objects as go
import pytest

from bpttlab.engine.cliff import CliffConfig, cliff_surface

from .conftest import strict_json

DIVERGING = {
    "nonlinearity": "tanh",
    "seq_len": 100,
    "w_min": 0.5,
    "w_max": 2,
    "b_min": -1,
    "b_max": 1,
    "resolution": 101,
    "start_w": 1.205,
    "start_b": -0.06,
    "learning_rate": 1000,
    "steps": 20,
}


def test_surface_axes_and_orientation(client):
    params = {"resolution": 31, "w_min": 2, "w_max": 8, "b_min": -5, "b_max": 0}
    body = strict_json(client.get("/api/v1/cliff", params=params).text)
    w, b, loss = np.array(body["w"]), np.array(body["b"]), np.array(body["loss"])
    np.testing.assert_allclose(w, np.linspace(2, 8, 31))
    np.testing.assert_allclose(b, np.linspace(-5, 0, 31))
    assert loss.shape == (31, 31) and np.array(body["log10_grad_norm"]).shape == (31, 31)
    # rows over b, columns over w: E at (w[j], b[i]) from the model written out here
    sig = lambda x: 1 / (1 + np.exp(-x))  # noqa: E731
    for i, j in [(0, 0), (30, 4), (12, 20)]:
        x = 0.5
        for _ in range(body["config"]["seq_len"]):
            x = w[j] * sig(x) + b[i]
        assert loss[i, j] == pytest.approx((sig(x) - 0.7) ** 2, rel=1e-12, abs=1e-15)


def test_descent_paths_and_clipping(client):
    params = {"learning_rate": 0.1, "clip_threshold": 1.0, "start_w": 5.0, "start_b": -2.6}
    body = strict_json(client.get("/api/v1/cliff", params=params).text)
    paths = body["descent"]
    assert set(paths) == {"none", "norm", "value"}
    lr, c = 0.1, 1.0
    norm_steps = np.array(paths["norm"]["step_length"])
    assert norm_steps.max() <= lr * c * (1 + 1e-12)  # clip_grad_norm_ bounds every step
    assert np.array(paths["value"]["step_length"]).max() <= lr * c * np.sqrt(2) * (1 + 1e-12)
    assert max(paths["none"]["step_length"]) > 10 * lr * c  # thrown off the wall
    clip = body["clipping"]
    assert clip["norm"]["cosine"] == 1.0
    assert all(abs(x) <= c for x in clip["value"]["gradient"])


def test_an_unclipped_run_that_overflows_stops_and_says_so(client):
    body = strict_json(client.get("/api/v1/cliff", params=DIVERGING).text)
    unclipped = body["descent"]["none"]
    k = unclipped["diverged_at"]
    assert k is not None and len(unclipped["points"]) == k
    assert body["descent"]["norm"]["diverged_at"] is None
    figures = client.get("/api/v1/cliff/figures", params=DIVERGING).json()
    [outcome] = [n for n in figures["numbers"] if n["name"] == "outcome-none"]
    assert outcome["value"].endswith(f"diverged at step {k}")
    [surface] = [f for f in figures["figures"] if f["name"] == "surface"]
    assert f"diverged at step {k} (|w| or |b| would have passed 1e6)" in surface["summary"]


def test_matches_the_engine(client):
    body = client.get("/api/v1/cliff", params={"resolution": 21}).json()
    s = cliff_surface(CliffConfig(resolution=21))
    assert body["loss"] == s.loss.tolist()


@pytest.mark.parametrize(
    ("params", "field", "kind"),
    [
        ({"w_max": 0.5}, "w_max", "cross_field"),
        ({"b_min": 8}, "b_max", "cross_field"),
        ({"nonlinearity": "tanh", "seq_len": 400}, "seq_len", "cross_field"),
        ({"resolution": 302}, "resolution", "less_than_equal"),
        ({"learning_rate": 0}, "learning_rate", "greater_than"),
        ({"steps": 1001}, "steps", "less_than_equal"),
        ({"start_w": "nan"}, "start_w", "finite_number"),
        ({"nonlinearity": "relu"}, "nonlinearity", "literal_error"),
    ],
)
def test_bad_input(client, params, field, kind):
    for path in ("/api/v1/cliff", "/api/v1/cliff/figures"):
        r = client.get(path, params=params)
        assert r.status_code == 422
        [error] = r.json()["errors"]
        assert (error["field"], error["type"]) == (field, kind)


@pytest.mark.parametrize("params", [{}, DIVERGING, {"steps": 0}, {"start_w": 1000}])
def test_figures_are_valid(client, params):
    r = client.get("/api/v1/cliff/figures", params=params)
    body = strict_json(r.text)
    assert [f["name"] for f in body["figures"]] == [
        "surface",
        "gradient",
        "loss",
        "steps",
        "clipping",
    ]
    for f in body["figures"]:
        go.Figure(f["figure"])
        assert f["summary"]


def test_cliff_page(page_client):
    r = page_client.get("/cliff", params={"start_w": 6, "start_b": -3, "w_max": 0})
    assert r.template.name == "cliff.html"
    assert r.context["query"].start_w == 6
    assert [p["field"] for p in r.context["problems"]] == ["w_max"]
