"""/api/v1/depth and /depth: the body's shape and conventions, the presets' claims checked
against the numbers of their exact configurations, captions true of the numbers, the
weights (include=weights) reproducing the loss and the input gradient in plain NumPy as
torch.nn.Sequential would compute them, and clear 422s for bad combinations."""

from __future__ import annotations

import math
import re
from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

from bpttlab.server import catalog
from bpttlab.server.figures.style import power

from .conftest import strict_json

API = "/api/v1/depth"
SMALL = {"depth": "6", "width": "5", "batch": "3"}


def body(client, params) -> dict:
    r = client.get(API, params=params)
    assert r.status_code == 200, r.text
    return strict_json(r.text)


def figures(client, params) -> dict:
    r = client.get(f"{API}/figures", params=params)
    assert r.status_code == 200, r.text
    return strict_json(r.text)


def test_the_body_has_every_layer_and_the_spectrum(client):
    b = body(client, {})
    depth, width = b["config"]["depth"], b["config"]["width"]
    assert b["layers"] == list(range(depth + 1))
    [run] = b["runs"].values()
    assert len(run["log10_grad"]) == depth + 1
    assert len(run["log10_grad_weight"]) == depth
    assert len(run["log10_singular_values"]) == width
    assert len(run["histogram"]["fractions"]) == depth + 1
    assert len(run["histogram"]["edges"]) == len(run["histogram"]["fractions"][0]) + 1
    assert run["log10_ratio"] == pytest.approx(run["log10_grad"][0] - run["log10_grad"][-1])
    assert run["log10_grad_gate"] is None and run["gate_mean"] is None


def test_compare_runs_the_four_architectures(client):
    b = body(client, {**SMALL, "compare": "true"})
    assert list(b["runs"]) == ["plain", "residual", "dense", "highway"]
    assert b["runs"]["highway"]["log10_grad_gate"] is not None
    f = figures(client, {**SMALL, "compare": "true"})
    [gradient] = [x for x in f["figures"] if x["name"] == "gradient"]
    assert len(gradient["figure"]["data"]) == 4


def test_dead_relus_give_null_not_infinity(client):
    # every ReLU of a one-unit net dead at some layer: the gradient below it is exactly 0
    params = {"activation": "relu", "width": "1", "depth": "40", "batch": "1", "seed": "2"}
    run = body(client, params)["runs"]["plain"]
    assert None in run["log10_grad"]
    assert run["log10_spread"] is None and run["spread_resolved"] is False


def test_the_residual_rule_divides_alpha_by_the_square_root_of_depth(client):
    b = body(client, {**SMALL, "architecture": "residual", "alpha_rule": "inv_sqrt_depth"})
    assert b["alpha_used"] == pytest.approx(1 / math.sqrt(6))


# -- the presets: each claim against its exact configuration ----------------------------------


def _preset(label_start: str) -> dict:
    [href] = [h for label, h in catalog.DEPTH_PRESETS if label.startswith(label_start)]
    return dict(parse_qsl(urlsplit(href).query))


def _ratio(client, params, arch=None) -> float:
    runs = body(client, params)["runs"]
    return runs[arch or next(iter(runs))]["log10_ratio"]


def test_preset_plain_sigmoid_vanishes_below_one_millionth(client):
    params = _preset("Plain, 50 sigmoid layers")
    assert body(client, params)["config"]["depth"] == 50
    assert _ratio(client, params) < -6


def test_preset_residual_with_inverse_square_root_scale_stays_within_10x(client):
    params = _preset("The same, residual")
    assert abs(_ratio(client, params)) <= 1


def test_preset_highway_with_gate_bias_minus_3_stays_within_20x(client):
    params = _preset("The same, highway")
    assert abs(_ratio(client, params)) <= math.log10(20)


