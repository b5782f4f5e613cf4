"""The matrix-free mode (engine.probes) against exact values at small sizes.

References: the engine's exact product-norm code (engine.cells.profiles with
method="exact", in the log domain) for dh_T/dh_{T-l}, and for the LSTM's dh_T/d(h, c)_{T-l}
a product of the cells' explicit step Jacobians (lstm_step_jacobian) taken here; each
row-block VJP against the cell's own one-step VJP (cell.backward), one covector at a time.
With the n unit vectors as probes the sweep's squared norms add up to ||M||_F^2 exactly,
which checks the propagation itself; with Gaussian probes the estimate is checked for its
stated standard error (coverage over 200 seeded trials), unbiasedness and the spectral
lower bound (never above the exact spectral norm).
"""

import numpy as np
import pytest

from bpttlab.engine.cells import get_cell, profiles
from bpttlab.engine.cells.gru import gru_step_jacobian
from bpttlab.engine.cells.lstm import lstm_step_jacobian
from bpttlab.engine.logdomain import log10_row_norms
from bpttlab.engine.network import (
    DIRECTION_NAMES,
    NetworkConfig,
    cell_params,
    draw_network_problem,
    network,
    network_forward,
)
from bpttlab.engine.probes import (
    estimates,
    exact_layer_time,
    jacobian_estimates,
    matrix_free,
    probe_standard_error,
    probe_sweep,
    rows_step,
)

VARIANTS = [
    ("rnn", {"nonlinearity": "tanh"}),
    ("rnn", {"nonlinearity": "relu"}),
    ("lstm", {}),
    ("gru", {}),
    ("gru", {"gru_form": "lecture"}),
]


def _setup(cell, extra=None, **kw):
    base = dict(cell=cell, hidden_size=4, input_size=3, seq_len=12, num_layers=2,
                bidirectional=True, scale=1.1, seed=5, vocab_size=5)  # fmt: skip
    base.update(extra or {})
    base.update(kw)
    config = NetworkConfig(**base)
    problem = draw_network_problem(config)
    trace = network_forward(config, problem.weights, problem.inputs, problem.targets)
    return config, problem, trace


def _runs(config, problem, trace):
    """(layer, direction, cell, params, trace) of every run."""
    cell = get_cell(config.cell)
    for k in range(config.num_layers):
        for d in range(config.directions):
            yield k, d, cell, cell_params(config, problem.weights, k, d), trace.traces[k][d]


def _exact_h(cell, params, tr):
    """log10 ||dh_T/dh_{T-l}||_F and _2, l = 0..T, by the engine's exact product code."""
    prof = profiles(cell, params, tr, method="exact")
    p = prof.blocks["hh"] if cell.name == "lstm" else prof.state
    return p.frobenius, p.spectral


@pytest.mark.parametrize("cell,extra", VARIANTS)
def test_rows_step_is_the_cells_one_step_vjp(cell, extra):
    config, problem, trace = _setup(cell, extra)
    rng = np.random.default_rng(0)
    for _, _, c, params, tr in _runs(config, problem, trace):
        size = c.state_factor * config.hidden_size
        step, one = rows_step(c, params, tr), c.backward(params, tr)
        for t in (1, 5, config.seq_len):
            g = rng.standard_normal((3, size))
            rows, scale = step(t, g)
            for i in range(3):
                vjp = one(t, g[i], 0.0)
                np.testing.assert_allclose(
                    rows[i] * 10.0**scale, vjp.g_prev * 10.0**vjp.log10_scale,
                    rtol=1e-12, atol=1e-14,
                )  # fmt: skip


@pytest.mark.parametrize("cell,extra", VARIANTS)
def test_unit_probes_give_the_exact_frobenius_norm(cell, extra):
    """sum_i ||M^T e_i||^2 = ||M||_F^2: the sweep with the n unit vectors reproduces the
    exact profile at every distance, for every layer and direction."""
    config, problem, trace = _setup(cell, extra)
    n = config.hidden_size
    for _, _, c, params, tr in _runs(config, problem, trace):
        h, _ = probe_sweep(c, params, tr, np.eye(n))
        with np.errstate(divide="ignore"):
            got = 0.5 * np.log10(np.sum(10.0 ** (2 * h), axis=1))
        exact, _ = _exact_h(c, params, tr)
        np.testing.assert_allclose(got, exact, rtol=0, atol=1e-10)


