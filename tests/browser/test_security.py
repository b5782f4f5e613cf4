"""Every page under its Content-Security-Policy in Chromium: no violation, no request to another
origin, and every figure drawn by the vendored (eval-free) Plotly bundle."""

import json

import pytest

pytestmark = pytest.mark.browser

FIGURE_PAGES = [
    "/explore",
    "/explore?cell=lstm",
    "/explore?cell=gru",
    "/compare",
    "/cliff",
    "/eigen",
]


def assert_clean(p):
    assert p.csp_violations() == []
    assert p.foreign == []
    assert p.errors == []


@pytest.mark.parametrize("path", FIGURE_PAGES)
def test_pages_draw_every_figure_under_the_policy(make_page, path):
    p = make_page()
    page = p.open(path)
    response = page.request.get(p.base + path)
    assert "script-src 'self'" in response.headers["content-security-policy"]
    names = [f["name"] for f in json.loads(page.locator("#initial-figures").text_content())]
    assert names
    for name in names:
        page.locator(f"#plot-{name} .main-svg").first.wait_for()
        drawn = page.evaluate(
            f"(() => {{ const el = document.getElementById('plot-{name}');"
            " return el._fullData.length === el.data.length && el.data.length > 0; })()"
        )
        assert drawn, name
    assert_clean(p)


def test_plotly_png_export_runs_under_the_policy(make_page):
    p = make_page()
    page = p.open("/explore")
    url = page.evaluate("Plotly.toImage('plot-profile', {format: 'png', width: 400, height: 300})")
    assert url.startswith("data:image/png;base64,") and len(url) > 1000
    assert_clean(p)


def test_index_is_clean(make_page):
    p = make_page()
    page = p.page
    page.goto(p.base + "/")
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("link", name="Gradient-flow explorer", exact=True).count() == 1
    assert_clean(p)


def test_api_docs_render_from_our_origin(make_page):
    p = make_page()
    page = p.open("/docs")
    page.locator(".opblock").first.wait_for()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/v1/gradient-flow" in text for text in paths)
    page.wait_for_load_state("networkidle")
    assert_clean(p)
