"""The extreme grid: every cell x nonlinearity x scale in {1e-3, 1, 10, 100} x seq_len in
{1, max}. Every answer is a 200 with strictly finite JSON (log10 magnitudes, null for zero)."""

import math

import pytest

from bpttlab.server.schemas import MAX_SEQ_LEN

from .conftest import strict_json

CELLS = ["rnn", "lstm", "gru"]
NONLINEARITIES = ["tanh", "sigmoid", "relu", "identity"]


def numbers(value):
    """Every number in a JSON value."""
    if isinstance(value, dict):
        for v in value.values():
            yield from numbers(v)
    elif isinstance(value, list):
        for v in value:
            yield from numbers(v)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield value


@pytest.mark.parametrize("scale", [1e-3, 1, 10, 100])
@pytest.mark.parametrize("nonlinearity", NONLINEARITIES)
@pytest.mark.parametrize("cell", CELLS)
def test_extreme_grid_gives_finite_json(client, cell, nonlinearity, scale):
    for seq_len in (1, MAX_SEQ_LEN):
        query = {"cell": cell, "nonlinearity": nonlinearity, "scale": scale, "seq_len": seq_len}
        r = client.get("/api/v1/gradient-flow", params=query)
        assert r.status_code == 200, r.text
        body = strict_json(r.text)  # fails on NaN and Infinity
        assert body["config"]["seq_len"] == seq_len and body["config"]["scale"] == scale
        assert len(body["log10_norm"]["spectral"]) == seq_len + 1
        assert body["log10_norm"]["spectral"][0] == pytest.approx(0)  # l = 0: the identity
        assert all(math.isfinite(x) for x in numbers(body))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gated_cells_ignore_the_nonlinearity(client, cell):
    """As the schema says: gated cells use sigmoid and tanh, whatever `nonlinearity` is."""
    bodies = [
        client.get(
            "/api/v1/gradient-flow", params={"cell": cell, "nonlinearity": n, "seq_len": 30}
        ).json()
        for n in NONLINEARITIES
    ]
    for body in bodies[1:]:
        assert body["log10_norm"] == bodies[0]["log10_norm"]
        assert body["gradient"] == bodies[0]["gradient"]
