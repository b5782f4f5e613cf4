"""/explore in headless Chromium: controls redraw, the URL holds the state, no console errors.

Predicates are arrow functions: Playwright evaluates a bare expression string with eval, which
the pages' Content-Security-Policy refuses."""

import json
import re
from urllib.request import urlopen

import pytest

from .conftest import wait_until

pytestmark = pytest.mark.browser

PROFILE_X = "document.getElementById('plot-profile').data[0].x.length"


def wait_for_profile_length(page, n):
    page.wait_for_function(f"() => {PROFILE_X} === {n}", timeout=10_000)


def test_changing_sequence_length_redraws_and_updates_the_url(make_page):
    p = make_page()
    page = p.open("/explore")
    assert page.evaluate(PROFILE_X) == 101
    before = page.evaluate("document.getElementById('plot-profile').data[0].y")
    page.get_by_label("Sequence length", exact=True).fill("77")
    wait_for_profile_length(page, 78)
    after = page.evaluate("document.getElementById('plot-profile').data[0].y")
    assert after != before[: len(after)]
    page.wait_for_url(re.compile(r"seq_len=77"))
    assert "seq_len=77" in page.url
    assert p.errors == []


def test_a_shared_url_reopens_the_same_view(make_page):
    p = make_page()
    page = p.open("/explore?seq_len=33&nonlinearity=relu&clip=norm")
    assert page.evaluate(PROFILE_X) == 34
    assert page.get_by_label("Sequence length", exact=True).input_value() == "33"
    assert page.get_by_label("Nonlinearity").input_value() == "relu"
    assert page.get_by_label("Clipping", exact=True).input_value() == "norm"
    caption = page.locator("#summary-profile").inner_text()
    assert "l = 33" in caption
    assert p.errors == []


def test_the_slider_and_keyboard_drive_the_same_value(make_page):
    p = make_page()
    page = p.open("/explore")
    box = page.get_by_label("Sequence length", exact=True)
    box.focus()
    page.keyboard.press("ArrowUp")  # number inputs step by keyboard
    wait_for_profile_length(page, 102)
    assert page.locator("#seq_len-slider").input_value() == "101"
    page.locator("#seq_len-slider").fill("40")
    wait_for_profile_length(page, 41)
    assert box.input_value() == "40"
    assert p.errors == []


def test_zoom_survives_an_update(make_page):
    p = make_page()
    page = p.open("/explore")
    page.evaluate("Plotly.relayout('plot-profile', {'xaxis.range': [0, 10]})")
    page.get_by_label("Seed").fill("5")
    page.wait_for_url(re.compile(r"seed=5"))
    wait_until(page, lambda: page.evaluate("document.body.dataset.query") == "seed=5")
    assert page.evaluate("document.getElementById('plot-profile').layout.xaxis.range") == [0, 10]


def test_out_of_range_input_shows_the_servers_message(make_page):
    p = make_page()
    page = p.open("/explore")
    page.get_by_label("Sequence length", exact=True).fill("5000")
    alert = page.get_by_role("alert")
    alert.wait_for(state="visible")
    assert "seq_len" in alert.inner_text() and "1000" in alert.inner_text()
    assert page.evaluate(PROFILE_X) == 101  # the last good figure stays
    # the 422 is the expected answer, shown to the user; nothing else went wrong
    assert all("422" in e for e in p.errors)


def test_switching_cell_shows_gate_heatmaps(make_page):
    p = make_page()
    page = p.open("/explore")
    assert page.locator("#figure-gates").count() == 0
    assert page.get_by_label("Forget-gate bias", exact=True).is_hidden()
    page.get_by_label("Cell", exact=True).select_option("lstm")
    page.locator("#figure-gates .main-svg").first.wait_for()
    traces = page.evaluate("document.getElementById('plot-gates').data.map(t => t.type)")
    assert traces == ["heatmap"] * 4
    assert page.get_by_label("Forget-gate bias", exact=True).is_visible()
    order = page.evaluate("[...document.querySelectorAll('figure.fig')].map(f => f.id)")
    assert order[:3] == ["figure-profile", "figure-gates", "figure-gate_means"]
    page.get_by_label("Cell", exact=True).select_option("rnn")
    page.wait_for_function("() => !document.getElementById('figure-gates')")
    assert p.errors == []


