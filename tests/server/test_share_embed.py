"""Share (the URL is the state), embeds, oEmbed and the discovery link, for every view."""

import re
from html import unescape
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from fastapi.testclient import TestClient

from bpttlab.server.app import create_app
from bpttlab.server.catalog import VIEWS
from bpttlab.server.settings import Settings, get_settings

from .conftest import strict_json

NAMES = sorted(VIEWS)
# a numeric field of each view the oEmbed tests set (/depth has no sequence)
LENGTH = {"depth": "depth"}


def test_the_four_views_are_registered():
    assert set(VIEWS) >= {"explore", "compare", "cliff", "eigen"}


@pytest.mark.parametrize("name", NAMES)
def test_every_field_of_a_view_is_a_control_so_the_url_is_its_whole_state(page_client, name):
    r = page_client.get(f"/{name}")
    assert r.status_code == 200
    controls = {c.name for c in r.context["main_controls"] + r.context["more_controls"]}
    fields = set(VIEWS[name].query.model_fields) - {"include"}  # include shapes the API only
    assert fields <= controls
    for field in fields:
        assert f'name="{field}"' in r.text


QUERIES = {
    "explore": {"seq_len": "33", "cell": "gru", "update_bias": "2.5"},
    "compare": {"seq_len": "40", "forget_bias": "3", "h0": "random"},
    "cliff": {"start_w": "7.25", "start_b": "-1.5", "steps": "12"},
    "eigen": {"matrix": "gaussian", "hidden_size": "5", "seq_len": "9"},
    "network": {"num_layers": "3", "skip": "residual", "seq_len": "7"},
    "depth": {"architecture": "highway", "depth": "9", "gate_bias": "-3.5", "activation": "relu"},
}


@pytest.mark.parametrize("name", NAMES)
def test_a_query_reopens_the_same_state(page_client, name):
    r = page_client.get(f"/{name}", params=QUERIES[name])
    assert r.context["problems"] == []
    q = r.context["query"]
    assert parse_qs(q.query_string()) == {k: [v] for k, v in QUERIES[name].items()}
    values = {c.name: c.value for c in r.context["main_controls"] + r.context["more_controls"]}
    for k, v in QUERIES[name].items():
        assert str(values[k]) in (v, str(float(v)) if v[0].isdigit() else v)


def test_embed_without_controls_hides_the_form_and_the_site_chrome(page_client):
    r = page_client.get("/embed/explore", params={"controls": "none", "seq_len": "20"})
    assert r.status_code == 200
    assert r.template.name == "embed.html"
    assert r.context["embed"].controls == "none"
    assert re.search(r'<form id="controls"[^>]* hidden>', r.text)
    assert '<header class="site">' not in r.text and '<footer class="site">' not in r.text
    assert r.context["query"].seq_len == 20


def test_embed_compact_shows_the_main_controls_and_keeps_the_others_in_hidden_fields(page_client):
    r = page_client.get("/embed/explore", params={"input_scale": "2"})
    assert r.context["embed"].controls == "compact"
    assert '<label for="seq_len">' in r.text
    assert '<label for="input_scale">' not in r.text
    assert re.search(r'<input type="hidden" name="input_scale" value="2.0"', r.text)
    full = page_client.get("/embed/explore", params={"controls": "full"})
    assert '<label for="input_scale">' in full.text


def test_embed_figures_picks_figures_in_the_views_order(page_client):
    r = page_client.get("/embed/explore", params={"figures": "singular_values,profile"})
    assert [f["name"] for f in r.context["figures"]] == ["profile", "singular_values"]
    assert r.context["problems"] == []
    assert 'data-only="profile,singular_values"' in r.text


def test_embed_says_which_figure_names_it_does_not_know(page_client):
    r = page_client.get("/embed/compare", params={"figures": "sensitivity,nope"})
    assert [f["name"] for f in r.context["figures"]] == ["sensitivity"]
    [problem] = r.context["problems"]
    assert problem["field"] == "figures" and problem["input"] == "nope"
    assert problem["limit"]["allowed"] == ["sensitivity", "absolute"]
    assert "sensitivity, absolute" in r.text


def test_a_bad_controls_value_is_reported_and_replaced_like_any_page_problem(page_client):
    r = page_client.get("/embed/eigen", params={"controls": "most", "seq_len": "5000"})
    assert r.status_code == 200
    assert {p["field"] for p in r.context["problems"]} == {"controls", "seq_len"}
    assert r.context["embed"].controls == "compact"


