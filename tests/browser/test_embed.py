"""Embeds in a page of another origin, share and embed controls, downloads, the offline export."""

import functools
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bpttlab.server.static_export import export

from .conftest import free_port, wait_until

pytestmark = pytest.mark.browser


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def host_site(tmp_path, live_server):
    """A course page on another origin (another port) that embeds /embed/explore."""
    (tmp_path / "course.html").write_text(
        f"""<!doctype html><html><head><title>Course</title>
<link rel="icon" href="data:,"></head><body>
<h1>Lecture 7: vanishing gradients</h1>
<iframe id="lab" src="{live_server}/embed/explore?seq_len=30&controls=full" title="BPTT Lab"
        width="480" height="150"></iframe>
<script src="{live_server}/static/js/embed-host.js"></script>
</body></html>"""
    )
    (tmp_path / "framed-page.html").write_text(
        f"""<!doctype html><html><head><title>Course</title>
<link rel="icon" href="data:,"></head><body>
<iframe id="page" src="{live_server}/explore?seq_len=30" title="not an embed"></iframe>
</body></html>"""
    )
    port = free_port()
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{port}/course.html"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


FRAME_HEIGHT = "document.getElementById('lab').clientHeight"  # inside its border
CONTENT_HEIGHT = "Math.ceil(document.body.getBoundingClientRect().height)"
FORGE_THEN_SENTINEL = """() => new Promise((done) => {
  window.addEventListener("message", (e) => { if (e.data === "sentinel") done(); });
  window.postMessage({type: "bpttlab:height", height: 5}, "*");
  window.postMessage("sentinel", "*");
})"""


def test_an_embed_in_another_origins_page_renders_resizes_and_its_controls_work(
    make_page, host_site
):
    p = make_page(width=800, height=700)
    page = p.page
    page.goto(host_site)
    frame = page.frame_locator("#lab")
    frame.locator("body[data-ready=true]").wait_for()
    inner = next(f for f in page.frames if "/embed/explore" in f.url)
    assert inner.evaluate("document.getElementById('plot-profile').data[0].x.length") == 31
    assert inner.evaluate("location.origin") != page.evaluate("location.origin")
    # the host script sets the iframe to the height the embed reports
    page.wait_for_function(f"() => {FRAME_HEIGHT} > 150")
    content = inner.evaluate(CONTENT_HEIGHT)
    page.wait_for_function(f"() => {FRAME_HEIGHT} === {content}")
    assert inner.evaluate("document.documentElement.scrollWidth") <= 480
    # a control inside works: the figure redraws, the embed's address keeps the state (in a
    # narrow frame the controls are folded into the summary bar, which opens them)
    frame.get_by_role("button", name="Change").click()
    frame.get_by_label("Sequence length", exact=True).fill("45")
    inner.wait_for_function("() => document.getElementById('plot-profile').data[0].x.length === 46")
    assert "seq_len=45" in inner.evaluate("location.href")
    # opening the cell selector's gate figures makes the embed taller; the frame follows
    frame.get_by_label("Cell", exact=True).select_option("lstm")
    inner.wait_for_function("() => !!document.getElementById('plot-gates')")
    taller = inner.evaluate(CONTENT_HEIGHT)
    assert taller > content
    page.wait_for_function(f"() => {FRAME_HEIGHT} === {taller}")
    assert p.errors == []


def test_a_page_not_meant_for_embedding_is_refused_in_a_frame(make_page, host_site):
    p = make_page()
    page = p.page
    page.goto(host_site.replace("course.html", "framed-page.html"))
    page.wait_for_function(
        "() => document.getElementById('page').contentWindow !== null"
        " && window.performance.getEntriesByType('resource').length > 0"
    )
    # the full page's CSP says frame-ancestors 'self': Chromium refuses to render it here
    wait_until(page, lambda: any("frame-ancestors" in e for e in p.errors), what=p.errors)
    assert not any("/explore" in f.url for f in page.frames[1:])
    # the same page as an embed renders in the same kind of frame (see the test above)
    page.goto(host_site)
    page.frame_locator("#lab").locator("body[data-ready=true]").wait_for()


def test_the_host_script_ignores_messages_not_from_its_iframes(make_page, host_site):
    p = make_page()
    page = p.page
    page.goto(host_site)
    page.frame_locator("#lab").locator("body[data-ready=true]").wait_for()
    page.wait_for_function(f"() => {FRAME_HEIGHT} > 150")
    before = page.evaluate(FRAME_HEIGHT)
    # messages are delivered in order: once the sentinel posted after the forged message has
    # arrived, the host script has handled (and must have ignored) the forged one
    page.evaluate(FORGE_THEN_SENTINEL)
    assert page.evaluate(FRAME_HEIGHT) == before


@pytest.mark.parametrize("width", [360, 480])
@pytest.mark.parametrize("name", ["explore", "compare", "cliff", "eigen"])
def test_embeds_fit_small_frames_without_horizontal_scrolling(make_page, name, width):
    p = make_page(width=width, height=700)
    page = p.open(f"/embed/{name}")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.locator("header.site").count() == 0
    for box in page.locator(".plot").all():
        b = box.bounding_box()
        assert b["x"] >= 0 and b["x"] + b["width"] <= width
    assert p.errors == []


def test_embed_without_controls_and_with_chosen_figures(make_page):
    p = make_page(width=480)
    page = p.open("/embed/compare?controls=none&figures=absolute")
    assert page.locator("#controls").is_hidden()
    assert page.evaluate("[...document.querySelectorAll('figure.fig')].map(f => f.id)") == [
        "figure-absolute"
    ]
    assert p.errors == []


