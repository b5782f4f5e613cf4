"""Truncated BPTT through the API and the figures: an independent NumPy run from the served
weights, the window's bounds, the randomized draws, the greyed terms."""

import numpy as np
import pytest

from .conftest import strict_json


def get(client, path, **params):
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return strict_json(r.text)


def _naive_truncated_gradient(w, tau):
    """dL/dW_hh of a tanh RNN, L = 1/2 ||h_T - y||^2, from the last tau steps only, in
    plain floats: the textbook truncated backward pass."""
    w_ih, w_hh = np.array(w["weight_ih"]), np.array(w["weight_hh"])
    b = np.array(w["bias_ih"]) + np.array(w["bias_hh"])
    xs, h = np.array(w["inputs"]), [np.array(w["h0"])]
    for x in xs:
        h.append(np.tanh(w_ih @ x + w_hh @ h[-1] + b))
    g, grad = h[-1] - np.array(w["target"]), np.zeros_like(w_hh)
    t_len = len(xs)
    for t in range(t_len, t_len - tau, -1):
        delta = (1 - h[t] ** 2) * g
        grad += np.outer(delta, h[t - 1])
        g = w_hh.T @ delta
    return grad


def test_the_served_errors_match_a_naive_truncated_backward_pass(client):
    q = {"hidden_size": 5, "input_size": 3, "seq_len": 30, "scale": 1.4, "h0": "random"}
    body = get(client, "/api/v1/gradient-flow", truncation=6, include="weights", **q)
    t, w = body["truncation"], body["weights"]
    full = _naive_truncated_gradient(w, 30)
    expected = [
        np.linalg.norm(full - _naive_truncated_gradient(w, tau)) / np.linalg.norm(full)
        for tau in range(1, 31)
    ]
    assert t["taus"] == list(range(1, 31))
    np.testing.assert_allclose(t["relative_error"], expected, rtol=1e-8, atol=1e-15)
    assert t["window"] == 6
    assert t["relative_error_at_window"] == pytest.approx(expected[5], rel=1e-8)
    assert t["relative_error"][-1] == 0.0 and t["log10_relative_error"][-1] is None
    assert t["log10_full_norm"] == pytest.approx(np.log10(np.linalg.norm(full)), abs=1e-10)
    below = [tau for tau, e in zip(t["taus"], expected, strict=True) if e < 1e-3]
    assert t["first_window_below_1e-3"] == min(below)
    assert t["randomized"] is None


def test_truncation_is_absent_unless_asked_and_a_long_window_is_full_bptt(client):
    assert get(client, "/api/v1/gradient-flow")["truncation"] is None
    body = get(client, "/api/v1/gradient-flow", seq_len=40, truncation=1000, cell="gru")
    assert body["config"]["truncation"] == 1000
    assert body["truncation"]["window"] == 40
    assert body["truncation"]["relative_error_at_window"] == 0.0


@pytest.mark.parametrize(
    "params,field",
    [
        ({"truncation": -1}, "truncation"),
        ({"truncation": 1001}, "truncation"),
        ({"keep_prob": 0}, "keep_prob"),
        ({"keep_prob": 1.01}, "keep_prob"),
        ({"keep_prob": "nan"}, "keep_prob"),
        ({"draws": 0}, "draws"),
        ({"draws": 101}, "draws"),
    ],
)
def test_bad_truncation_values_are_refused_by_name(client, params, field):
    r = client.get("/api/v1/gradient-flow", params=params)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == [field]


def test_compare_has_no_truncation(client):
    r = client.get("/api/v1/compare", params={"truncation": 5})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "truncation"


def test_randomized_draws(client):
    body = get(client, "/api/v1/gradient-flow", keep_prob=0.25, draws=40, seq_len=60)
    rand = body["truncation"]["randomized"]
    assert rand["keep_prob"] == 0.25 and rand["draws"] == 40
    for key in ("kept_fraction", "draw_error", "mean_error"):
        assert len(rand[key]) == 40
    assert all(0 <= f <= 1 for f in rand["kept_fraction"])
    assert abs(np.mean(rand["kept_fraction"]) - 0.25) < 0.05
    assert rand["mean_error"][0] == rand["draw_error"][0]
    rms = np.sqrt(np.mean(np.square(rand["draw_error"])))
    assert rand["mean_error"][-1] < 3 * rms / np.sqrt(40)  # the mean converges
    assert body["truncation"]["window"] is None  # randomized alone: no fixed window


def _figures(client, **params):
    body = get(client, "/api/v1/gradient-flow/figures", **params)
    return {f["name"]: f for f in body["figures"]}, [f["name"] for f in body["figures"]]


def test_contributions_beyond_the_window_are_greyed(client):
    body = get(client, "/api/v1/gradient-flow", truncation=12)
    terms = body["gradient"]["log10_contribution"]
    figs, names = _figures(client, truncation=12)
    assert names.index("truncation") == names.index("contributions") + 1
    assert "randomized" not in names
    traces = {t["name"]: t for t in figs["contributions"]["figure"]["data"]}
    kept, dropped = traces["kept (l < 12)"], traces["dropped by truncation (l \u2265 12)"]
    assert kept["y"] == terms[:12] + [None] * (len(terms) - 12)
    assert dropped["y"] == [None] * 12 + terms[12:]
    assert dropped["line"]["color"] == "#767676"  # grey
    marks = [s["x0"] for s in figs["contributions"]["figure"]["layout"]["shapes"]]
    assert 12 in marks
    error = body["truncation"]["relative_error_at_window"]
    assert f"{error:.3g}" in figs["contributions"]["summary"]
    [curve] = figs["truncation"]["figure"]["data"]
    assert curve["x"] == body["truncation"]["taus"]
    assert curve["y"] == body["truncation"]["log10_relative_error"]
    assert f"{error:.3g}" in figs["truncation"]["summary"]


def test_randomized_figure(client):
    body = get(client, "/api/v1/gradient-flow", keep_prob=0.5, draws=9)
    figs, names = _figures(client, keep_prob=0.5, draws=9)
    assert names.index("randomized") == names.index("truncation") + 1
    traces = {t["name"]: t for t in figs["randomized"]["figure"]["data"]}
    rand = body["truncation"]["randomized"]
    assert traces["one draw"]["y"] == rand["draw_error"]
    assert traces["mean of the first m draws"]["y"] == rand["mean_error"]
    assert traces["mean of the first m draws"]["x"] == list(range(1, 10))
    # no window: the contributions are not split
    assert [t["name"] for t in figs["contributions"]["figure"]["data"]] == ["unclipped"]


def test_explore_page_has_the_truncation_controls(page_client):
    r = page_client.get("/explore", params={"truncation": 7, "keep_prob": 0.5})
    assert r.status_code == 200
    html = r.text
    for name in ("truncation", "keep_prob", "draws"):
        assert f'name="{name}"' in html
    assert "Truncation error against the window" in html
    assert "Randomized truncation converging" in html
