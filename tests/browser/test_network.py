"""/network in headless Chromium: it renders its maps, a control redraws them and the URL,
the movie preset labels the steps with its words, and the embed works in a page of another
origin. Conditions are polled with page.evaluate (the pages' CSP refuses eval)."""

import functools
import re
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .conftest import free_port, wait_until

pytestmark = pytest.mark.browser

ROWS = "document.getElementById('plot-layer_time').data[0].z.length"
COLS = "document.getElementById('plot-influence').data[0].z.length"


def test_network_renders_its_maps(make_page):
    p = make_page()
    page = p.open("/network")
    for name in ("layer_time", "influence", "terms"):
        wait_until(
            page,
            lambda n=name: page.evaluate(
                f"(() => {{ const el = document.getElementById('plot-{n}');"
                " return !!(el && el.data && el.querySelector('.main-svg')); })()"
            ),
            what=name,
        )
    assert page.evaluate(ROWS) == 2 and page.evaluate(COLS) == 20
    assert page.locator("#summary-layer_time").inner_text().startswith("Loss at every step")
    assert p.errors == [] and p.csp_violations() == [] and p.foreign == []


def test_a_control_redraws_and_updates_the_url(make_page):
    p = make_page()
    page = p.open("/network")
    page.get_by_label("Layers", exact=True).fill("4")
    wait_until(page, lambda: page.evaluate(ROWS) == 4, what="4 layers drawn")
    page.wait_for_url(re.compile(r"num_layers=4"))
    caption = page.locator("#summary-layer_time").inner_text()
    assert "at the top layer (4)" in caption
    page.get_by_label("Bidirectional").check()
    wait_until(
        page,
        lambda: page.evaluate("document.getElementById('plot-influence').data.length") == 2,
        what="two directions",
    )
    assert page.locator("#plot-influence_union").count() == 1
    assert "bidirectional=true" in page.url
    assert p.errors == []


def test_the_movie_preset_labels_the_steps_with_its_words(make_page):
    p = make_page()
    page = p.open("/network?num_layers=1&bidirectional=true&seq_len=5&labels=movie")
    ticks = page.evaluate(
        "Array.from(document.querySelectorAll('#plot-influence .xtick text'))"
        ".map((t) => t.textContent)"
    )
    assert ticks[:5] == ["the", "movie", "was", "terribly", "exciting"]
    assert '("terribly")' in page.locator("#summary-influence").inner_text()
    assert p.errors == []


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def host_page(tmp_path, live_server):
    (tmp_path / "course.html").write_text(
        f"""<!doctype html><html><head><title>Course</title>
<link rel="icon" href="data:,"></head><body>
<h1>Lecture 8: deep and bidirectional RNNs</h1>
<iframe id="lab" src="{live_server}/embed/network?num_layers=4&controls=compact"
        title="BPTT Lab" width="640" height="600"></iframe>
<script src="{live_server}/static/js/embed-host.js"></script>
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


def test_the_embed_works_in_a_page_of_another_origin(make_page, host_page):
    p = make_page()
    page = p.page
    page.goto(host_page)
    frame = page.frame_locator("#lab")
    rows = "document.getElementById('plot-layer_time').data[0].z.length"

    def frame_eval(script):
        f = page.frame(url=re.compile(r"/embed/network"))
        return None if f is None else f.evaluate(script)

    wait_until(page, lambda: frame_eval("document.body.dataset.ready") == "true", what="ready")
    assert frame_eval(rows) == 4
    layers = frame.get_by_label("Layers", exact=True)
    layers.fill("2")
    wait_until(page, lambda: frame_eval(rows) == 2, what="the embed redraws")
    assert p.errors == [] and p.csp_violations() == []
