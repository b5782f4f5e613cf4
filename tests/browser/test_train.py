"""/train in Chromium: a configuration in the address starts its job, the progress bar and
the figures follow it to the end; Cancel stops a long one; a finished configuration replays
from the cache; a sweep runs to the end with its accuracy-vs-L figure growing to every point;
a refused sweep is named next to its field; axe finds nothing serious (one run and sweep, on
a laptop and a phone); nothing leaves the machine."""

from urllib.parse import urlencode

import pytest

from bpttlab.server.train_page import sweep_query

from .conftest import wait_until
from .test_a11y import AXE_FILE, assert_no_blocking, audit


@pytest.fixture(scope="module")
def axe_js() -> str:
    assert AXE_FILE.is_file(), f"{AXE_FILE} is missing: `make axe` (part of `make test`)"
    return AXE_FILE.read_text(encoding="utf-8")


SMALL = {"task": "recall", "length": 6, "cell": "gru", "hidden_size": 8, "steps": 40,
         "batch_size": 16, "profile_every": 10, "eval_size": 32}  # fmt: skip
LONG = {**SMALL, "hidden_size": 64, "steps": 5000, "batch_size": 64, "length": 40, "seed": 7}


def _status(page) -> str:
    return page.evaluate("document.getElementById('train-status').textContent")


def _figures(page) -> list[str]:
    return page.evaluate(
        """() => [...document.querySelectorAll('#figures figure.fig')]
          .filter((f) => f.querySelector('.main-svg') !== null).map((f) => f.id)"""
    )


def test_an_address_starts_its_job_and_the_page_follows_it_to_the_end(make_page):
    p = make_page()
    page = p.open("/train?" + urlencode(SMALL))
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 60, "end")
    assert _status(page).startswith("Ended: finished")
    assert _figures(page) == ["figure-loss", "figure-gradient", "figure-profile"]
    bar = "document.getElementById('train-bar')"
    value, maximum = page.evaluate(f"[{bar}.value, {bar}.max]")
    assert value == maximum == SMALL["steps"]
    caption = page.evaluate("document.querySelector('#figure-loss figcaption').textContent")
    assert caption.startswith(f"After {SMALL['steps']} of {SMALL['steps']} steps")
    assert p.errors == [] and p.foreign == [] and p.csp_violations() == []
    # the same address again: answered from the server's cache at once
    page = p.open("/train?" + urlencode(SMALL))
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 10, "replay")
    assert "replayed from the server's cache" in _status(page)


def test_cancel_stops_a_long_run(make_page):
    p = make_page()
    page = p.open("/train?" + urlencode(LONG))
    wait_until(page, lambda: "step" in _status(page), 30, "progress")
    page.click("#train-cancel")
    wait_until(page, lambda: _status(page).startswith("Ended"), 10, "cancelled")
    assert _status(page) == "Ended: cancelled."
    assert page.evaluate("document.getElementById('train-cancel').disabled") is True


def test_axe_finds_no_serious_violation_on_the_training_page(make_page, axe_js):
    p = make_page()
    page = p.open("/train?" + urlencode({**SMALL, "seed": 3}))
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 60, "end")
    assert_no_blocking("/train", audit(p, axe_js))


def test_axe_on_a_phone(make_page, axe_js):
    p = make_page(width=390, height=844)
    page = p.open("/train?" + urlencode({**SMALL, "seed": 4}))
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 60, "end")
    assert_no_blocking("/train on a phone", audit(p, axe_js))


# 4 runs of 150 steps at hidden 16: a few tenths of a second each, so the figure is asked for
# while the sweep runs
SWEEP = {**SMALL, "hidden_size": 16, "steps": 150, "profile_every": 50, "seed": 5}
SWEEP_CELLS, SWEEP_LENGTHS = ("rnn", "gru"), (5, 10)

