"""The batched training passes (engine.batch_cells) against the cells' own per-sequence code
(their forward and engine.bptt through the one-step VJPs) and against finite differences."""

import numpy as np
import pytest

from bpttlab.engine import batch_cells
from bpttlab.engine.bptt import bptt
from bpttlab.engine.cells import get_cell

from .gradcheck import check_grad

T, B, N, D = 6, 3, 5, 4


def _weights(cell: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    rows = get_cell(cell).gate_rows * N
    return {
        "weight_ih": rng.normal(0, 0.6, (rows, D)),
        "weight_hh": rng.normal(0, 0.6, (rows, N)),
        "bias_ih": rng.normal(0, 0.5, rows),
        "bias_hh": rng.normal(0, 0.5, rows),
    }


def _options(cell: str, nonlinearity: str) -> dict:
    return {"nonlinearity": nonlinearity, "gru_form": "pytorch", "peephole": False}


CASES = [("rnn", "tanh"), ("rnn", "sigmoid"), ("rnn", "relu"), ("lstm", "tanh"), ("gru", "tanh")]


@pytest.mark.parametrize(("cell", "phi"), CASES)
def test_forward_matches_the_cell_on_every_sequence(cell, phi):
    rng = np.random.default_rng(1)
    w = _weights(cell, rng)
    x = rng.normal(size=(T, B, D))
    cache = batch_cells.forward(cell, w, x, phi)
    the_cell = get_cell(cell)
    params = batch_cells.as_params(cell, w)
    for b in range(B):
        trace = the_cell.forward(params, x[:, b], np.zeros(N), np.zeros(N), _options(cell, phi))
        h, scale = the_cell.hidden_states(trace)
        expected = h * 10.0 ** scale[:, None]
        np.testing.assert_allclose(cache.h[:, b], expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("cell", "phi"), CASES)
def test_backward_matches_bptt_summed_over_the_batch(cell, phi):
    rng = np.random.default_rng(2)
    w = _weights(cell, rng)
    x = rng.normal(size=(T, B, D))
    direct = {t: rng.normal(size=(B, N)) for t in (2, 4, T)}
    cache = batch_cells.forward(cell, w, x, phi)
    grads, norms = batch_cells.backward(cache, w, direct, phi)
    the_cell = get_cell(cell)
    params = batch_cells.as_params(cell, w)
    expected = {k: np.zeros_like(v) for k, v in w.items()}
    squares = np.zeros(T + 1)
    for b in range(B):
        trace = the_cell.forward(params, x[:, b], np.zeros(N), np.zeros(N), _options(cell, phi))
        g = bptt(the_cell, params, trace, x[:, b], injected={t: v[b] for t, v in direct.items()})
        for k in expected:
            expected[k] += g.grads.mantissa[k] * 10.0**g.grads.log10_scale
        squares += (10.0 ** g.log10_dh[::-1]) ** 2  # bptt indexes by distance l = T - t
    for k in expected:
        np.testing.assert_allclose(grads[k], expected[k], rtol=1e-10, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(norms, np.sqrt(squares), rtol=1e-10)


@pytest.mark.parametrize(("cell", "phi"), [c for c in CASES if c[1] != "relu"])
def test_backward_against_finite_differences(cell, phi):
    """L = sum_t <u_t, h_t> for fixed random u_t: its gradient is backward() with direct = u."""
    rng = np.random.default_rng(3)
    w = _weights(cell, rng)
    x = rng.normal(size=(T, B, D))
    u = {t: rng.normal(size=(B, N)) for t in range(1, T + 1)}
    keys = list(w)
    sizes = [w[k].size for k in keys]

    def unflat(theta):
        parts = np.split(theta, np.cumsum(sizes)[:-1])
        return {k: p.reshape(w[k].shape) for k, p in zip(keys, parts, strict=True)}

    def loss(theta):
        h = batch_cells.forward(cell, unflat(theta), x, phi).h
        return float(sum(np.sum(u[t] * h[t]) for t in u))

    theta = np.concatenate([w[k].ravel() for k in keys])
    grads, _ = batch_cells.backward(batch_cells.forward(cell, w, x, phi), w, u, phi)
    flat = np.concatenate([grads[k].ravel() for k in keys])
    check_grad(loss, flat, theta, rng, directions=4, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("cell", "phi"), CASES)
def test_a_reused_workspace_carries_nothing_over(cell, phi):
    """A training run keeps its buffers from one step to the next (batch_cells.Workspace):
    a second batch through the first one's buffers (full of its values) must give exactly the
    numbers of fresh arrays, with the explicit gradients on other steps than the first's."""
    rng = np.random.default_rng(4)
    w = _weights(cell, rng)
    ws = batch_cells.Workspace()
    for steps in ((2, 4, T), (1, T - 1)):
        x = rng.normal(size=(T, B, D))
        direct = {t: rng.normal(size=(B, N)) for t in steps}
        cache = batch_cells.forward(cell, w, x, phi, ws)
        h = cache.h.copy()
        grads, norms = batch_cells.backward(cache, w, direct, phi, ws)
        fresh = batch_cells.forward(cell, w, x, phi)
        np.testing.assert_array_equal(h, fresh.h)
        expected, expected_norms = batch_cells.backward(fresh, w, direct, phi)
        np.testing.assert_array_equal(norms, expected_norms)
        for k in expected:
            np.testing.assert_array_equal(grads[k], expected[k], err_msg=k)


class _LeftoverWorkspace(batch_cells.Workspace):
    """Every buffer handed out is full of NaN, as if left over from anything at all."""

    def empty(self, name, shape):
        buf = super().empty(name, shape)
        buf.fill(np.nan)
        return buf


@pytest.mark.parametrize(("cell", "phi"), CASES)
def test_every_buffer_is_written_before_it_is_read(cell, phi):
    rng = np.random.default_rng(5)
    w = _weights(cell, rng)
    x = rng.normal(size=(T, B, D))
    direct = {t: rng.normal(size=(B, N)) for t in (3, T)}
    ws = _LeftoverWorkspace()
    cache = batch_cells.forward(cell, w, x, phi, ws)
    fresh = batch_cells.forward(cell, w, x, phi)
    np.testing.assert_array_equal(cache.h, fresh.h)
    grads, norms = batch_cells.backward(cache, w, direct, phi, ws)
    expected, expected_norms = batch_cells.backward(fresh, w, direct, phi)
    np.testing.assert_array_equal(norms, expected_norms)
    for k in expected:
        np.testing.assert_array_equal(grads[k], expected[k], err_msg=k)
