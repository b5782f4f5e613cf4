"""Hostile values in every query field of every view, as a parameter name and in the path:
never a 5xx, and never a payload unescaped in HTML (the escaped form may appear)."""

from urllib.parse import quote

import pytest
from markupsafe import escape

from bpttlab.server.schemas import (
    CliffQuery,
    CompareQuery,
    EigenQuery,
    GradientFlowQuery,
    NetworkQuery,
)

VIEWS = {
    "/explore": GradientFlowQuery,
    "/compare": CompareQuery,
    "/cliff": CliffQuery,
    "/eigen": EigenQuery,
    "/network": NetworkQuery,
}
PAYLOADS = {
    "script": "<script>alert(1)</script>",
    "attribute": "\"'><img src=x onerror=alert(1)>",
    "rtl": "\u202e<b>txt.exe</b>",
    "emoji": "\U0001f600<i>\u200d</i>",
    "nul": "\x00<script>\x00",
}
# 10,000 characters: one field at a time (all at once would pass any server's URL limit)
LONG = "<svg onload=alert(1)>" + "x" * 10_000
VIEW_FIELDS = [(path, name) for path, model in VIEWS.items() for name in model.model_fields]


def assert_not_raw(text: str, payload: str) -> None:
    assert payload not in text.replace(str(escape(payload)), "")


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
@pytest.mark.parametrize("path", VIEWS)
def test_hostile_values_in_every_field_are_refused_and_escaped(page_client, path, payload):
    fields = VIEWS[path].model_fields
    params = {name: payload for name in fields} | {payload: "1"}
    r = page_client.get(path, params=params)
    assert r.status_code == 200
    assert_not_raw(r.text, payload)
    problems = r.context["problems"]
    assert {p["field"] for p in problems} >= {payload}  # the unknown name, shown escaped
    assert str(escape(payload)) in r.text
    for p in problems:  # what the page says it ignored is escaped too
        assert str(escape(p["message"])) in r.text
    # every field fell back to its default
    assert r.context["query"] == VIEWS[path]()


@pytest.mark.parametrize(("path", "field"), VIEW_FIELDS)
def test_a_long_value_in_each_field_is_refused_and_escaped(page_client, path, field):
    r = page_client.get(path, params={field: LONG})
    assert r.status_code == 200
    assert_not_raw(r.text, LONG)
    assert [p["field"] for p in r.context["problems"]] == [field]
    assert r.context["query"] == VIEWS[path]()


def test_a_long_parameter_name_is_shown_escaped(page_client):
    r = page_client.get("/explore", params={LONG: "1"})
    assert r.status_code == 200
    assert_not_raw(r.text, LONG)
    assert str(escape(LONG)) in r.text


@pytest.mark.parametrize("payload", [*PAYLOADS.values(), LONG], ids=[*PAYLOADS.keys(), "long"])
@pytest.mark.parametrize("path", ["/", "/docs"])
def test_pages_without_controls_ignore_hostile_queries(client, path, payload):
    r = client.get(path, params={"q": payload, payload: payload})
    assert r.status_code == 200
    assert_not_raw(r.text, payload)


@pytest.mark.parametrize("payload", [*PAYLOADS.values(), LONG], ids=[*PAYLOADS.keys(), "long"])
@pytest.mark.parametrize("prefix", ["/", "/explore/", "/embed/", "/api/v1/", "/static/"])
def test_hostile_paths_get_a_json_404(client, prefix, payload):
    r = client.get(prefix + quote(payload))
    assert r.status_code == 404
    # JSON, never HTML, and the browser may not sniff it into HTML
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.json()["errors"][0]["field"] == "path"


@pytest.mark.parametrize("payload", PAYLOADS.values(), ids=PAYLOADS.keys())
@pytest.mark.parametrize(
    "path", ["/api/v1/gradient-flow", "/api/v1/compare", "/api/v1/cliff", "/api/v1/eigen"]
)
def test_hostile_values_get_a_422_naming_the_field(client, path, payload):
    r = client.get(path, params={"seq_len": payload})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "seq_len"


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        # above the default w_max (b_max): only the defaults are consistent
        ("/cliff", {"w_min": 20}, CliffQuery()),
        ("/cliff", {"b_min": 8, "steps": 7}, CliffQuery()),
        ("/cliff", {"w_min": 2, "w_max": 1, "seq_len": 20}, CliffQuery(w_min=2, seq_len=20)),
        ("/eigen", {"matrix": "gaussian", "non_normal": "true"}, EigenQuery(matrix="gaussian")),
    ],
)
def test_a_value_wrong_next_to_a_default_falls_back_instead_of_failing(
    page_client, path, params, expected
):
    r = page_client.get(path, params=params)
    assert r.status_code == 200
    assert r.context["problems"]
    assert r.context["query"] == expected