def test_norms_far_below_float64_stay_exact():
    """A contracting RNN over 900 steps: ||dh_T/dh_0|| ~ 1e-400, below float64's range."""
    config, problem, trace = _setup(
        "rnn", {"nonlinearity": "tanh"}, scale=0.3, seq_len=900, num_layers=1,
        bidirectional=False, hidden_size=3,
    )  # fmt: skip
    (_, _, c, params, tr) = next(_runs(config, problem, trace))
    h, _ = probe_sweep(c, params, tr, np.eye(3))
    top = h[-1].max()
    got = 0.5 * np.log10(np.sum(10.0 ** (2 * (h[-1] - top)))) + top
    exact, _ = _exact_h(c, params, tr)
    assert exact[-1] < -330
    np.testing.assert_allclose(got, exact[-1], rtol=0, atol=1e-9)
    est = jacobian_estimates(config, problem.weights, trace, probes=32)["forward"][0]["h"]
    assert abs(est.frobenius.log10[-1] - exact[-1]) < 4 * probe_standard_error(32)
    assert est.spectral.log10[-1] < -330


def _lstm_h_state(params, tr, t_len, n):
    """log10 ||[J_T ... J_{T-l+1}]_{h rows}||_F, l = 0..T, from explicit step Jacobians."""
    p = np.eye(2 * n)
    out = [np.log10(np.linalg.norm(p[:n]))]
    for t in range(t_len, 0, -1):
        p = p @ lstm_step_jacobian(params, tr, t)
        out.append(np.log10(np.linalg.norm(p[:n])))
    return np.array(out)


def test_lstm_h_state_is_dh_by_the_whole_state():
    config, problem, trace = _setup("lstm")
    n = config.hidden_size
    for _, _, c, params, tr in _runs(config, problem, trace):
        _, state = probe_sweep(c, params, tr, np.eye(n))
        got = 0.5 * np.log10(np.sum(10.0 ** (2 * state), axis=1))
        np.testing.assert_allclose(got, _lstm_h_state(params, tr, config.seq_len, n), atol=1e-10)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_estimates_cover_the_exact_value_and_the_bound_holds(cell):
    """2000 trials of k = 32 Gaussian probes (one sweep of 2000 k probes, split into
    trials): at every distance l and for every (layer, direction) the estimate of
    log10 ||M||_F is within 3 standard errors of the exact value in at least 99% of the
    trials (the stated error is the rank-one bound, whose 3-error coverage is 99.5% at
    worst: the long products here are nearly rank one), the mean of the squared estimates
    is within 4 standard errors of ||M||_F^2 (unbiased), and the spectral lower bound is
    never above the exact spectral norm."""
    config, problem, trace = _setup(cell, seq_len=24, scale=1.3)
    k, trials, n = 32, 2000, config.hidden_size
    se = probe_standard_error(k)
    rng = np.random.default_rng(11)
    for layer, d, c, params, tr in _runs(config, problem, trace):
        if layer != d:  # layer 0 forward and layer 1 backward (reads both of layer 0)
            continue
        frob, spec = _exact_h(c, params, tr)
        v = rng.standard_normal((trials * k, n))
        h, state = probe_sweep(c, params, tr, v)
        v_log10 = log10_row_norms(v).reshape(trials, k)
        quantities = [(h, frob)]
        if cell == "lstm":
            quantities.append((state, _lstm_h_state(params, tr, config.seq_len, n)))
        for norms, exact in quantities:
            per_trial = norms.reshape(config.seq_len + 1, trials, k).transpose(1, 0, 2)
            e = estimates(per_trial, v_log10)  # (trials, T + 1) estimates
            assert e.frobenius.method == "estimate" and e.spectral.method == "lower_bound"
            np.testing.assert_array_equal(e.frobenius.log10_se, se)
            hits = np.sum(np.abs(e.frobenius.log10 - exact) <= 3 * se, axis=0)
            ratio = np.mean(10.0 ** (2 * (e.frobenius.log10 - exact)), axis=0)
            if norms is h:
                assert np.all(e.spectral.log10 <= spec + 1e-12)
            assert np.min(hits) >= 0.99 * trials, hits
            # k squares' mean has relative sd <= sqrt(2 / k); of `trials` means, / sqrt(trials)
            assert np.all(np.abs(ratio - 1.0) <= 4 * np.sqrt(2.0 / k / trials)), ratio
            assert np.min(hits) < trials  # the error is not so wide that nothing ever misses


