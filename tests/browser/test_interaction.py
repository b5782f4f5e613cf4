"""Latest wins, in Chromium against a live server of its own: a fast sequence of changes while
a computation is in flight computes the first and the newest state only; the figures being
replaced are dimmed and the status above them gives the server's estimate, until the final
state is drawn. A connection closed while its request waits for a slot is not computed."""

import socket
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import uvicorn

from bpttlab.server import compute, estimates
from bpttlab.server.app import create_app
from bpttlab.server.schemas import GradientFlowQuery
from bpttlab.server.settings import Settings

from .conftest import Page, free_port, wait_until

START = {"hidden_size": 64, "seq_len": 500}


@pytest.fixture(scope="module")
def served():
    """A live server in a thread (as conftest's), one computing slot, and its app."""
    app = create_app(Settings(max_concurrent=1, max_queue=8))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def gate(monkeypatch):
    """The engine's gradient flow waits while the gate is closed (``gate.clear()``); ``calls``
    lists the configurations it was asked for."""
    gate, calls = threading.Event(), []
    gate.set()
    real = compute.gradient_flow

    def gradient_flow(config, **kwargs):
        calls.append(config)
        gate.wait(60)
        return real(config, **kwargs)

    monkeypatch.setattr(compute, "gradient_flow", gradient_flow)
    gate.calls = calls
    yield gate
    gate.set()


@pytest.fixture
def open_page(browser, served):
    base, _ = served
    contexts = []

    def make(path):
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        context.set_default_timeout(60_000)  # a busy machine
        contexts.append(context)
        page = Page(context.new_page(), base)
        page.figure_requests = []
        page.page.on(
            "request", lambda r: "/figures?" in r.url and page.figure_requests.append(r.url)
        )
        page.open(path)
        return page

    yield make
    for c in contexts:
        c.close()


# Set each control's value and dispatch `input`, all in one task (faster than the debounce).
CHANGE = """
(changes) => {
  for (const [id, value] of changes) {
    const el = document.getElementById(id);
    el.value = String(value);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }
}
"""

PROGRESS = """
() => ({
  dimmed: document.querySelectorAll(".figures figure.fig.computing").length,
  figures: document.querySelectorAll(".figures figure.fig").length,
  busy: document.querySelector(".figures").getAttribute("aria-busy"),
  status: document.getElementById("status").textContent,
  live: document.getElementById("status").getAttribute("aria-live"),
  overlay: [...document.querySelectorAll(".figures figure.fig")].map((f) => f.dataset.progress),
  stale: document.getElementById("controls").dataset.stale || null,
  drawn: document.body.dataset.query || null,
  label: document.getElementById("controls").dataset.label,
})
"""


def test_a_fast_sequence_of_changes_computes_the_first_and_the_newest(
    open_page, served, gate, monkeypatch
):
    _, app = served
    runtime = app.state.runtime
    page = open_page(f"/explore?{urlencode(START)}")
    p = page.page
    # a server calibrated on a machine 100 times as slow expects START to take 2 to 3 s
    monkeypatch.setitem(
        estimates.RATE, "GradientFlowQuery", 100 * estimates.RATE["GradientFlowQuery"]
    )
    before, engine_calls = runtime.started, len(gate.calls)
    gate.clear()
    p.evaluate(CHANGE, [["scale-slider", 1.05]])
    wait_until(p, lambda: runtime.started == before + 1, what="the first change computing")

    # while it computes: every figure dimmed, the status above them with the estimate
    wait_until(p, lambda: "about" in p.evaluate(PROGRESS)["status"], what="the estimate shown")
    shown = p.evaluate(PROGRESS)
    assert shown["dimmed"] == shown["figures"] > 0
    assert shown["busy"] == "true" and shown["live"] == "polite"
    assert shown["status"].startswith("Computing, about ") and shown["status"].endswith(" s...")
    assert all(o.startswith("Computing, about ") for o in shown["overlay"])
    status_box = p.locator("#status").bounding_box()
    figures_box = p.locator(".figures").bounding_box()
    # at the top edge of the figures, in their column (not the controls')
    assert abs(status_box["y"] - figures_box["y"]) < 40
    assert figures_box["x"] <= status_box["x"]
    assert status_box["x"] + status_box["width"] <= figures_box["x"] + figures_box["width"]

    # more changes while it is in flight: the page only notes that it is stale
    p.evaluate(
        CHANGE,
        [["scale-slider", 1.1], ["scale-slider", 1.15], ["scale-slider", 1.2], ["seq_len", 450]],
    )
    wait_until(p, lambda: p.evaluate(PROGRESS)["stale"] == "true", what="the page stale")
    assert len(page.figure_requests) == 1 and runtime.started == before + 1
    assert len(gate.calls) == engine_calls + 1  # and the engine one computation

    gate.set()
    final = GradientFlowQuery(**{**START, "scale": 1.2, "seq_len": 450}).query_string()
    wait_until(
        p,
        lambda: p.evaluate(PROGRESS)["drawn"] == final and not p.evaluate(PROGRESS)["dimmed"],
        timeout=60,
        what=("the final state drawn", final),
    )
    assert runtime.started == before + 2, "only the first and the newest state are computed"
    assert [(c.scale, c.seq_len) for c in gate.calls[engine_calls:]] == [(1.05, 500), (1.2, 450)]
    assert runtime.skipped_gone == 0
    sent = [dict(parse_qsl(urlsplit(url).query)) for url in page.figure_requests]
    assert sent == [
        {"hidden_size": "64", "seq_len": "500", "scale": "1.05"},
        {"hidden_size": "64", "seq_len": "450", "scale": "1.2"},
    ]

    # the figure drawn is the final state's: the address, the form and the profile's axis
    done = p.evaluate(PROGRESS)
    assert done["busy"] == "false" and done["status"] == "" and done["stale"] is None
    assert all(o is None for o in done["overlay"])
    assert p.locator(".figures").bounding_box() == figures_box  # the page did not move
    assert p.evaluate("() => location.search") == f"?{final}"
    assert p.evaluate("() => document.getElementById('controls').dataset.query") == final
    assert done["label"] is not None  # set (empty until the /figures body carries a label)
    last_x = p.evaluate(
        "() => Math.max(...document.getElementById('plot-profile').data.flatMap((t) => t.x || []))"
    )
    assert last_x == 450
    assert page.errors == [] and page.csp_violations() == []


