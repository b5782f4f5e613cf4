"""The claims /network makes, each against the numbers of the exact configuration its link
opens: the depth series (without skips the bottom layer's gradient falls at least half a
decade per layer, about 4.6 decades at 8 layers; with residual skips it stays within 10x),
and the lecture's "the movie was terribly exciting" (the forward half cannot see "exciting"
at "terribly"; two layers can). Spot checks from the served tensors in plain NumPy."""

from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest

from bpttlab.server.catalog import LAYER_PRESETS, MOVIE_PRESET, MOVIE_STACKED, VIEWS

from .conftest import strict_json
from .test_network_api import reference_loss, reference_outputs

WORDS = ["the", "movie", "was", "terribly", "exciting"]


def params_of(link: str) -> dict:
    return dict(parse_qsl(urlsplit(link).query))


def api(client, link: str, path: str = "/api/v1/network", **extra):
    r = client.get(path, params={**params_of(link), **extra})
    assert r.status_code == 200, r.text
    return strict_json(r.text)


def figures_of(client, link: str) -> dict:
    body = api(client, link, "/api/v1/network/figures")
    return {f["name"]: f for f in body["figures"]}


def layers_of(link: str) -> int:
    return int(params_of(link).get("num_layers", 2))


def test_the_presets_are_the_ones_the_page_links(page_client):
    page = page_client.get("/network").text
    for _, href in LAYER_PRESETS:
        assert f'href="{href.replace("&", "&amp;")}"' in page
    for href in (MOVIE_PRESET, MOVIE_STACKED):
        assert f'href="{href.replace("&", "&amp;")}"' in page
    assert "about 4.6 decades at 8 layers" in page and "within a" in page
    assert VIEWS["network"].context["depth_presets"] == LAYER_PRESETS


@pytest.mark.parametrize(("label", "link"), LAYER_PRESETS)
def test_the_depth_series_falls_without_skips_and_holds_with_them(client, label, link):
    body = api(client, link)
    s = body["summary"]["directions"]["forward"]
    layers = layers_of(link)
    drop = s["layer_drop"]
    if layers == 1:
        assert drop == 0.0
    elif "residual" in link:
        assert abs(drop) < 1.0  # within a factor of 10 of the top layer's
    else:
        assert drop >= 0.5 * (layers - 1)  # at least half a decade per layer
    if layers == 8 and "residual" not in link:
        assert drop == pytest.approx(4.6, abs=0.05)
    # the numbers behind it: the mean over t of the top and bottom rows of layer_time
    rows = body["layer_time"]["forward"]
    assert s["top_mean"] == pytest.approx(np.mean(rows[-1]), abs=1e-12)
    assert s["bottom_mean"] == pytest.approx(np.mean(rows[0]), abs=1e-12)
    # and the caption says it, with the same numbers
    caption = figures_of(client, link)["layer_time"]["summary"]
    if layers > 1:
        side = "lower" if drop > 0 else "higher"
        assert f"{abs(drop):.2g} decades {side} at the bottom" in caption
        assert f"at the top layer ({layers})" in caption


def test_the_8_layer_bottom_gradient_by_finite_differences(client):
    """||dL/dh_1|| at layer 1 of the 8-layer preset, from the served tensors: central
    differences of the NumPy network's loss along each unit of h_1."""
    link = "/network?num_layers=8"
    body = api(client, link, include="weights")
    config = body["config"]
    n, eps = config["hidden_size"], 1e-6
    grad = np.zeros(n)
    for i in range(n):
        e = np.zeros(n)
        e[i] = eps
        up = reference_loss(config, body, (0, 0, 0, e))
        down = reference_loss(config, body, (0, 0, 0, -e))
        grad[i] = (up - down) / (2 * eps)
    served = body["layer_time"]["forward"][0][0]
    assert np.log10(np.linalg.norm(grad)) == pytest.approx(served, abs=1e-4)
    assert served < body["layer_time"]["forward"][-1][0] - 3  # over 3 decades below the top


def test_at_terribly_the_forward_half_cannot_see_exciting(client):
    body = api(client, MOVIE_PRESET, include="weights")
    fwd, back = body["influence"]["forward"], body["influence"]["backward"]
    t, k = WORDS.index("terribly"), WORDS.index("exciting")
    assert fwd[t][k] is None and back[t][k] is not None
    # from the served tensors: changing "exciting" leaves the forward half at "terribly"
    # exactly as it was, and moves the backward half
    config, w = body["config"], body["weights"]
    x = np.array(w["inputs"])
    moved = x.copy()
    moved[k] += 1.0
    n = config["hidden_size"]
    before = reference_outputs(config, w["rnn"], x)
    after = reference_outputs(config, w["rnn"], moved)
    assert np.array_equal(before[t, :n], after[t, :n])
    assert not np.allclose(before[t, n:], after[t, n:])
    # the caption says so with the words, and the time axes carry them
    f = figures_of(client, MOVIE_PRESET)
    caption = f["influence"]["summary"]
    assert 'At t = 4 ("terribly") the forward half' in caption
    assert 'for k = 5 ("exciting") is exactly 0' in caption
    assert "the backward half's is 0" in caption  # 0.0xx: nonzero, in words
    layout = f["influence"]["figure"]["layout"]
    for axis in ("xaxis", "yaxis", "xaxis2", "yaxis2"):
        assert layout[axis]["ticktext"] == WORDS
    assert "every entry right of the diagonal is exactly zero" in caption


def test_two_layers_let_the_forward_half_see_exciting(client):
    body = api(client, MOVIE_STACKED)
    fwd = body["influence"]["forward"]
    t, k = WORDS.index("terribly"), WORDS.index("exciting")
    assert fwd[t][k] is not None
    s = body["summary"]["directions"]["forward"]
    assert s["ahead_nonzero"] == s["ahead_total"] == 10
    caption = figures_of(client, MOVIE_STACKED)["influence"]["summary"]
    assert "depends on inputs after t too" in caption
    assert "(10 of the 10 entries right of the diagonal are nonzero)" in caption


def test_the_union_caption_states_its_definition_and_its_zeros(client):
    f = figures_of(client, MOVIE_PRESET)["influence_union"]
    assert "not the spectral norm of the stacked Jacobian" in f["summary"]
    assert "at most 0.15 decades above it" in f["summary"]
    body = api(client, MOVIE_PRESET)
    zeros = sum(v is None for row in body["influence_union"] for v in row)
    assert zeros == 0 and "no cell is zero" in f["summary"]


def test_the_terms_caption_and_its_outlined_last_row(client):
    link = "/network?loss=last"
    body = api(client, link)
    terms = body["terms"]["forward"]
    live_rows = [t for t, row in enumerate(terms) if any(v is not None for v in row)]
    assert live_rows == [len(terms) - 1]  # loss at the last step: only row T
    f = figures_of(client, link)["terms"]
    assert "1 of the 20 loss steps have a nonzero term" in f["summary"]
    last = terms[-1]
    top = max((v, k) for k, v in enumerate(last) if v is not None)[1]
    assert f"the largest term comes from k = {top + 1} " in f["summary"]
    [shape] = f["figure"]["layout"]["shapes"]
    assert (shape["y0"], shape["y1"]) == (19.5, 20.5)
