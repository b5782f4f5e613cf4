"""The home page's path in Chromium: every claim's link opens its view, which renders without
console errors, and the captions shown are the API's for that exact query; on /compare the
horizons in the caption and the numbers are the API's memory horizons."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from bpttlab.server.catalog import VIEWS

pytestmark = pytest.mark.browser

CLAIM_LINKS = "Array.from(document.querySelectorAll('a[data-claim]'), a => a.getAttribute('href'))"
CAPTIONS = (
    "Array.from(document.querySelectorAll('.figures figure[data-figure]'),"
    " f => [f.dataset.figure, f.querySelector('figcaption').textContent.trim()])"
)


def api(page, base: str, href: str, figures: bool = False) -> dict:
    parts = urlsplit(href)
    path = VIEWS[parts.path.strip("/")].api + ("/figures" if figures else "")
    r = page.request.get(f"{base}{path}?{parts.query}")
    assert r.ok, (href, r.status)
    return r.json()


def horizon_words(h: int | None, seq_len: int) -> str:
    return f"{h} steps" if h is not None else f"more than {seq_len - 1} steps"


def test_the_home_pages_path_opens_every_preset_with_the_apis_captions(make_page):
    p = make_page()
    page = p.page
    page.goto(p.base + "/")
    hrefs = list(dict.fromkeys(page.evaluate(CLAIM_LINKS)))
    assert len(hrefs) >= 9
    # the first by a click, as a reader would; the others by address
    page.locator("a[data-claim]").first.click()
    page.wait_for_url(re.compile(re.escape(hrefs[0].split("?")[0])))
    compared = 0
    for href in hrefs:
        if page.url != p.base + href:
            page.goto(p.base + href)
        page.wait_for_selector("body[data-ready=true]")
        assert p.csp_violations() == [], href
        shown = dict(page.evaluate(CAPTIONS))
        assert shown, href
        expected = {f["name"]: f["summary"] for f in api(page, p.base, href, True)["figures"]}
        for name, caption in shown.items():
            assert caption == expected[name], (href, name)
        if href.startswith("/compare"):
            body = api(page, p.base, href)
            t_len = body["config"]["seq_len"]
            sentence = shown["sensitivity"]
            for cell, label in (("rnn", "RNN"), ("lstm", "LSTM"), ("gru", "GRU")):
                words = horizon_words(body["cells"][cell]["memory_horizon"], t_len)
                assert f"{label} {words}" in sentence
                assert page.locator(f"#number-{cell}").inner_text() == words
            compared += 1
    assert compared >= 2
    assert p.errors == [] and p.foreign == []
