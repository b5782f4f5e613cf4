"""The layout at a laptop's 1366 x 768 and a phone's 390 x 844: on the laptop every main
control is on screen by the page's own scroll (no scroll box of the panel's own), on the phone
the first figure starts on the first screen and the summary bar opens the controls; compact
embeds show at most three controls.

Predicates are Python callables polled with deadlines (conftest.wait_until): the pages' CSP
refuses the eval a string predicate would need."""

from urllib.parse import parse_qsl, urlsplit

import pytest

from bpttlab.server.catalog import VIEWS as REGISTRY

from .conftest import wait_until

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
VIEWS = ["explore", "compare", "cliff", "eigen", "network"]

# the controls a reader can see: not hidden for the selected cell or matrix (data-cells), not
# folded in a closed <details>
SHOWN = """() => [...document.querySelectorAll('#controls .control')]
  .filter(c => c.getClientRects().length && !c.closest('details:not([open])'))"""

SHOWN_NAMES = f"() => ({SHOWN})().map(c => c.querySelector('[name]').name)"

# elements of the controls panel (and the panel's ancestors) that scroll their own content
INNER_SCROLLERS = """() => {
  const form = document.getElementById('controls');
  const ancestors = [];
  for (let e = form.parentElement; e && e !== document.body; e = e.parentElement) ancestors.push(e);
  return [form, ...form.querySelectorAll('*'), ...ancestors].filter((e) => {
    const s = getComputedStyle(e);
    const scrolls = (v) => v === 'auto' || v === 'scroll';
    return (scrolls(s.overflowY) && e.scrollHeight > e.clientHeight + 1)
      || (scrolls(s.overflowX) && e.scrollWidth > e.clientWidth + 1);
  }).map((e) => e.id || e.className || e.tagName);
}"""

# Scroll the window (only the window) from the top to the bottom, 20 px at a time, and note
# for each shown control whether it was ever wholly inside the viewport, and whether all of
# them were at once. Scrolling is synchronous: each getBoundingClientRect sees the new offset.
REACH = """() => {
  const controls = (SHOWN)();
  const inside = (c) => {
    const r = c.getBoundingClientRect();
    return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth;
  };
  window.scrollTo(0, 0);
  const atLoad = controls.filter(inside).length;
  const seen = new Set();
  let together = false;
  const end = document.documentElement.scrollHeight - innerHeight;
  for (let y = 0; y <= end + 20; y += 20) {
    window.scrollTo(0, y);
    const now = controls.filter(inside);
    now.forEach((c) => seen.add(c));
    if (now.length === controls.length) together = true;
  }
  window.scrollTo(0, 0);
  const name = (c) => c.querySelector('[name]').name;
  return {
    shown: controls.map(name),
    unreached: controls.filter((c) => !seen.has(c)).map(name),
    atLoad, together,
    panel: document.getElementById('controls').offsetHeight,
  };
}""".replace("SHOWN", SHOWN)

FIRST_FIGURE_TOP = (
    "() => document.querySelector('figure.fig').getBoundingClientRect().top + window.scrollY"
)


@pytest.mark.parametrize(
    "path",
    [
        "/explore",
        "/explore?cell=lstm",
        "/explore?cell=gru&clip=norm",
        "/compare",
        "/cliff",
        "/eigen",
        "/eigen?matrix=gaussian",
    ],
)
def test_on_a_laptop_every_main_control_is_on_screen_by_the_pages_own_scroll(make_page, path):
    p = make_page(**LAPTOP)
    page = p.open(path)
    assert page.evaluate(INNER_SCROLLERS) == []
    reach = page.evaluate(REACH)
    # the main controls the registry lists for this cell (or matrix), in its order
    parts = urlsplit(path)
    view, query = REGISTRY[parts.path.strip("/")], dict(parse_qsl(parts.query))
    selected = query.get("cell", "rnn") if view.name == "explore" else query.get("matrix")
    if view.name == "eigen":
        selected = selected or "eigenvalues"
    main = [n for n, cells in view.main if not cells or selected in cells]
    assert reach["shown"] == main, reach
    assert reach["unreached"] == [], reach
    # the panel fits the screen: at some scroll every main control is in sight at once
    assert reach["together"], reach
    assert reach["panel"] <= LAPTOP["height"] - 16
    # and the rarely used ones are one click away, labelled, in the same panel
    more = page.locator("#controls details.group-more")
    if more.count():
        more.locator("summary").click()
        assert page.evaluate(INNER_SCROLLERS) == []
        reach = page.evaluate(REACH)
        assert reach["unreached"] == [], reach
    # no summary bar or intro fold on a laptop: the panel itself is the summary
    assert page.locator(".controls-toggle").is_hidden()
    assert page.locator(".intro-more").is_hidden()
    assert p.errors == []


def test_on_a_laptop_the_panel_stays_in_sight_while_the_figures_scroll(make_page):
    p = make_page(**LAPTOP)
    page = p.open("/explore?cell=lstm")
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    wait_until(page, lambda: page.evaluate("() => window.scrollY") > 1000, what="scrolled")
    box = page.locator("#seq_len").bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= LAPTOP["height"]