def test_an_unknown_view_has_no_embed(client):
    r = client.get("/embed/nowhere")
    assert r.status_code == 404
    body = strict_json(r.text)
    assert body["status"] == 404 and body["errors"][0]["type"] == "not_found"


# -- oEmbed -------------------------------------------------------------------------------------


def oembed(client, url, **params):
    return client.get("/oembed", params={"url": url, **params})


def check_rich(body):
    """oEmbed 1.0, section 2.3.4: every response has version and type; rich adds html, width
    and height (width and height positive integers)."""
    assert body["version"] == "1.0"
    assert body["type"] == "rich"
    assert isinstance(body["html"], str) and body["html"]
    for key in ("width", "height"):
        assert isinstance(body[key], int) and not isinstance(body[key], bool) and body[key] > 0
    for key in ("title", "provider_name", "provider_url"):
        assert isinstance(body[key], str)


@pytest.mark.parametrize("name", NAMES)
def test_oembed_answers_rich_with_the_iframe_of_the_view(client, name):
    field = LENGTH.get(name, "seq_len")
    r = oembed(client, f"http://testserver/{name}?{field}=12&bogus=1", format="json")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = strict_json(r.text)
    check_rich(body)
    [src] = re.findall(r'<iframe src="([^"]+)"', body["html"])
    src = unescape(src)
    assert src == f"http://testserver/embed/{name}?{field}=12"  # canonical: bogus dropped
    assert '<script src="http://testserver/static/js/embed-host.js"' in body["html"]
    assert client.get(urlsplit(src).path + "?" + urlsplit(src).query).status_code == 200


def test_oembed_takes_embed_urls_and_keeps_their_controls_and_figures(client):
    url = "http://testserver/embed/explore?controls=none&figures=profile&seq_len=50"
    body = oembed(client, url).json()
    [src] = re.findall(r'<iframe src="([^"]+)"', body["html"])
    assert (
        unescape(src) == "http://testserver/embed/explore?seq_len=50&controls=none&figures=profile"
    )


def test_oembed_respects_maxwidth_and_maxheight(client):
    body = oembed(client, "http://testserver/explore", maxwidth=400, maxheight=300).json()
    check_rich(body)
    assert body["width"] == 400 and body["height"] == 300
    assert 'width="400"' in body["html"] and 'height="300"' in body["html"]


@pytest.mark.parametrize(
    "url",
    [
        "http://elsewhere.example/explore",
        "https://testserver.evil.example/explore",
        "http://testserver/nowhere",
        "http://testserver/embed/nowhere",
        "http://testserver/docs",
        "http://testserver/",
        "ftp://testserver/explore",
        "not a url",
    ],
)
def test_oembed_refuses_foreign_and_unknown_urls_with_404(client, url):
    r = oembed(client, url)
    assert r.status_code == 404
    body = strict_json(r.text)
    assert body["errors"][0]["field"] == "url"


def test_oembed_xml_is_not_implemented(client):
    r = oembed(client, "http://testserver/explore", format="xml")
    assert r.status_code == 501
    assert strict_json(r.text)["errors"][0]["field"] == "format"


def test_oembed_without_url_names_the_field(client):
    r = client.get("/oembed", params={"format": "json"})
    assert r.status_code == 422
    assert strict_json(r.text)["errors"][0]["field"] == "url"


def test_oembed_accepts_the_public_url_behind_a_proxy(monkeypatch):
    get_settings.cache_clear()
    monkeypatch.setenv("BPTTLAB_PUBLIC_URL", "https://lab.example.edu/")
    try:
        with TestClient(create_app(Settings())) as c:
            body = oembed(c, "https://lab.example.edu/cliff?steps=3").json()
            check_rich(body)
            assert 'src="https://lab.example.edu/embed/cliff?steps=3"' in body["html"]
            assert body["provider_url"] == "https://lab.example.edu/"
            assert oembed(c, "https://other.example.edu/cliff").status_code == 404
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("path", [f"/{n}" for n in NAMES] + [f"/embed/{n}" for n in NAMES])
def test_every_view_page_and_embed_carries_the_oembed_discovery_link(client, path):
    field = LENGTH.get(path.rsplit("/", 1)[-1], "seq_len")
    page = client.get(path, params={field: "21"}).text
    [href] = re.findall(
        r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)"', page
    )
    href = unescape(href)
    assert href == f"http://testserver/oembed?url={quote('http://testserver' + path, safe='')}" + (
        f"%3F{field}%3D21&format=json"
    )
    check_rich(client.get(href).json())