def test_preset_all_four_on_one_draw(client):
    params = _preset("All four")
    runs = body(client, params)["runs"]
    assert runs["plain"]["log10_ratio"] < -6
    assert abs(runs["residual"]["log10_ratio"]) <= 1
    assert abs(runs["highway"]["log10_ratio"]) <= math.log10(20)


def test_preset_tied_weights_explode_faster_than_untied(client):
    untied = _ratio(client, _preset("Linear, 100 layers"))
    tied_params = _preset("The same weights tied")
    assert tied_params == {**_preset("Linear, 100 layers"), "tied": "true"}  # same scale
    tied = _ratio(client, tied_params)
    assert 0 < untied < tied


def test_the_presets_are_on_the_page(page_client):
    r = page_client.get("/depth")
    for _, href in catalog.DEPTH_PRESETS:
        assert f'href="{href.replace("&", "&amp;")}"' in r.text


# -- captions are true of the numbers ------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"activation": "sigmoid", "compare": "true"},
        {"activation": "relu", "init": "he", "architecture": "residual"},
        {"activation": "identity", "depth": "100", "gain": "1.05", "tied": "true"},
        # the spectrum's readings: near isometry (a residual branch scaled to almost 0),
        # narrow but not near 1 (one unit, one layer), and one layer named in the singular
        {"architecture": "residual", "alpha": "0.01", "width": "16"},
        {"depth": "1", "width": "1"},
    ],
)
def test_captions_state_the_numbers(client, params):
    b = body(client, params)
    depth, width = int(params.get("depth", 50)), int(params.get("width", 128))
    figs = {x["name"]: x for x in figures(client, params)["figures"]}
    over = "over 1 layer (" if depth == 1 else f"over {depth} layers ("
    assert over in figs["gradient"]["summary"]
    count = "The one singular value" if width == 1 else f"All {width} singular values"
    assert figs["spectrum"]["summary"].startswith(count)
    f = {x["name"]: x for x in figures(client, params)["figures"]}
    for name, run in b["runs"].items():
        ratio = run["log10_ratio"]
        words = f"{name}: the input's gradient is {power(ratio)} times the output's"
        assert words in f["gradient"]["summary"]
        clause = f["gradient"]["summary"].split(words)[1][:20]
        assert ("vanishes" in clause) == (ratio < -3)
        assert ("explodes" in clause) == (ratio > 3)
        assert ("within 10x" in clause) == (abs(ratio) <= 1)
        spectrum = f["spectrum"]["summary"]
        part = spectrum.split(f"{name}: ")[1].split(";")[0]
        if run["log10_spread"] is None:
            assert "exactly 0" in part
        elif not run["spread_resolved"]:
            assert "rank-deficient" in part and power(run["log10_spread"]) in part
        else:
            assert power(run["log10_spread"]) in part
            logs = run["log10_singular_values"]
            near_one = max(abs(v) for v in logs) <= np.log10(2.0)  # all within a factor 2 of 1
            assert ("close to dynamical isometry" in part) == near_one
            narrow = not near_one and run["log10_spread"] <= 1
            assert ("a narrow spectrum, but not isometry" in part) == narrow
    if params.get("tied"):
        assert "tied" in f["gradient"]["summary"]


# -- include=weights reproduces the numbers ---------------------------------------------------


ACT = {"tanh": np.tanh, "relu": lambda a: np.maximum(a, 0), "identity": lambda a: a}


