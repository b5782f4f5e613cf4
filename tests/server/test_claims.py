"""The home page's path through the lectures' argument: every claim's link, and the claim held
against the API's numbers for that link's exact query.

The links are parsed from the rendered home page, so a changed link is tested as it now is
(or fails here). Each ``data-claim`` names the assertion below; every claim 1..9 has a link.
Claims 4, 5 and 6 are tested for their numbers with /explore and /cliff; here their links are
held to the agreed URLs.
"""

from __future__ import annotations

import math
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from bpttlab.server.catalog import VIEWS

from .conftest import strict_json

AGREED = {  # the URLs the views' engineers make true and test
    "4": "/explore?nonlinearity=relu&init=identity&scale=1.1",
    "5": "/explore?scale=3",
    "6": "/cliff",
}
TIGHT = 1e-9  # log10 tolerance for identities that hold to rounding


class Links(HTMLParser):
    """The page's links: (data-claim or None, href, text)."""

    def __init__(self):
        super().__init__()
        self.links: list[list] = []
        self._open: list | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            a = dict(attrs)
            self._open = [a.get("data-claim"), a.get("href"), ""]
            self.links.append(self._open)

    def handle_data(self, data):
        if self._open is not None:
            self._open[2] += data

    def handle_endtag(self, tag):
        if tag == "a":
            self._open = None


def page_links(client, path="/") -> list[tuple[str | None, str, str]]:
    parser = Links()
    parser.feed(client.get(path).text)
    return [(claim, href, " ".join(text.split())) for claim, href, text in parser.links]


@pytest.fixture(scope="module")
def claim_links(client) -> list[tuple[str, str]]:
    return [(claim, href) for claim, href, _ in page_links(client) if claim is not None]


def api_body(client, href: str) -> dict:
    """The API's answer for the page at ``href``, with its exact query."""
    parts = urlsplit(href)
    view = VIEWS[parts.path.strip("/")]
    r = client.get(f"{view.api}?{parts.query}" if parts.query else view.api)
    assert r.status_code == 200, (href, r.text)
    return strict_json(r.text)


def query_of(href: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(href).query).items()}


def finite_profile(values) -> np.ndarray:
    return np.array([-math.inf if v is None else v for v in values], dtype=float)


# -- the assertions, one per kind of claim ----------------------------------------------------


def product_of_equal_steps(body, href):
    """1: W_hh = s Q, phi = identity: every step's Jacobian is W_hh, whose norm is s; the
    norm over l steps is s^l exactly, the product of the per-step norms (and the bound)."""
    assert body["config"]["nonlinearity"] == "identity"
    singular = np.array(body["spectrum"]["singular_values"])
    # a rotation scaled by the link's scale: every singular value is the scale
    np.testing.assert_allclose(singular, float(query_of(href)["scale"]), rtol=1e-12)
    per_step = math.log10(body["spectrum"]["spectral_norm"])
    assert per_step < 0  # "shrunk"
    profile = finite_profile(body["log10_norm"]["spectral"])
    ls = np.arange(len(profile))
    np.testing.assert_allclose(profile, ls * per_step, atol=TIGHT)
    np.testing.assert_allclose(profile, body["log10_bound"], atol=TIGHT)


def below_the_product_of_step_bounds(body, href):
    """1: in general the measured profile lies below the product of the per-step bounds
    gamma sigma_max (Pascanu's bound), and far below at the end."""
    profile = finite_profile(body["log10_norm"]["spectral"])
    bound = np.array(body["log10_bound"])
    s = body["summary"]
    np.testing.assert_allclose(bound[1], math.log10(s["gamma_sigma_max"]), atol=TIGHT)
    assert np.all(profile <= bound + TIGHT)
    assert bound[-1] - profile[-1] > 1


def _eigen_rate(body):
    """Direct and expanded norms agree; the growth per step at the end is log10 rho, rho the
    largest |lambda| of the returned eigenvalues. Returns (|lambda|s, final log10 ||g_T||)."""
    lam = np.hypot(body["eigenvalues"]["real"], body["eigenvalues"]["imag"])
    assert body["spectral_radius"] == pytest.approx(lam.max(), rel=1e-12)
    assert body["max_relative_difference"] < 1e-9
    direct = np.array(body["log10_direct"])
    np.testing.assert_allclose(body["log10_expansion"], direct, atol=1e-9)
    last = 20
    rate = (direct[-1] - direct[-1 - last]) / last
    assert rate == pytest.approx(math.log10(lam.max()), abs=1e-3)
    return lam, direct[-1]


def linear_vanishes(body, href):
    """2: every |lambda| < 1, and the gradient falls by more than three decades."""
    lam, final = _eigen_rate(body)
    assert lam.max() < 1 and final < -3


def linear_explodes(body, href):
    """2: an |lambda| > 1, and the gradient grows by more than three decades."""
    lam, final = _eigen_rate(body)
    assert lam.max() > 1 and final > 3


def transient_growth(body, href):
    """2: every |lambda| < 1, yet ||g_l|| first grows above ||g_0|| = 1, then vanishes."""
    lam = np.hypot(body["eigenvalues"]["real"], body["eigenvalues"]["imag"])
    direct = np.array(body["log10_direct"])
    assert lam.max() < 1 and body["transient_growth"] is True
    assert direct[0] == pytest.approx(0, abs=TIGHT) and direct[1:].max() > 0
    assert direct[-1] < direct[1:].max()