def test_truncation_greys_the_dropped_terms_and_draws_its_error_curve(make_page):
    p = make_page()
    page = p.open("/explore")
    assert page.locator("#figure-truncation").count() == 0
    page.get_by_label("Truncation window", exact=True).fill("15")
    page.locator("#figure-truncation .main-svg").first.wait_for()
    names = page.evaluate("document.getElementById('plot-contributions').data.map(t => t.name)")
    assert names == ["kept (l < 15)", "dropped by truncation (l \u2265 15)"]
    assert "tau = 15" in page.locator("#summary-truncation").inner_text()
    page.wait_for_url(re.compile(r"truncation=15"))
    page.get_by_label("Randomized: keep probability", exact=True).fill("0.5")
    page.locator("#figure-randomized .main-svg").first.wait_for()
    draws = page.evaluate("document.getElementById('plot-randomized').data[1].x.length")
    assert draws == 20
    page.get_by_label("Truncation window", exact=True).fill("0")
    page.wait_for_function(
        "() => document.getElementById('plot-contributions').data.length === 1", timeout=10_000
    )
    assert page.locator("#figure-truncation").count() == 1  # the randomized run still has it
    assert p.errors == []


def test_usable_at_360_pixels(make_page):
    p = make_page(width=360, height=740)
    page = p.open("/explore")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.get_by_role("button", name="Change").click()  # the summary bar opens the controls
    box = page.get_by_label("Sequence length", exact=True).bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 360
    plot = page.locator("#plot-profile").bounding_box()
    assert plot["width"] <= 360
    assert p.errors == []


def test_index_links_to_the_explorer(make_page):
    p = make_page()
    page = p.open("/explore")
    page.goto(p.base + "/")
    page.get_by_role("link", name="Gradient-flow explorer", exact=True).click()
    page.wait_for_selector("body[data-ready=true]")
    assert page.url.endswith("/explore")
    assert p.errors == []


def test_compare_renders_three_profiles_and_their_horizons(make_page):
    p = make_page()
    page = p.open("/compare?seq_len=200")
    names = page.evaluate("document.getElementById('plot-sensitivity').data.map(t => t.name)")
    assert names == ["RNN", "LSTM", "GRU"]
    assert page.locator("#number-rnn").inner_text().endswith("steps")
    page.get_by_label("Forget-gate bias", exact=True).fill("5")
    page.wait_for_url(re.compile(r"forget_bias=5"))
    page.wait_for_function(
        "() => document.getElementById('number-lstm').textContent.startsWith('more than')"
    )
    assert p.errors == []


def test_clicking_the_cliff_starts_three_descents_there(make_page):
    p = make_page()
    page = p.open("/cliff?steps=30")
    box = page.locator("#plot-surface .nsewdrag").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.7)
    page.wait_for_url(re.compile(r"start_w="))
    page.wait_for_function("() => document.getElementById('plot-surface').data[1].x[0] !== 5")
    start_w = float(page.get_by_label("Start w").input_value())
    traces = page.evaluate(
        "document.getElementById('plot-surface').data.slice(1, 4)"
        ".map(t => [t.name, t.x.length, t.x[0]])"
    )
    assert [t[0] for t in traces] == ["unclipped", "clipped by norm", "clipped by value"]
    for _, length, x0 in traces:
        assert length == 31 and abs(x0 - start_w) < 1e-6
    assert p.errors == []


def test_eigen_sliders_redraw_and_hide_what_does_not_apply(make_page):
    p = make_page()
    page = p.open("/eigen")
    page.get_by_label("Radius 1", exact=True).fill("0.5")
    page.wait_for_url(re.compile(r"radius1=0.5"))
    page.wait_for_function("() => document.getElementById('number-radius').textContent === '0.9'")
    assert page.get_by_label("Hidden size", exact=True).is_hidden()
    page.get_by_label("Matrix").select_option("gaussian")
    page.wait_for_url(re.compile(r"matrix=gaussian"))
    assert page.get_by_label("Hidden size", exact=True).is_visible()
    assert page.get_by_label("Radius 1", exact=True).is_hidden()
    assert p.errors == []


@pytest.mark.parametrize(
    "query", ["scale=3", "nonlinearity=relu&init=identity&scale=1.1", "cell=lstm&forget_bias=5"]
)
def test_each_caption_on_the_page_is_the_apis_and_states_its_numbers(make_page, query):
    """The claim presets as a student opens them: every figure's caption on the page is the
    API's for that query, and the profile's names the API summary's rate and regime."""
    p = make_page()
    page = p.open(f"/explore?{query}")
    with urlopen(f"{p.base}/api/v1/gradient-flow/figures?{query}") as r:
        figures = json.load(r)["figures"]
    with urlopen(f"{p.base}/api/v1/gradient-flow?{query}") as r:
        summary = json.load(r)["summary"]
    for f in figures:
        assert page.locator(f"#summary-{f['name']}").inner_text() == f["summary"]
    profile = page.locator("#summary-profile").inner_text()
    assert f"{summary['log10_rate_per_step']:+.3g} decades per step" in profile
    word = {"neither": "neither vanishing nor exploding"}.get(summary["regime"], summary["regime"])
    assert f": {word}." in profile
    if "cell=lstm" not in query:
        assert page.locator("#plot-bound_factors").count() == 1
    assert p.errors == []
