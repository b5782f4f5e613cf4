"""Pages: assert the template and its context (not scraped HTML), plus the vendored Plotly."""

import re

import pytest

from bpttlab.server.pages import PLOTLY_PATH, PLOTLY_VERSION


def test_index_links_the_views(page_client):
    client = page_client
    r = client.get("/")
    assert r.status_code == 200
    assert r.template.name == "index.html"
    assert 'href="/explore"' in r.text


def test_explore_controls_come_from_the_schema(page_client):
    client = page_client
    r = client.get("/explore")
    assert r.status_code == 200
    assert r.template.name == "explore.html"
    controls = {c.name: c for c in r.context["main_controls"] + r.context["more_controls"]}
    labels = {name: c.label for name, c in controls.items()}
    assert labels["seq_len"] == "Sequence length"
    assert labels["nonlinearity"] == "Nonlinearity"
    assert labels["hidden_size"] == "Hidden size"
    assert labels["clip_threshold"] == "Clipping threshold"
    assert controls["seq_len"].maximum == 1000 and controls["seq_len"].minimum == 1
    assert controls["cell"].options == ("rnn", "lstm", "gru")
    assert controls["clip_threshold"].minimum is None  # exclusive bound: the server says > 0
    assert r.context["problems"] == []
    # every control is labelled: a <label for=id> for each named input
    for name in controls:
        assert f'<label for="{name}">' in r.text, name
        assert f'id="{name}"' in r.text


def test_explore_prefills_from_the_query(page_client):
    client = page_client
    r = client.get("/explore", params={"seq_len": 77, "nonlinearity": "relu", "cell": "rnn"})
    q = r.context["query"]
    assert q.seq_len == 77 and q.nonlinearity == "relu"
    [profile] = [f for f in r.context["figures"] if f["name"] == "profile"]
    assert len(profile["figure"]["data"][0]["x"]) == 78
    values = {c.name: c.value for c in r.context["main_controls"]}
    assert values["seq_len"] == 77


def test_explore_with_a_bad_query_renders_and_says_what_it_ignored(page_client):
    client = page_client
    r = client.get("/explore", params={"seq_len": 5000, "scale": "nan", "colour": "red"})
    assert r.status_code == 200
    fields = {p["field"] for p in r.context["problems"]}
    assert fields == {"seq_len", "scale", "colour"}
    assert r.context["query"].seq_len == 100  # the default replaces the bad value
    assert 'role="alert"' in r.text


def test_hostile_query_is_escaped(client):
    evil = '"><script>alert(1)</script>'
    r = client.get("/explore", params={"cell": evil, evil: "1"})
    assert r.status_code == 200
    assert "<script>alert(1)" not in r.text


def test_plotly_is_served_by_us_with_its_version_in_the_name(client):
    page = client.get("/explore").text
    assert PLOTLY_PATH in page and PLOTLY_VERSION in PLOTLY_PATH
    r = client.get(PLOTLY_PATH)
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]
    assert "immutable" in r.headers["cache-control"]
    assert f"plotly.js (cartesian - minified) v{PLOTLY_VERSION}" in r.text[:200]


@pytest.mark.parametrize("path", ["/", "/explore", "/explore?cell=lstm"])
def test_pages_load_nothing_from_other_origins(client, path):
    page = client.get(path).text
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith(("/", "http://testserver/", "#")), url


def test_static_assets_exist(client):
    page = client.get("/explore").text
    for url in re.findall(r'(?:src|href)="(http://testserver/static/[^"]+)"', page):
        assert client.get(url).status_code == 200, url


def test_explore_links_the_pytorch_script_of_the_same_configuration(client):
    page = client.get("/explore", params={"seq_len": 12, "cell": "gru"}).text
    [href] = re.findall(r'href="(/api/v1/gradient-flow/pytorch\?[^"]*)"', page)
    r = client.get(href.replace("&amp;", "&"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/x-python")
    compile(r.text, "script.py", "exec")
    assert "GRUCell" in r.text
