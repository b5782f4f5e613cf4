"""Claim 6 (clipping keeps the step): the exact default link /cliff shows the lecture's
picture, and every cliff caption is true of its numbers over many configurations."""

import re

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpttlab.engine.cliff import CliffConfig, cliff_surface, clip_geometry, descend
from bpttlab.server.figures.cliff import cliff_figures, cliff_numbers
from bpttlab.server.schemas import CliffQuery

from .conftest import strict_json

NAMES = {"none": "unclipped", "norm": "clipped by norm", "value": "clipped by value"}


def _thrown_at(steps: np.ndarray, bound: float, factor: float = 10.0, window: int = 5):
    """The page's definition, written out: the first step (1-based) longer than factor x the
    median of the up to `window` steps before it and longer than `bound`."""
    for i in range(1, len(steps)):
        if steps[i] > factor * np.median(steps[max(0, i - window) : i]) and steps[i] > bound:
            return i + 1
    return None


def test_the_default_link_shows_a_throw_and_clipping_staying_on_course(client, page_client):
    page = page_client.get("/cliff")
    assert page.context["query"] == CliffQuery()  # the link carries no query: the defaults
    body = strict_json(client.get("/api/v1/cliff").text)
    lr, c = body["config"]["learning_rate"], body["config"]["clip_threshold"]
    paths = body["descent"]
    loss = {m: np.array(p["loss"]) for m, p in paths.items()}
    median = {m: float(np.median(x[-20:])) for m, x in loss.items()}
    # the clipped descent ends lower, by the median of its last 20 iterations
    assert median["norm"] < median["none"]
    assert median["norm"] < 0.1 * median["none"]
    # the unclipped run is thrown off the wall, by the stated definition
    steps = np.array(paths["none"]["step_length"])
    k = _thrown_at(steps, np.sqrt(2) * lr * c)
    assert k is not None and paths["none"]["diverged_at"] is None
    assert paths["none"]["outcome"]["thrown_at"] == k
    # ... onto a plateau: it hardly moves afterwards, at a loss far above the clipped run's
    assert steps[-19:].sum() < 1e-3 and median["none"] > 0.01
    assert paths["none"]["outcome"]["plateau"] is True
    # clipping by norm never takes a step longer than threshold x learning rate
    assert max(paths["norm"]["step_length"]) <= c * lr
    assert paths["norm"]["outcome"]["thrown_at"] is None
    # the API's outcome numbers are these
    for m in paths:
        assert paths[m]["outcome"]["median_loss_last"] == median[m]
        assert paths[m]["outcome"]["best_loss_last"] == float(loss[m][-20:].min())
    # and the page says so
    numbers = {n["name"]: n["value"] for n in page.context["numbers"]}
    assert numbers["outcome-none"].startswith(f"thrown off the wall at step {k} ")
    assert numbers["outcome-none"].endswith(f"stuck on a plateau at loss {median['none']:.3g}")
    assert numbers["outcome-norm"].startswith(f"ends at loss {median['norm']:.3g} ")


def _check_captions(d, figures: dict, numbers: dict) -> None:
    lr_c = d.step_bound
    for mode, p in d.paths.items():
        o = d.outcomes[mode]
        tail = min(20, p.loss.size)
        med = float(np.median(p.loss[-tail:]))
        words, short = figures["surface"], numbers[f"outcome-{mode}"]
        words = words[words.index(f"{NAMES[mode]}: ") :].split("; clipped by")[0]
        k = _thrown_at(p.step_length, np.sqrt(2) * lr_c)
        assert (f"thrown off the wall at step {k} " in words) == (k is not None), words
        assert (f"thrown off the wall at step {k} " in short) == (k is not None), short
        if mode != "none":
            assert k is None  # clipping: never thrown
        moved = float(p.step_length[-(tail - 1) :].sum()) if tail > 1 else 0.0
        stalled = tail > 1 and moved < 1e-3
        if p.diverged_at is not None:
            assert f"diverged at step {p.diverged_at} " in words
            assert short.endswith(f"diverged at step {p.diverged_at}")
            continue
        for text in (words, short):
            assert ("plateau" in text) == (stalled and med > 0.01), text
            assert ("settled" in text) == (stalled and med <= 0.01), text
            assert f"at loss {med:.3g}" in text
        assert f"at loss {med:.3g} (the median of its last {tail} iterations" in words
        assert f" {med:.3g} ({o.best_loss:.3g})" in figures["loss"]
    loss_caption = figures["loss"]
    a = float(np.median(d.paths["none"].loss[-20:]))
    b = float(np.median(d.paths["norm"].loss[-20:]))
    if d.paths["none"].diverged_at is None:
        assert ("ends higher than unclipped" in loss_caption) == (b > a)
        lower = re.search(r"Clipping by norm ends ([0-9.e+-]+) times lower", loss_caption)
        assert (lower is not None or "ends at 0" in loss_caption) == (b < a)
        if lower:
            assert float(lower.group(1)) == float(f"{a / b:.3g}")
    steps = figures["steps"]
    for p in d.paths.values():
        if p.step_length.size:
            assert f"at most {p.step_length.max():.3g}" in steps
    assert f"= {lr_c:.3g}." in steps


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seq_len=st.integers(2, 40),
    start=st.tuples(st.floats(1.0, 10.0), st.floats(-7.0, 7.0)),
    lr=st.floats(0.01, 5.0),
    threshold=st.floats(0.05, 5.0),
    steps=st.integers(0, 60),
)
def test_cliff_captions_are_true_of_their_numbers(seq_len, start, lr, threshold, steps):
    surface = cliff_surface(CliffConfig(seq_len=seq_len, resolution=11))
    d = descend(surface.config, start, lr, steps, threshold)
    _check_captions(d, *_captions(surface, d))


def _captions(surface, d) -> tuple[dict, dict]:
    geo = clip_geometry(surface.config, d.clip_point, d.clip_threshold)
    figures = {f["name"]: f["summary"] for f in cliff_figures(surface, d, geo)}
    return figures, {n["name"]: n["value"] for n in cliff_numbers(d, geo)}


def test_captions_of_a_diverging_and_a_settled_run():
    settled = descend(CliffConfig(), (2.0, -0.5), learning_rate=0.5, steps=300)
    assert settled.outcomes["none"].stalled
    diverging = descend(CliffConfig(seq_len=50, b_max=1.0), (5.0, -2.6123), 1e5, 20, 1.0)
    assert diverging.paths["none"].diverged_at is not None
    surface = cliff_surface(CliffConfig(resolution=11))
    for d in (settled, diverging):
        _check_captions(d, *_captions(surface, d))
