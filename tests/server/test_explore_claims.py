"""The lectures' claims 4 and 5 on /explore, each from the API's numbers for the exact link
the pages give, and checked again from the served weights in plain NumPy."""

from urllib.parse import urlsplit

import numpy as np
import pytest

from .conftest import strict_json

EXPLODING = "/explore?nonlinearity=relu&init=identity&scale=1.1"  # claim 4
SATURATION = "/explore?scale=3"  # claim 5, next to scale 1 and 2
SCALES = ("/explore?scale=1", "/explore?scale=2", SATURATION)


def api(client, link: str, path: str = "/api/v1/gradient-flow", extra: str = ""):
    query = urlsplit(link).query
    r = client.get(f"{path}?{query}{extra}")
    assert r.status_code == 200, r.text
    return strict_json(r.text)


def figures_by_name(client, link: str) -> dict:
    body = api(client, link, "/api/v1/gradient-flow/figures")
    return {f["name"]: f for f in body["figures"]}


def numpy_profile_end(w: dict, phi) -> tuple[float, np.ndarray]:
    """log10 ||dh_T/dh_0||_2 and the slopes phi'(a_t) (T, n) from the served weights."""
    wih, whh = np.array(w["weight_ih"]), np.array(w["weight_hh"])
    b = np.array(w["bias_ih"]) + np.array(w["bias_hh"])
    h, slopes = np.array(w["h0"]), []
    for x in np.array(w["inputs"]):
        a = wih @ x + whh @ h + b
        value, slope = phi(a)
        h = value
        slopes.append(slope)
    prod, log_scale = np.eye(len(h)), 0.0
    for d in slopes[::-1]:
        prod = prod @ (d[:, None] * whh)
        top = np.linalg.norm(prod, 2)
        prod, log_scale = prod / top, log_scale + np.log10(top)
    return log_scale, np.array(slopes)


def relu(a):
    return np.maximum(a, 0.0), (a > 0).astype(float)


def tanh(a):
    return np.tanh(a), 1.0 - np.tanh(a) ** 2


def test_claim_4_the_gradient_grows_by_orders_of_magnitude(client):
    body = api(client, EXPLODING, extra="&include=weights")
    t_len = body["config"]["seq_len"]
    final = body["log10_norm"]["spectral"][t_len]
    assert final >= 3.0
    assert body["summary"]["regime"] == "exploding"
    assert body["summary"]["log10_rate_per_step"] > 0.01
    ours, _ = numpy_profile_end(body["weights"], relu)
    assert ours == pytest.approx(final, abs=1e-9)
    caption = figures_by_name(client, EXPLODING)["profile"]["summary"]
    assert "above +0.01: exploding" in caption


def test_claim_5_scaling_up_saturates_tanh_instead_of_exploding(client):
    """The page's text (templates/explore.html, #saturation): with tanh at scale 1, 2, 3 the
    weight factor rises, the slope factor falls, more steeply at each step while the weight
    factor's rise slows, the measured gradient vanishes faster; the bound still rises (the
    lecture's simplification, said on the page) and at scale 3 most units are saturated."""
    bodies = [api(client, link, extra="&include=weights") for link in SCALES]
    t_len = bodies[0]["config"]["seq_len"]
    weight = [b["bound_factors"]["weight"][t_len] for b in bodies]
    slope = [b["bound_factors"]["slope"][t_len] for b in bodies]
    measured = [b["log10_norm"]["spectral"][t_len] for b in bodies]
    bound = [w + s for w, s in zip(weight, slope, strict=True)]
    assert weight[0] < weight[1] < weight[2]
    assert slope[0] > slope[1] > slope[2]
    assert slope[0] - slope[1] < slope[1] - slope[2]  # the fall steepens
    assert weight[1] - weight[0] > weight[2] - weight[1]  # the rise slows
    assert measured[0] > measured[1] > measured[2]
    assert bound[0] < bound[1] < bound[2]  # where the lecture simplifies
    for b, m, body in zip(bound, measured, bodies, strict=True):
        assert body["summary"]["regime"] == "vanishing"
        assert b - m > 10  # far above the measured profile
    assert bodies[2]["bound_factors"]["median_slope"] < 0.1
    # the same factors from the served weights in plain NumPy
    for body, w, s, m in zip(bodies, weight, slope, measured, strict=True):
        ours, slopes = numpy_profile_end(body["weights"], tanh)
        sigma = np.linalg.norm(np.array(body["weights"]["weight_hh"]), 2)
        assert w == pytest.approx(t_len * np.log10(sigma), rel=1e-9)
        assert s == pytest.approx(np.sum(np.log10(slopes.max(axis=1))), rel=1e-9, abs=1e-12)
        assert ours == pytest.approx(m, abs=1e-9)
    assert np.median(numpy_profile_end(bodies[2]["weights"], tanh)[1]) < 0.1
    caption = figures_by_name(client, SATURATION)["bound_factors"]["summary"]
    assert "most units are saturated" in caption


def test_the_page_says_it_and_links_the_presets(client):
    text = client.get(SATURATION).text
    for link in (*SCALES, EXPLODING):
        assert f'href="{link.replace("&", "&amp;")}"' in text
    assert "the weight factor rises" in text and "the slope factor falls" in text
    assert "at these settings the bound still rises" in text
    assert "below &minus;0.01" in text and "above +0.01" in text
    assert "<strong>Gradient horizon</strong>" in text


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_have_no_bound_factors(client, cell):
    body = api(client, f"/explore?cell={cell}&seq_len=20")
    assert body["bound_factors"] is None
    names = [
        f["name"]
        for f in api(client, f"/explore?cell={cell}", "/api/v1/gradient-flow/figures")["figures"]
    ]
    assert "bound_factors" not in names


def test_bound_factors_download_holds_the_apis_numbers(client):
    body = api(client, SATURATION)
    r = client.get("/api/v1/gradient-flow/figures/bound_factors.csv?scale=3")
    assert r.status_code == 200
    rows = [line.split(",") for line in r.text.strip().splitlines()[1:]]
    factors, spectral = body["bound_factors"], body["log10_norm"]["spectral"]
    for l, (x, weight, slope, bound, measured) in enumerate(rows):
        assert int(x) == l
        assert float(weight) == factors["weight"][l] and float(slope) == factors["slope"][l]
        assert float(bound) == pytest.approx(factors["weight"][l] + factors["slope"][l])
        assert float(measured) == spectral[l] <= float(bound)
    gated = client.get("/api/v1/gradient-flow/figures/bound_factors.csv?cell=lstm")
    assert gated.status_code == 404 and "bound_factors" in gated.text
