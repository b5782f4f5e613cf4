"""/depth in headless Chromium: the page renders its four figures, a control redraws and puts
its value in the URL, and the compare mode draws one line per architecture. Conditions are
polled with page.evaluate under a deadline (the pages' CSP refuses eval)."""

import re

import pytest

from .conftest import wait_until

pytestmark = pytest.mark.browser

FIGURES = ("gradient", "weights", "activations", "spectrum")


def traces(page, name: str) -> int:
    return page.evaluate(
        "(id) => { const el = document.getElementById(id);"
        " return el && el.data ? el.data.length : -1; }",
        f"plot-{name}",
    )


def points(page, name: str) -> int:
    return page.evaluate(
        "(id) => { const el = document.getElementById(id);"
        " return el && el.data ? el.data[0].x.length : -1; }",
        f"plot-{name}",
    )


def test_the_page_renders_its_figures(make_page):
    p = make_page()
    page = p.open("/depth")
    for name in FIGURES:
        wait_until(page, lambda n=name: traces(page, n) >= 1, what=f"figure {name}")
    assert points(page, "gradient") == 51  # layers 0..50
    assert "times the output's" in page.locator("#summary-gradient").inner_text()
    assert p.errors == [] and p.csp_violations() == [] and p.foreign == []


def test_changing_the_depth_redraws_and_updates_the_url(make_page):
    p = make_page()
    page = p.open("/depth")
    wait_until(page, lambda: points(page, "gradient") == 51, what="the default draw")
    page.get_by_label("Depth", exact=True).fill("20")
    wait_until(page, lambda: points(page, "gradient") == 21, what="the redraw at depth 20")
    page.wait_for_url(re.compile(r"depth=20"))
    assert "over 20 layers" in page.locator("#summary-gradient").inner_text()
    assert p.errors == []


def test_compare_mode_draws_four_lines(make_page):
    p = make_page()
    page = p.open("/depth?depth=10&width=16")
    wait_until(page, lambda: traces(page, "gradient") == 1, what="one architecture")
    page.get_by_label("Compare all four").check()
    wait_until(page, lambda: traces(page, "gradient") == 4, what="four lines")
    names = page.evaluate("() => document.getElementById('plot-gradient').data.map((t) => t.name)")
    assert [n.split(" ")[0] for n in names] == ["plain", "residual", "dense", "highway"]
    assert traces(page, "spectrum") == 4
    page.wait_for_url(re.compile(r"compare=true"))
    assert p.errors == []