def test_an_embeds_control_keeps_its_figures_and_controls_in_the_address(make_page):
    p = make_page(width=480)
    page = p.open("/embed/explore?figures=profile&controls=full")
    page.get_by_role("button", name="Change").click()  # a narrow embed folds its controls
    page.get_by_text("More controls").click()
    page.get_by_label("Initial state").select_option("random")
    page.wait_for_url(re.compile(r"h0=random&controls=full&figures=profile$"))
    # the redraw is done when the page records the query it drew
    wait_until(page, lambda: page.evaluate("document.body.dataset.query") == "h0=random")
    ids = page.evaluate("[...document.querySelectorAll('figure.fig')].map(f => f.id)")
    assert ids == ["figure-profile"]
    link = page.get_by_role("link", name="Open in BPTT Lab").get_attribute("href")
    assert link == "/explore?h0=random"
    assert p.errors == []


def test_share_copies_the_address(make_page, live_server):
    p = make_page()
    p.page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    page = p.open("/cliff?steps=20&start_w=4")
    page.get_by_role("button", name="Share", exact=True).click()
    page.get_by_role("status").filter(has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == page.url
    assert page.url.endswith("/cliff?steps=20&start_w=4")
    assert p.errors == []


def test_share_without_clipboard_selects_the_address_to_copy(make_page):
    p = make_page()
    p.page.add_init_script(
        "Object.defineProperty(navigator, 'clipboard', {value: {writeText: () =>"
        " Promise.reject(new Error('denied'))}})"
    )
    page = p.open("/eigen?seq_len=20")
    page.get_by_role("button", name="Share", exact=True).click()
    field = page.get_by_label("Link to this view")
    field.wait_for()
    assert field.input_value() == page.url
    assert page.evaluate("document.activeElement.id") == "share-url"
    assert p.errors == []


def test_the_embed_control_writes_the_snippet_for_the_current_state(make_page):
    p = make_page()
    page = p.open("/explore?seq_len=60")
    page.get_by_text("Embed", exact=True).click()
    code = page.get_by_label("HTML to paste")
    page.wait_for_function("() => document.getElementById('embed-code').value.includes('<iframe')")
    assert "/embed/explore?seq_len=60" in code.input_value()
    page.get_by_label("Controls in the embed").select_option("none")
    page.locator("#embed-figures").get_by_label("Gradient norm against distance").check()
    page.wait_for_function(
        "() => document.getElementById('embed-code').value.includes('figures=profile')"
    )
    snippet = code.input_value()
    assert "/embed/explore?seq_len=60&amp;controls=none&amp;figures=profile" in snippet
    assert "/static/js/embed-host.js" in snippet
    assert p.errors == []


def test_downloads_and_data_tables_follow_the_controls(make_page):
    p = make_page()
    page = p.open("/explore")
    page.get_by_label("Sequence length", exact=True).fill("12")
    page.wait_for_url(re.compile(r"seq_len=12"))
    page.wait_for_function("() => document.getElementById('plot-profile').data[0].x.length === 13")
    figure = page.locator("#figure-profile")
    page.wait_for_function(
        "() => document.querySelector('#figure-profile a[data-export=csv]').href.endsWith("
        "'/api/v1/gradient-flow/figures/profile.csv?seq_len=12')"
    )
    figure.get_by_text("Data table").click()
    page.wait_for_function(
        "() => document.querySelector('#figure-profile details').dataset.query === 'seq_len=12'"
    )
    assert figure.locator("table").first.locator("tbody tr").count() == 13
    with page.expect_download() as download:
        figure.get_by_role("button", name="PNG", exact=True).click()
    assert download.value.suggested_filename == "explore-profile-seq_len12.png"
    # a figure that appears later (gates of an LSTM) gets the same tools
    page.get_by_label("Cell", exact=True).select_option("lstm")
    page.locator("#figure-gates .main-svg").first.wait_for()
    href = page.locator("#figure-gates a[data-export=json]").get_attribute("href")
    assert href == "/api/v1/gradient-flow/figures/gates.json?cell=lstm&seq_len=12"
    assert p.errors == []


def test_the_export_works_from_file_with_the_network_blocked(make_page, tmp_path):
    export("explore", "seq_len=50", tmp_path)
    p = make_page(width=800)
    blocked = []

    def refuse(route):
        blocked.append(route.request.url)
        route.abort()

    p.page.context.route(re.compile(r"^https?://"), refuse)
    page = p.page
    page.goto((tmp_path / "index.html").as_uri())
    page.wait_for_selector("body[data-ready=true]")
    page.locator("#plot-profile .main-svg").first.wait_for()
    assert page.evaluate("document.getElementById('plot-profile').data[0].x.length") == 51
    before = page.evaluate("document.getElementById('plot-profile').data[0].y")
    page.get_by_label("Sequence length").select_option("100")
    page.wait_for_function("() => document.getElementById('plot-profile').data[0].x.length === 101")
    page.get_by_label("Weight scale").select_option("1.5")
    page.wait_for_function("() => document.body.dataset.point === 'seq_len=100&scale=1.5'")
    after = page.evaluate("document.getElementById('plot-profile').data[0].y")
    assert after[:51] != before
    assert "l = 100" in page.locator("#summary-profile").inner_text()
    assert page.locator(".modebar-btn[data-title='Share chart...']").count() == 0
    assert blocked == [] and p.errors == []