def test_a_change_back_to_the_state_in_flight_asks_nothing_more(open_page, served, gate):
    _, app = served
    runtime = app.state.runtime
    page = open_page("/explore?seq_len=60&seed=3")
    p = page.page
    before = runtime.started
    gate.clear()
    p.evaluate(CHANGE, [["seq_len", 61]])
    wait_until(p, lambda: runtime.started == before + 1, what="computing seq_len 61")
    p.evaluate(CHANGE, [["seq_len", 62], ["seq_len", 61]])
    wait_until(p, lambda: p.evaluate(PROGRESS)["stale"] == "true", what="the page stale")
    gate.set()
    final = GradientFlowQuery(seq_len=61, seed=3).query_string()
    wait_until(p, lambda: p.evaluate(PROGRESS)["drawn"] == final, what="seq_len 61 drawn")
    wait_until(p, lambda: p.evaluate(PROGRESS)["stale"] is None, what="the page up to date")
    assert len(page.figure_requests) == 1 and runtime.started == before + 1


def test_a_connection_closed_while_queued_is_not_computed(served, gate):
    """Through uvicorn: with the only slot held, a GET waits; its client closes the
    connection; when the slot frees, the request gives it back without computing."""
    base, app = served
    runtime = app.state.runtime
    limiter = runtime.limiter
    host, port = base.removeprefix("http://").split(":")
    gate.clear()
    started, skipped = runtime.started, runtime.skipped_gone

    def get(query):
        s = socket.create_connection((host, int(port)))
        s.sendall(f"GET /api/v1/gradient-flow/figures?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return s

    holder = get("seq_len=30&seed=101")
    wait_until_admitted(limiter, 1)
    leaver = get("seq_len=30&seed=102")
    wait_until_admitted(limiter, 2)
    leaver.close()
    # the watch sees the disconnect; the request leaves the queue while the slot is held
    wait_until_admitted(limiter, 1)
    assert runtime.skipped_gone == skipped + 1
    gate.set()
    holder.settimeout(30)
    assert holder.recv(12).startswith(b"HTTP/1.1 200")
    holder.close()
    deadline = time.monotonic() + 10
    while limiter.admitted:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert runtime.started == started + 1 and runtime.skipped_gone == skipped + 1
    assert [c.seed for c in gate.calls] == [101]


def wait_until_admitted(limiter, count: int) -> None:
    deadline = time.monotonic() + 10
    while limiter.admitted != count:
        assert time.monotonic() < deadline, f"{limiter.admitted} admitted, not {count}"
        time.sleep(0.01)


RECORD_DRAWS = """
() => {
  window.draws = [];
  document.addEventListener("bpttlab:drawn", () => {
    window.draws.push(document.getElementById("controls").dataset.query);
  });
}
"""


def test_a_slider_released_drops_the_request_for_a_state_it_left(open_page, served, gate):
    """On release (`change`) the page does not wait for the answer to a state it has left:
    it asks for the final state at once and never draws the dropped one."""
    _, app = served
    runtime = app.state.runtime
    page = open_page("/explore?seq_len=80&seed=5")
    p = page.page
    p.evaluate(RECORD_DRAWS)
    before = runtime.started
    gate.clear()
    p.evaluate(CHANGE, [["scale-slider", 1.05]])
    wait_until(p, lambda: runtime.started == before + 1, what="scale 1.05 computing")
    p.evaluate(CHANGE, [["scale-slider", 1.3]])
    assert len(page.figure_requests) == 1
    p.evaluate(
        "() => document.getElementById('scale-slider')"
        ".dispatchEvent(new Event('change', { bubbles: true }))"
    )
    wait_until(p, lambda: len(page.figure_requests) == 2, what="the final state asked at once")
    assert "scale=1.3" in page.figure_requests[1]
    gate.set()
    final = GradientFlowQuery(seq_len=80, seed=5, scale=1.3).query_string()
    wait_until(p, lambda: p.evaluate(PROGRESS)["drawn"] == final, what="scale 1.3 drawn")
    wait_until(p, lambda: not p.evaluate(PROGRESS)["dimmed"], what="nothing dimmed")
    assert p.evaluate("() => window.draws") == [final]  # the dropped answer was not drawn
    assert runtime.started == before + 2 and len(page.figure_requests) == 2
    assert page.errors == [f"failed: {page.figure_requests[0]}"]  # the dropped one, only
