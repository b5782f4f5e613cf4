"""/train in Chromium: a configuration in the address starts its job, the progress bar and
the figures follow it to the end; Cancel stops a long one; a finished configuration replays
from the cache; axe finds nothing serious; nothing leaves the machine."""

from urllib.parse import urlencode

import pytest

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
