"""/train: the page renders its controls from the URL (refusing what the engine refuses, by
name), and each preset's sentence is true of that preset's numbers."""

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from fastapi.testclient import TestClient

from bpttlab.engine.training import TrainConfig, train
from bpttlab.server.app import create_app
from bpttlab.server.train_page import PRESETS


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


def test_the_page_shows_the_configuration_of_its_address(client):
    r = client.get("/train?cell=lstm&hidden_size=48&forget_bias=2.5")
    assert r.status_code == 200
    html = r.text
    assert '<option value="lstm" selected>' in html
    assert 'id="hidden_size" name="hidden_size" value="48"' in html
    assert 'id="forget_bias" name="forget_bias" value="2.5"' in html
    assert 'data-autostart="true"' in html
    assert 'data-autostart="false"' in client.get("/train").text


def test_a_refused_address_is_named_and_replaced_by_the_defaults(client):
    html = client.get("/train?hidden_size=1000&seed=abc").text
    assert "<code>hidden_size</code>: hidden_size must be in 4..256" in html
    assert "<code>seed</code>: not a int" in html or "<code>seed</code>" in html
    assert 'id="hidden_size" name="hidden_size" value="32"' in html
    assert 'data-autostart="false"' in html


def _preset(i):
    text, _ = PRESETS[i]
    return text, TrainConfig(**PRESETS[i][1])


def test_each_preset_links_its_configuration(client):
    html = client.get("/train").text
    for text, query in PRESETS:
        found = re.search(r'<a href="([^"]+)">' + re.escape(text) + "</a>", html)
        assert found is not None, text
        href = found[1].replace("&amp;", "&")
        params = dict(parse_qsl(urlsplit(href).query))
        assert {k: str(v) for k, v in query.items()} == params


def test_the_gru_preset_reaches_accuracy_1_and_the_rnn_preset_stays_below_a_quarter():
    gru_text, gru = _preset(0)
    rnn_text, rnn = _preset(1)
    assert "update bias +3" in gru_text and gru.cell == "gru" and gru.update_bias == 3
    assert "accuracy 1 after 250 steps" in gru_text and gru.steps == 250
    assert train(gru).final.accuracy == 1.0
    assert rnn.cell == "rnn" and rnn.nonlinearity == "tanh"
    same = ("task", "length", "hidden_size", "batch_size", "steps", "learning_rate", "seed")
    assert all(getattr(rnn, k) == getattr(gru, k) for k in same)
    result = train(rnn)
    assert "below 0.25" in rnn_text and result.final.accuracy < 0.25
    assert f"chance {result.chance_accuracy:g}" in rnn_text