# what the status line and the sweep figure's caption said, every time they changed
RECORD_CHANGES = """
window.seen = {status: [], captions: []};
new MutationObserver(() => {
  const s = document.getElementById("train-status");
  const c = document.querySelector("#figure-sweep figcaption");
  if (s && s.textContent !== window.seen.status.at(-1)) window.seen.status.push(s.textContent);
  if (c && c.textContent && c.textContent !== window.seen.captions.at(-1)) {
    window.seen.captions.push(c.textContent);
  }
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def _sweep_points(page) -> list[list]:
    return page.evaluate(
        "document.getElementById('plot-sweep').data.map((d) => d.x.map((x, i) => [x, d.y[i]]))"
    )


def test_a_sweep_runs_to_the_end_its_figure_growing_to_every_point(make_page):
    p = make_page()
    p.page.add_init_script(RECORD_CHANGES)
    page = p.open("/train?" + sweep_query(SWEEP, SWEEP_CELLS, SWEEP_LENGTHS))
    assert page.evaluate("document.getElementById('lengths').value") == "5,10"
    checked = "[...document.querySelectorAll('input[name=cells]:checked')].map((e) => e.value)"
    assert page.evaluate(checked) == ["rnn", "gru"]
    assert page.evaluate("document.getElementById('cell').offsetParent") is None  # the sweep's
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 90, "end")
    assert _status(page) == "Ended: finished."
    assert _figures(page) == ["figure-sweep"]
    points = _sweep_points(page)
    assert [[x for x, _ in trace] for trace in points] == [[5, 10], [5, 10]]
    assert all(0 <= y <= 1 for trace in points for _, y in trace)
    bar = "document.getElementById('train-bar')"
    value, maximum = page.evaluate(f"[{bar}.value, {bar}.max]")
    assert value == maximum == SWEEP["steps"] * 4
    seen = page.evaluate("window.seen")
    # the progress covered the whole sweep, run by run, with the time left
    runs = [s for s in seen["status"] if s.startswith("Training: run ")]
    assert runs and all(" of 4 (" in s and "s left." in s for s in runs)
    assert any(s.startswith("Training: run 4 of 4 (GRU, L = 10), step ") for s in runs)
    # the figure grew: a caption with fewer runs ended came before the last one
    captions = seen["captions"]
    assert captions[-1].startswith("4 of 4 runs finished.")
    assert any(c.split(" of 4 runs")[0] in ("1", "2", "3") for c in captions[:-1]), captions
    assert p.errors == [] and p.foreign == [] and p.csp_violations() == []
    # the address the page wrote, reopened: replayed from the cache with every point
    address = page.url
    assert "mode=sweep" in address and "cells=rnn,gru" in address and "lengths=5,10" in address
    page = p.open(address.removeprefix(p.base))
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 10, "replay")
    assert "replayed from the server's cache" in _status(page)
    assert _sweep_points(page) == points


def test_a_refused_sweep_is_named_next_to_its_field(make_page):
    p = make_page()
    page = p.open("/train?" + sweep_query(SWEEP, SWEEP_CELLS, (5, 10)))
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 90, "end")
    page.fill("#lengths", "5,10,5")
    page.click("#train-start")
    error = "document.getElementById('lengths-error')"
    wait_until(page, lambda: page.evaluate(f"!{error}.hidden"), 10, "the field's message")
    assert page.evaluate(f"{error}.textContent") == "each length once: 5 is listed twice"
    assert page.evaluate("document.getElementById('lengths').getAttribute('aria-invalid')") == (
        "true"
    )
    assert "see the message next to the sweep" in _status(page)
    # one-run mode hides the sweep's fields and shows the single run's cell again
    page.check("input[name=mode][value=run]")
    assert page.evaluate("document.getElementById('sweep-group').hidden") is True
    assert page.evaluate("document.getElementById('cell').offsetParent") is not None


@pytest.mark.parametrize(("width", "height"), [(1366, 768), (390, 844)])
def test_axe_on_a_finished_sweep(make_page, axe_js, width, height):
    p = make_page(width=width, height=height)
    page = p.open("/train?" + sweep_query({**SWEEP, "seed": 6}, SWEEP_CELLS, SWEEP_LENGTHS))
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 90, "end")
    assert _figures(page) == ["figure-sweep"]
    assert_no_blocking(f"/train sweep at {width}x{height}", audit(p, axe_js))
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_the_embed_runs_a_sweep_in_a_narrow_frame_without_the_sites_frame(make_page, axe_js):
    p = make_page(width=480, height=800)
    query = sweep_query({**SWEEP, "seed": 7}, SWEEP_CELLS, SWEEP_LENGTHS)
    page = p.open("/embed/train?" + query)
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 90, "end")
    assert page.evaluate("document.querySelector('header.site, footer.site')") is None
    assert _figures(page) == ["figure-sweep"]
    assert [[x for x, _ in trace] for trace in _sweep_points(page)] == [[5, 10], [5, 10]]
    assert page.evaluate("document.documentElement.scrollWidth") <= 480
    # the settings other than the sweep's are folded away, and kept in the address
    assert page.evaluate("document.querySelector('details.train-more').open") is False
    assert page.url.startswith(p.base + "/embed/train?") and "seed=7" in page.url
    assert_no_blocking("/embed/train sweep", audit(p, axe_js))
    assert p.errors == [] and p.foreign == [] and p.csp_violations() == []


def test_on_a_phone_the_settings_start_folded_and_the_figure_comes_sooner(make_page):
    p = make_page(width=390, height=844)
    page = p.open("/train?" + sweep_query({**SWEEP, "seed": 6}, SWEEP_CELLS, SWEEP_LENGTHS))
    wait_until(page, lambda: page.evaluate("document.body.dataset.ended") == "true", 90, "end")
    assert page.evaluate("document.querySelector('details.train-settings').open") is False
    assert page.evaluate("document.getElementById('steps').checkVisibility()") is False
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # opened, every setting is there with the address's values
    page.click("details.train-settings > summary")
    assert page.evaluate("document.getElementById('steps').checkVisibility()") is True
    assert page.evaluate("document.getElementById('steps').value") == str(SWEEP["steps"])
    # on a laptop they are shown from the start
    wide = make_page().open("/train")
    assert wide.evaluate("document.querySelector('details.train-settings').open") is True