def test_the_seeded_estimates_are_the_probes_own():
    """jacobian_estimates draws each (layer, direction)'s probes from its own child stream
    of default_rng(seed) and reports estimates() of their sweep."""
    config, problem, trace = _setup("gru")
    est = jacobian_estimates(config, problem.weights, trace, probes=6, seed=3)
    streams = np.random.default_rng(3).spawn(4)
    for layer, d, c, params, tr in _runs(config, problem, trace):
        v = streams[2 * layer + d].standard_normal((6, config.hidden_size))
        h, _ = probe_sweep(c, params, tr, v)
        want = estimates(h, log10_row_norms(v))
        got = est[DIRECTION_NAMES[d]][layer]["h"]
        np.testing.assert_array_equal(got.frobenius.log10, want.frobenius.log10)
        np.testing.assert_array_equal(got.spectral.log10, want.spectral.log10)


def test_the_spectral_bound_is_tight_when_a_probe_meets_the_top_direction():
    """With M = dh_T/dh_{T-l} and the probe M's top left singular vector, the bound is
    ||M||_2 itself (to rounding): the bound is the exact value's, not a looser number."""
    config, problem, trace = _setup("gru", num_layers=1, bidirectional=False)
    (_, _, c, params, tr) = next(_runs(config, problem, trace))
    p = np.eye(config.hidden_size)
    for t in range(config.seq_len, config.seq_len - 4, -1):
        p = p @ gru_step_jacobian(params, tr, t)
    u, s, _ = np.linalg.svd(p)
    h, _ = probe_sweep(c, params, tr, np.vstack([u[:, 0], np.ones(config.hidden_size)]))
    bound = np.max(h[4] - np.log10([1.0, 2.0]))
    np.testing.assert_allclose(bound, np.log10(s[0]), atol=1e-12)


def test_matrix_free_labels_every_number_and_keeps_the_exact_map():
    config, problem, _ = _setup("lstm", num_layers=2, bidirectional=True)
    r = matrix_free(config, problem.weights, problem.inputs, problem.targets, probes=8, seed=1)
    full = network(config, problem)
    assert r.loss == full.loss
    for name, series in r.layer_time.items():
        assert series.method == "exact" and series.log10_se is None
        np.testing.assert_array_equal(series.log10, full.gradient.layer_time[name])
    assert set(r.jacobians) == {"forward", "backward"}
    for per_layer in r.jacobians.values():
        assert len(per_layer) == 2
        for entry in per_layer:
            assert set(entry) == {"h", "h_state"}
            for e in entry.values():
                assert e.probes == 8 and e.frobenius.log10.shape == (config.seq_len + 1,)
    again = matrix_free(config, problem.weights, problem.inputs, problem.targets, probes=8, seed=1)
    np.testing.assert_array_equal(
        again.jacobians["backward"][1]["h"].frobenius.log10,
        r.jacobians["backward"][1]["h"].frobenius.log10,
    )
    with pytest.raises(ValueError, match="probes"):
        jacobian_estimates(config, problem.weights, network_forward(
            config, problem.weights, problem.inputs, problem.targets), probes=1)  # fmt: skip


@pytest.mark.parametrize("cell,extra", VARIANTS)
@pytest.mark.parametrize("loss", ["every", "last"])
def test_exact_layer_time_is_the_networks(cell, extra, loss):
    config, problem, trace = _setup(cell, extra, loss=loss, num_layers=3)
    full = network(config, problem)
    got = exact_layer_time(config, problem.weights, trace, problem.targets)
    assert set(got) == set(full.gradient.layer_time)
    for name, value in full.gradient.layer_time.items():
        np.testing.assert_array_equal(got[name], value)


@pytest.mark.parametrize("cell,extra", VARIANTS)
def test_single_precision_sweeps_agree_with_double(cell, extra):
    """The same probes in float32 and float64: every log10 norm within 1e-5 over 60 steps,
    far inside the estimate's standard error (0.054 at k = 32)."""
    config, problem, trace = _setup(cell, extra, seq_len=60, scale=1.2)
    v = np.random.default_rng(2).standard_normal((8, config.hidden_size))
    for _, _, c, params, tr in _runs(config, problem, trace):
        wide = probe_sweep(c, params, tr, v)
        narrow = probe_sweep(c, params, tr, v, precision="float32")
        for a, b in zip(wide, narrow, strict=True):
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-5)
    est = jacobian_estimates(config, problem.weights, trace, probes=4, precision="float32")
    assert est["forward"][0]["h"].precision == "float32"
    r = matrix_free(config, problem.weights, problem.inputs, problem.targets, probes=4,
                    precision="float32")  # fmt: skip
    assert r.jacobians["backward"][1]["h"].precision == "float32"
    np.testing.assert_array_equal(
        r.jacobians["backward"][1]["h"].frobenius.log10, est["backward"][1]["h"].frobenius.log10
    )
    with pytest.raises(ValueError, match="precision"):
        probe_sweep(c, params, tr, v, precision="float16")