@pytest.mark.parametrize("path", [f"/{v}" for v in VIEWS] + [f"/embed/{v}" for v in VIEWS])
def test_on_a_phone_the_first_figure_starts_on_the_first_screen(make_page, path):
    p = make_page(**PHONE)
    page = p.open(path)
    page.locator("figure.fig .main-svg").first.wait_for()
    top = page.evaluate(FIRST_FIGURE_TOP)
    assert top < PHONE["height"], top
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert p.errors == []


def test_on_a_phone_the_summary_bar_opens_the_controls_over_the_figures(make_page):
    p = make_page(**PHONE)
    page = p.open("/explore")
    bar = page.locator(".controls-toggle")
    label = page.locator("#controls-label")
    form_label = page.evaluate("document.getElementById('controls').dataset.label")
    assert label.inner_text() == form_label
    assert form_label.startswith("tanh RNN, n = 32, T = 100")
    assert bar.get_attribute("aria-expanded") == "false"
    assert page.locator("#seq_len").is_hidden()
    bar.click()
    assert bar.get_attribute("aria-expanded") == "true"
    box = page.get_by_label("Sequence length", exact=True)
    box.wait_for()
    inside = box.bounding_box()
    assert 0 <= inside["y"] and inside["y"] + inside["height"] <= PHONE["height"]
    # a change: the bar says what is drawn, and the first figure is in sight above the sheet
    box.fill("40")
    wait_until(page, lambda: "T = 40," in label.inner_text(), what=label.inner_text())
    assert page.evaluate("document.getElementById('plot-profile').data[0].x.length") == 41
    sheet = page.locator("#controls-body").bounding_box()
    plot = page.locator("#plot-profile").bounding_box()
    assert plot["y"] >= 0 and plot["y"] + 200 <= sheet["y"], (plot, sheet)
    page.get_by_role("button", name="Done").click()
    assert page.locator("#seq_len").is_hidden()
    assert bar.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.classList.contains('controls-toggle')")
    assert p.errors == []


def test_on_a_phone_escape_closes_the_controls(make_page):
    p = make_page(**PHONE)
    page = p.open("/compare")
    page.locator(".controls-toggle").click()
    page.get_by_label("Forget-gate bias", exact=True).wait_for()
    page.keyboard.press("Escape")
    wait_until(page, lambda: page.locator("#forget_bias").is_hidden(), what="closed")


def test_on_a_phone_the_intro_folds_to_its_start(make_page):
    p = make_page(**PHONE)
    page = p.open("/explore")
    assert page.locator("#intro .lead").is_visible()
    assert page.locator("#terms").is_hidden()
    more = page.locator(".intro-more")
    assert more.inner_text() == "More about this view"
    more.click()
    assert page.locator("#terms").is_visible()
    assert more.get_attribute("aria-expanded") == "true"
    assert more.inner_text() == "Less about this view"


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["laptop", "phone"])
@pytest.mark.parametrize(
    "path",
    [f"/embed/{v}" for v in VIEWS] + ["/embed/explore?cell=gru", "/embed/eigen?matrix=gaussian"],
)
def test_a_compact_embed_shows_at_most_three_controls_above_the_figures(make_page, path, viewport):
    p = make_page(**viewport)
    page = p.open(path)
    shown = page.evaluate(SHOWN_NAMES)
    assert 1 <= len(shown) <= 3, shown
    assert page.locator(".controls-toggle").count() == 0  # nothing to fold
    last = page.evaluate(
        f"() => ({SHOWN})().map(c => c.getBoundingClientRect().bottom + window.scrollY)"
        ".reduce((a, b) => Math.max(a, b))"
    )
    assert last <= page.evaluate(FIRST_FIGURE_TOP)
    assert page.evaluate(FIRST_FIGURE_TOP) < viewport["height"]
    assert p.errors == []


def test_a_compact_embeds_controls_work_and_keep_the_others(make_page):
    p = make_page(**LAPTOP)
    page = p.open("/embed/explore?cell=lstm&forget_bias=3&init=orthogonal")
    shown = page.evaluate(SHOWN_NAMES)
    assert shown == ["forget_bias", "seq_len", "scale"]
    page.get_by_label("Sequence length", exact=True).fill("50")
    drawn = lambda: page.evaluate("document.body.dataset.query") or ""  # noqa: E731
    wait_until(page, lambda: "seq_len=50" in drawn(), what=drawn())
    # the hidden values stayed in the state
    state = dict(parse_qsl(drawn()))
    assert state["cell"] == "lstm" and state["init"] == "orthogonal"
    assert float(state["forget_bias"]) == 3
    label = page.evaluate("document.getElementById('controls').dataset.label")
    assert label.startswith("LSTM, forget bias 3, n = 32, T = 50, orthogonal init")
    assert p.errors == []
