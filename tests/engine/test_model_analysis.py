"""A user's model analysed (engine.model_analysis): the exact Jacobian norms against finite
differences of the cell's own forward run, the exact mode against /network's maps of the same
weights, the matrix-free mode against the probes module, batches, progress and cancelling."""

from dataclasses import replace

import numpy as np
import pytest

from bpttlab.engine.cells import get_cell
from bpttlab.engine.model_analysis import AnalysisCancelled, analyze_model
from bpttlab.engine.model_io import TensorShapeError, load_model
from bpttlab.engine.network import (
    DIRECTION_NAMES,
    NetworkProblem,
    cell_options,
    cell_params,
    draw_network_problem,
    network_forward,
)
from bpttlab.engine.network_maps import network_maps
from bpttlab.engine.probes import exact_layer_time, jacobian_estimates

from .test_model_io import state_dict

CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", None)]


def _model(cell, nonlin, layers=2, bidi=True, hidden=3, inp=2, seq_len=6, **kw):
    sd = state_dict(cell, layers, bidi, hidden=hidden, inp=inp, seed=3)
    return load_model(sd, nonlinearity=nonlin, seq_len=seq_len, seed=2, **kw)


def _fd_jacobian(config, weights, trace, k, d, l, whole_state):
    """d h_T / d z_{T-l} of (layer k, direction d) by central differences of the cell's own
    forward run from step T-l with that layer's inputs held fixed (z = h, or (h, c) for
    whole_state; the LSTM's c held fixed otherwise)."""
    cell = get_cell(config.cell)
    options = cell_options(cell, config)
    params = cell_params(config, weights, k, d)
    n, t_len = config.hidden_size, config.seq_len
    x = trace.layer_inputs[k]
    seq = x if d == 0 else x[::-1]
    states = cell.state_vectors(trace.traces[k][d])  # (T + 1, S)
    start = states[t_len - l]
    size = len(start) if whole_state else n
    eps = 1e-6
    cols = []
    for i in range(size):
        out = []
        for sign in (1.0, -1.0):
            z = start.copy()
            z[i] += sign * eps
            h0, c0 = z[:n], (z[n:] if cell.state_factor == 2 else None)
            if l == 0:
                out.append(z[:n])
                continue
            tr = cell.forward(params, seq[t_len - l :], h0, c0, options)
            out.append(cell.state_vectors(tr)[-1, :n])
        cols.append((out[0] - out[1]) / (2 * eps))
    return np.array(cols).T


@pytest.mark.parametrize("cell,nonlin", CELLS)
def test_exact_jacobian_norms_are_those_of_finite_difference_jacobians(cell, nonlin):
    m = _model(cell, nonlin)
    a = analyze_model(m, mode="exact")
    c = a.config
    trace = a.maps.result.trace
    checked = 0
    for k in range(c.num_layers):
        for d in range(c.directions):
            entry = a.jacobians[DIRECTION_NAMES[d]][k]
            quantities = [("h", False)] + ([("h_state", True)] if cell == "lstm" else [])
            for q, whole in quantities:
                assert entry[q].frobenius.method == entry[q].spectral.method == "exact"
                assert entry[q].probes is None
                for l in range(c.seq_len + 1):
                    jac = _fd_jacobian(c, a.model.weights, trace, k, d, l, whole)
                    # central differences: ~1e-10 absolute error (rounding / eps), so
                    # relative 1e-6 plus that
                    for got, want in (
                        (entry[q].frobenius.log10[l], np.linalg.norm(jac)),
                        (entry[q].spectral.log10[l], np.linalg.norm(jac, 2)),
                    ):
                        assert abs(10.0**got - want) <= 1e-6 * want + 1e-9, (k, d, q, l)
                    checked += 1
    assert checked == c.num_layers * c.directions * (c.seq_len + 1) * (2 if cell == "lstm" else 1)