def sigmoid_guarantee(body, href):
    """3: gamma = 1/4 (sigmoid), sigma_max above 3, gamma sigma_max < 1: vanishing is
    guaranteed, and the profile does vanish, below the bound."""
    s, spectrum = body["summary"], body["spectrum"]
    assert body["config"]["nonlinearity"] == "sigmoid"
    assert s["gamma"] == 0.25 and spectrum["spectral_norm"] > 3
    assert s["gamma_sigma_max"] == pytest.approx(0.25 * spectrum["spectral_norm"], rel=1e-12)
    assert s["gamma_sigma_max"] < 1 and s["vanishing_guaranteed"] is True
    assert s["regime"] == "vanishing"
    profile = finite_profile(body["log10_norm"]["spectral"])
    assert np.all(profile <= np.array(body["log10_bound"]) + TIGHT)
    assert profile[-1] < -3


def horizon_or_beyond(body, cell: str) -> int:
    """A cell's memory horizon; null (not within the sequence) counts as seq_len."""
    h = body["cells"][cell]["memory_horizon"]
    return body["config"]["seq_len"] if h is None else h


def gate_keeps_memory(cell: str, gate: str, kept_from_mean):
    """7, 8: the cell's keep gate averages near "keep" (carries >= 0.9 of its state per step)
    and its memory horizon is hundreds of steps, at least ten times the RNN's, which forgets
    within a few dozen."""

    def check(body, href):
        c = body["cells"][cell]
        assert c["keep_gate"] == gate
        assert c["kept_per_step"] == pytest.approx(kept_from_mean(c["gate_means"][gate]))
        assert c["kept_per_step"] >= 0.9
        rnn = horizon_or_beyond(body, "rnn")
        assert body["cells"]["rnn"]["memory_horizon"] is not None and rnn <= 60
        assert horizon_or_beyond(body, cell) >= max(10 * rnn, 200)

    return check


def truncation_drops_far_terms(body, href):
    """9: the window of the link; the error of truncating there is the dropped tail's, at
    most the sum of the dropped terms' norms over the full gradient's norm; a window of 10
    misses more than a tenth, a window reaching the gradient horizon less than 1e-3."""
    tau = int(query_of(href)["truncation"])
    t, s = body["truncation"], body["summary"]
    assert t["window"] == tau == 10
    errors = dict(zip(t["taus"], t["relative_error"], strict=True))
    assert t["relative_error_at_window"] == errors[tau] > 0.1
    terms = [10.0**v for v in body["gradient"]["log10_contribution"][tau:] if v is not None]
    assert errors[tau] <= sum(terms) / 10.0 ** t["log10_full_norm"] * (1 + 1e-9)
    assert s["horizon"] is not None and errors[s["horizon"]] < 1e-3


CHECKS = {
    "1": product_of_equal_steps,
    "1-bound": below_the_product_of_step_bounds,
    "2-vanishing": linear_vanishes,
    "2-exploding": linear_explodes,
    "2-transient": transient_growth,
    "3": sigmoid_guarantee,
    "7": gate_keeps_memory("lstm", "f", lambda f: f),
    "8": gate_keeps_memory("gru", "z", lambda z: z),
    "9": truncation_drops_far_terms,
}


def test_the_path_has_every_claim_in_the_lectures_order(claim_links):
    numbers = [int(claim.split("-")[0]) for claim, _ in claim_links]
    assert numbers == sorted(numbers)
    assert set(numbers) == set(range(1, 10))
    for claim, _ in claim_links:
        assert claim in CHECKS or claim in AGREED, f"claim {claim!r} has no test"


@pytest.mark.parametrize("claim", sorted(CHECKS))
def test_each_claim_holds_for_its_links_exact_query(client, claim_links, claim):
    hrefs = [href for c, href in claim_links if c == claim]
    assert hrefs, f"no link for claim {claim}"
    for href in hrefs:
        CHECKS[claim](api_body(client, href), href)


@pytest.mark.parametrize("claim", sorted(AGREED))
def test_claims_of_other_views_link_the_agreed_urls(client, claim_links, claim):
    assert [href for c, href in claim_links if c == claim] == [AGREED[claim]]
    assert client.get(AGREED[claim]).status_code == 200


def test_the_home_page_links_every_view_and_every_link_opens(client):
    links = page_links(client)
    hrefs = {href for _, href, _ in links}
    paths = {urlsplit(h).path for h in hrefs}
    assert {"/explore", "/compare", "/cliff", "/eigen", "/docs"} <= paths
    assert any("truncation" in query_of(h) for h in hrefs if h.startswith("/explore"))
    for href in hrefs:
        assert client.get(href).status_code == 200, href


def test_compare_presets_of_claims_7_and_8_are_the_home_pages(client, claim_links):
    presets = VIEWS["compare"].context["presets"]
    for claim in ("7", "8"):
        [href] = [h for c, h in claim_links if c == claim]
        assert href in [h for _, h in presets]


def test_compare_defaults_are_framed_as_the_page_says(client):
    """/compare's text: at the defaults (no gate bias) the untrained gates average about one
    half, and the LSTM and the GRU forget no later than the RNN."""
    body = api_body(client, "/compare")
    assert body["config"]["forget_bias"] == body["config"]["update_bias"] == 0
    rnn = body["cells"]["rnn"]["memory_horizon"]
    assert rnn is not None
    for cell in ("lstm", "gru"):
        c = body["cells"][cell]
        assert all(0.4 <= v <= 0.6 for v in c["gate_means"].values())
        assert c["memory_horizon"] is not None and c["memory_horizon"] <= rnn
