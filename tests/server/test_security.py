"""Security headers, the framing policy per path, CORS on /api/, and the vendored bundles."""

import re

import pytest
from fastapi.testclient import TestClient
from plotly.offline import get_plotlyjs_version
from pydantic import ValidationError

from bpttlab.server.app import create_app
from bpttlab.server.pages import PLOTLY_PATH, PLOTLY_VERSION, SWAGGER_UI_PATH
from bpttlab.server.settings import ROOT, Settings

PAGES = ["/", "/explore", "/compare", "/cliff", "/eigen", "/docs"]
OTHERS = [
    "/api/v1/health",
    "/api/v1/gradient-flow?seq_len=5",
    "/openapi.json",
    "/static/css/site.css",
    "/static/js/view.js",
    PLOTLY_PATH,
    "/no/such/page",
]
FOREIGN = "https://course.example.edu"


def policy(response) -> dict[str, str]:
    """The CSP as {directive: sources}."""
    items = (
        d.strip().split(" ", 1) for d in response.headers["content-security-policy"].split(";")
    )
    return {name: sources for name, sources in items}


def with_embed_page(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))


EMBED = "/embed/explore?seq_len=5"


@pytest.mark.parametrize("path", PAGES + OTHERS)
def test_every_response_says_nosniff_and_a_referrer_policy(client, path):
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("path", PAGES)
def test_pages_allow_scripts_from_our_origin_only(client, path):
    r = client.get(path)
    assert r.headers["content-type"].startswith("text/html")
    csp = policy(r)
    assert csp["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert csp["default-src"] == "'self'"
    assert csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'self'" and csp["form-action"] == "'self'"
    assert csp["img-src"] == "'self' data: blob:"
    assert csp["style-src"] == "'self' 'unsafe-inline'"
    assert csp["frame-ancestors"] == "'self'"


@pytest.mark.parametrize("path", PAGES)
def test_pages_have_no_inline_script_or_handler(client, path):
    page = client.get(path).text
    for attributes in re.findall(r"<script([^>]*)>", page):
        assert "src=" in attributes or 'type="application/json"' in attributes, attributes
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page)
    assert "javascript:" not in page


@pytest.mark.parametrize("path", OTHERS)
def test_non_html_responses_carry_no_page_policy(client, path):
    assert "content-security-policy" not in client.get(path).headers


def test_embed_pages_take_the_frame_ancestors_setting_and_others_self():
    with with_embed_page(Settings()) as c:
        assert policy(c.get(EMBED))["frame-ancestors"] == "*"
        assert policy(c.get("/explore"))["frame-ancestors"] == "'self'"
    custom = Settings(frame_ancestors=f"'self'   {FOREIGN}")
    with with_embed_page(custom) as c:
        embed = policy(c.get(EMBED))
        assert embed["frame-ancestors"] == f"'self' {FOREIGN}"
        assert embed["script-src"] == "'self'"
        assert policy(c.get("/explore"))["frame-ancestors"] == "'self'"


def test_frame_ancestors_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("BPTTLAB_FRAME_ANCESTORS", f"{FOREIGN} https://*.moodle.example")
    assert Settings().frame_ancestors == f"{FOREIGN} https://*.moodle.example"


@pytest.mark.parametrize(
    "value", ["", "https://a.example; script-src *", "'unsafe-inline'", "'none' *", "a,b"]
)
def test_a_frame_ancestors_value_that_would_break_the_policy_is_refused(value):
    with pytest.raises(ValidationError, match="frame_ancestors"):
        Settings(frame_ancestors=value)


def test_cors_preflight_from_another_origin_is_allowed_for_get(client):
    r = client.options(
        "/api/v1/gradient-flow",
        headers={"Origin": FOREIGN, "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "GET" in r.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in r.headers


def test_a_get_from_another_origin_is_readable_without_credentials(client):
    r = client.get("/api/v1/gradient-flow", params={"seq_len": 5}, headers={"Origin": FOREIGN})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in r.headers
    assert r.json()["config"]["seq_len"] == 5


def test_cors_is_not_open_for_post(client):
    r = client.options(
        "/api/v1/gradient-flow",
        headers={
            "Origin": FOREIGN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert r.status_code == 400
    assert "POST" not in r.headers["access-control-allow-methods"]
    r = client.post("/api/v1/gradient-flow", json={"seq_len": 5}, headers={"Origin": FOREIGN})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


def test_pages_are_not_cors_readable(client):
    r = client.get("/explore", headers={"Origin": FOREIGN})
    assert "access-control-allow-origin" not in r.headers


@pytest.mark.parametrize(
    "path",
    [PLOTLY_PATH, f"{SWAGGER_UI_PATH}/swagger-ui-bundle.js", f"{SWAGGER_UI_PATH}/swagger-ui.css"],
)
def test_vendored_files_are_immutable_and_compressed(client, path):
    r = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert r.headers["content-encoding"] == "gzip"
    assert r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/static/css/site.css", "/static/js/view.js", "/explore"])
def test_static_assets_and_pages_are_compressed(client, path):
    r = client.get(path, headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"


def test_vendored_plotly_is_eval_free_and_matches_plotly_py():
    source = (ROOT / "static" / PLOTLY_PATH.lstrip("/")).read_text()
    assert "new Function" not in source
    assert not re.search(r"[^\w$.]eval\(", source)
    # the one Function( call is the function-bind polyfill, used only without a native bind
    assert len(re.findall(r"[^\w$.]Function\(", source)) == 1
    assert re.search(r"Function\.prototype\.bind\|\|\w+", source)
    # figures are validated by plotly.py against its own plotly.js: same major version
    assert PLOTLY_VERSION.split(".")[0] == get_plotlyjs_version().split(".")[0]