@pytest.mark.parametrize("cell,nonlin", CELLS)
@pytest.mark.parametrize("layers,bidi", [(1, False), (3, True)])
def test_exact_mode_is_network_maps_of_the_same_weights_and_inputs(cell, nonlin, layers, bidi):
    m = _model(cell, nonlin, layers=layers, bidi=bidi, seq_len=5)
    x = np.random.default_rng(8).normal(size=(5, 2))
    targets = np.array([0, 3, 1, 7, 2])
    a = analyze_model(m, x, targets, mode="exact")
    direct = {k: np.asarray(v, dtype=np.float64) for k, v in m.weights.items()}
    expected = network_maps(m.config, NetworkProblem(direct, x, targets))
    assert a.origin == {"inputs": "given", "targets": "given"}
    assert a.loss == expected.result.loss
    for name in expected.influence:
        np.testing.assert_array_equal(a.maps.influence[name], expected.influence[name])
        np.testing.assert_array_equal(a.maps.terms[name], expected.terms[name])
        np.testing.assert_array_equal(
            a.layer_time[name].log10, expected.result.gradient.layer_time[name]
        )
        assert a.layer_time[name].method == "exact"


@pytest.mark.parametrize("cell,nonlin", CELLS)
def test_matrix_free_mode_is_the_probes_estimates_and_the_exact_layer_time(cell, nonlin):
    m = _model(cell, nonlin, seq_len=9)
    a = analyze_model(m, mode="matrix_free", probes=8, probe_seed=5)
    assert a.maps is None and a.probes == 8 and a.probe_seed == 5
    problem, _ = m.problem()
    trace = network_forward(m.config, problem.weights, problem.inputs, problem.targets)
    est = jacobian_estimates(m.config, problem.weights, trace, probes=8, seed=5)
    lt = exact_layer_time(m.config, problem.weights, trace, problem.targets)
    for name, layers in est.items():
        np.testing.assert_array_equal(a.layer_time[name].log10, lt[name])
        for k, layer in enumerate(layers):
            for q, e in layer.items():
                got = a.jacobians[name][k][q]
                assert got.frobenius.method == "estimate" and got.spectral.method == "lower_bound"
                np.testing.assert_array_equal(got.frobenius.log10, e.frobenius.log10)
                np.testing.assert_array_equal(got.frobenius.log10_se, e.frobenius.log10_se)
                np.testing.assert_array_equal(got.spectral.log10, e.spectral.log10)


def test_a_batch_analyses_the_chosen_sequence_and_averages_every_sequences_gradient():
    m = _model("gru", None, seq_len=4)
    x = np.random.default_rng(1).normal(size=(3, 7, 2))
    a = analyze_model(m, x, mode="matrix_free", sequence=2, probes=4)
    assert a.config.seq_len == 7 and a.sequence == 2 and a.batch.size == 3
    single = analyze_model(m, x[2], mode="matrix_free", probes=4)
    assert single.batch is None and single.loss == a.loss
    # the targets drawn for T = 7 from the model's seed, as /network draws them
    targets = draw_network_problem(replace(a.config, num_layers=1)).targets
    maps = []
    for b in range(3):
        trace = network_forward(a.config, m.weights, x[b], targets)
        assert a.batch.losses[b] == trace.loss
        maps.append(exact_layer_time(a.config, m.weights, trace, targets))
    for name in maps[0]:
        expected = np.mean([lt[name] for lt in maps], axis=0)
        np.testing.assert_allclose(a.batch.layer_time_mean[name], expected, rtol=0, atol=1e-12)


def test_progress_grows_to_one_and_cancel_stops():
    m = _model("lstm", None, seq_len=5)
    for mode in ("exact", "matrix_free"):
        seen: list = []
        x = np.zeros((2, 5, 2))
        analyze_model(m, x, mode=mode, progress=lambda w, f, s=seen: s.append((w, f)), probes=4)
        fractions = [f for _, f in seen]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] == 0.0
        assert all(isinstance(w, str) and w for w, _ in seen)
        asked: list = []

        def cancelled(asked=asked):
            asked.append(1)
            return len(asked) > 2

        with pytest.raises(AnalysisCancelled):
            analyze_model(m, mode=mode, cancelled=cancelled, probes=4)


def test_bad_inputs_and_choices_are_refused_naming_them():
    m = _model("rnn", "tanh")
    with pytest.raises(TensorShapeError) as e:
        analyze_model(m, np.zeros((4, 5)))
    assert e.value.tensor == "inputs"
    with pytest.raises(TensorShapeError) as e:
        analyze_model(m, np.zeros((2, 4, 2)), sequence=2)
    assert e.value.tensor == "sequence"
    with pytest.raises(TensorShapeError) as e:
        analyze_model(m, sequence=1)
    assert e.value.tensor == "sequence"
    with pytest.raises(ValueError, match="mode"):
        analyze_model(m, mode="fast")
    with pytest.raises(ValueError, match="precision"):
        analyze_model(m, mode="matrix_free", precision="float16")