@pytest.mark.parametrize("arch", ["plain", "residual", "highway", "dense"])
def test_the_weights_reproduce_the_loss_as_nn_sequential_would(client, arch):
    params = {**SMALL, "architecture": arch, "include": "weights", "alpha": "0.5"}
    b = body(client, params)
    w = {k: np.array(v) for k, v in b["weights"].items()}
    x, target = np.array(b["inputs"]), np.array(b["target"])
    depth = b["config"]["depth"]
    hs = [x]
    for k in range(depth):
        if arch == "plain":
            hs.append(np.tanh(hs[-1] @ w[f"{2 * k}.weight"].T + w[f"{2 * k}.bias"]))
            continue
        inp = np.concatenate(hs, axis=1) if arch == "dense" else hs[-1]
        f = np.tanh(inp @ w[f"{k}.linear.weight"].T + w[f"{k}.linear.bias"])
        if arch == "dense":
            hs.append(f)
        elif arch == "residual":
            hs.append(hs[-1] + 0.5 * f)
        else:
            t = 1 / (1 + np.exp(-(hs[-1] @ w[f"{k}.gate.weight"].T + w[f"{k}.gate.bias"])))
            hs.append(t * f + (1 - t) * hs[-1])
    loss = 0.5 * np.sum((hs[-1] - target) ** 2) / len(x)
    assert body(client, {**params, "include": ""})["runs"][arch]["loss"] == pytest.approx(
        loss, rel=1e-12
    )
    if arch == "plain":  # the input gradient by hand: dL/dh_(l-1) = (g * (1 - h_l^2)) W_l
        g = (hs[-1] - target) / len(x)
        for k in range(depth - 1, -1, -1):
            g = (g * (1 - hs[k + 1] ** 2)) @ w[f"{2 * k}.weight"]
        assert b["runs"]["plain"]["log10_grad"][0] == pytest.approx(np.log10(np.linalg.norm(g)))


def test_tied_weights_are_one_tensor_under_every_name(client):
    b = body(client, {**SMALL, "tied": "true", "include": "weights"})
    first = b["weights"]["0.weight"]
    assert all(b["weights"][f"{2 * k}.weight"] == first for k in range(6))


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"architecture": "dense", "tied": "true"}, "tied", "cannot be tied"),
        ({"compare": "true", "tied": "true"}, "tied", "cannot be tied"),
        ({"include": "weights", "depth": "200", "width": "512"}, "include", "1,000,000"),
        ({"include": "gates"}, "include", "unknown part"),
        ({"depth": "201"}, "depth", "200"),
        ({"width": "513"}, "width", "512"),
        ({"growth": "33"}, "growth", "32"),
        ({"gain": "0"}, "gain", "0"),
        (
            {"activation": "identity", "init": "large", "gain": "10", "depth": "200"},
            "gain",
            "float64",
        ),
    ],
)
def test_bad_input_is_a_422_naming_the_field(client, params, field, words):
    r = client.get(API, params=params)
    assert r.status_code == 422, r.text
    error = strict_json(r.text)["errors"][0]
    assert error["field"] == field and words in error["message"]


def test_the_estimate_names_the_cost_formula(client, make_client):
    r = client.get(f"{API}/estimate", params={"depth": "200", "width": "512"})
    assert r.status_code == 200 and r.json()["cost"] > 200 * 512**3
    small = make_client(cost_budget=1e9)
    r = small.get(API, params={"depth": "200", "width": "512"})
    assert r.status_code == 422
    error = r.json()["errors"][0]
    assert error["field"] == "depth" and re.search(r"width\^3", error["message"])


def test_the_extremes_give_finite_json(client):
    # saturated tanh with huge weights, and 200 sigmoid layers whose gradient leaves float64
    for params in (
        {"init": "large", "gain": "10", "depth": "200", "width": "32", "compare": "true"},
        {"activation": "sigmoid", "init": "small", "depth": "200", "width": "16"},
    ):
        b = body(client, params)
        for run in b["runs"].values():
            assert all(v is None or math.isfinite(v) for v in run["log10_grad"])
    assert body(client, params)["runs"]["plain"]["log10_ratio"] < -400


def test_a_page_whose_activations_overflow_is_a_422_not_a_500(page_client):
    params = {"activation": "identity", "init": "large", "gain": "10", "depth": "200"}
    for path in ("/depth", "/embed/depth", f"{API}/figures"):
        r = page_client.get(path, params=params)
        assert r.status_code == 422 and "gain" in r.text
