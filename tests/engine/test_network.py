"""Stacked and bidirectional networks (engine.network) against finite differences of a
reference forward pass written here step by step, and against engine.bptt where they overlap.

The reference runs every cell one step at a time (``cell.forward`` on one row from a given
state), walks the reverse direction by explicit indices, concatenates, adds the residual and
computes the softmax cross-entropy itself, so the network's forward is checked against an
independent reading of PyTorch's semantics, and an additive perturbation of any hidden state
h_t^(layer, direction) gives dL/dh_t by finite differences. The influence map
(engine.influence) is checked against finite-difference Jacobians of the reference's outputs,
a linear stack's closed form and its own one-covector-at-a-time version.
"""

from dataclasses import replace

import numpy as np
import pytest

from bpttlab.engine import influence
from bpttlab.engine.bptt import bptt
from bpttlab.engine.cells import cell_options, get_cell
from bpttlab.engine.influence import influence_by_vectors, influence_map
from bpttlab.engine.network import (
    NetworkConfig,
    NetworkOverflowError,
    NetworkProblem,
    cell_params,
    check_weights,
    draw_network_problem,
    network,
    parameter_shapes,
)

from .gradcheck import check_grad, directional_fd, fd_jacobian

CELLS = ("rnn", "lstm", "gru")


def _config(cell, layers=2, bidirectional=False, skip="none", loss="every", **kw):
    base = dict(hidden_size=3, input_size=2, seq_len=5, vocab_size=4, scale=1.2, seed=3)
    base.update(kw)
    return NetworkConfig(
        cell=cell, num_layers=layers, bidirectional=bidirectional, skip=skip, loss=loss, **base
    )


def reference_outputs(config, weights, inputs, bump=None, step_hh=None):
    """The top layer's output y^(L-1) : (T, D n), computed step by step; ``bump`` = (layer,
    direction, t, e) adds e to h_t^(layer, direction) (t = 1..T the sequence position) where
    it is computed, so the perturbed state feeds both the cell's next step and the layer
    above; ``step_hh`` = {(layer, direction, t): W} uses W as that cell's weight_hh at
    position t only."""
    cell = get_cell(config.cell)
    options = cell_options(cell, config)
    n, t_len = config.hidden_size, config.seq_len
    x = np.asarray(inputs, dtype=float)
    for k in range(config.num_layers):
        halves = []
        for d in range(config.directions):
            params = cell_params(config, weights, k, d)
            h = np.zeros((t_len, n))
            state = np.zeros(cell.state_factor * n)
            positions = range(t_len) if d == 0 else range(t_len - 1, -1, -1)
            for pos in positions:
                c0 = state[n:] if cell.state_factor == 2 else None
                p = params
                if step_hh is not None and (k, d, pos + 1) in step_hh:
                    p = replace(params, weight_hh=step_hh[(k, d, pos + 1)])
                tr = cell.forward(p, x[pos : pos + 1], state[:n], c0, options)
                state = cell.state_vectors(tr)[1].copy()
                if bump is not None and bump[:3] == (k, d, pos + 1):
                    state[:n] += bump[3]
                h[pos] = state[:n]
            halves.append(h)
        y = np.hstack(halves)
        if config.skip == "residual" and k >= 1:
            y = y + x
        x = y
    return x


def reference_loss(config, weights, inputs, targets, bump=None, step_hh=None, only=None):
    """L of the network from reference_outputs, the softmax cross-entropy written out;
    ``only`` = t (1..T) keeps the loss at step t alone, L_t."""
    t_len = config.seq_len
    x = reference_outputs(config, weights, inputs, bump, step_hh)
    logits = x @ weights["output.weight"].T + weights["output.bias"]
    steps = range(t_len) if config.loss == "every" else [t_len - 1]
    total = 0.0
    for j, t in enumerate(steps):
        if only is not None and t != only - 1:
            continue
        z = logits[t] - logits[t].max()
        total -= z[targets[j]] - np.log(np.sum(np.exp(z)))
    return total


CASES = [
    (cell, layers, bidi, skip, loss)
    for cell in CELLS
    for layers in (1, 2, 3)
    for bidi in (False, True)
    for skip in ("none", "residual")
    for loss in ("every", "last")
    if not (layers == 1 and skip == "residual")  # no residual below layer 1
]


@pytest.mark.parametrize(("cell", "layers", "bidi", "skip", "loss"), CASES)
def test_gradients_match_finite_differences(cell, layers, bidi, skip, loss):
    config = _config(cell, layers, bidi, skip, loss, seq_len=4 + layers % 3)
    prob = draw_network_problem(config)
    result = network(config, prob)
    ref = reference_loss(config, prob.weights, prob.inputs, prob.targets)
    assert abs(result.loss - ref) <= 1e-12 * max(1.0, abs(ref))
    grads = result.gradient.gradients()
    assert list(grads) == list(parameter_shapes(config))
    rng = np.random.default_rng(7)
    for name, g in grads.items():  # every parameter, each along random directions

        def loss_of(w, name=name):
            return reference_loss(config, {**prob.weights, name: w}, prob.inputs, prob.targets)

        check_grad(loss_of, g, prob.weights[name], rng, directions=1, rtol=1e-6, atol=1e-9)

    def loss_of_inputs(x):
        return reference_loss(config, prob.weights, x, prob.targets)

    dx = result.gradient.dinputs.values()
    check_grad(loss_of_inputs, dx, prob.inputs, rng, directions=2, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "variant",
    [
        {"cell": "rnn", "nonlinearity": "relu"},
        {"cell": "rnn", "nonlinearity": "identity", "scale": 0.9},
        {"cell": "gru", "gru_form": "lecture", "update_bias": -1.0},
        {"cell": "lstm", "forget_bias": 1.0},
    ],
)
def test_gradients_of_the_cells_options(variant):
    config = _config(layers=2, bidirectional=True, skip="residual", **variant)
    prob = draw_network_problem(config)
    grads = network(config, prob).gradient.gradients()
    rng = np.random.default_rng(1)
    flat = {k: v for k, v in prob.weights.items()}
    names = list(flat)
    direction = {k: rng.standard_normal(np.shape(flat[k])) for k in names}

    def along(s):
        return reference_loss(
            config, {k: flat[k] + s * direction[k] for k in names}, prob.inputs, prob.targets
        )

    fd = directional_fd(lambda s: along(float(s)), np.array(0.0), np.array(1.0))
    an = sum(float(np.sum(grads[k] * direction[k])) for k in names)
    assert abs(fd - an) <= 1e-9 + 1e-6 * abs(an)


LAYER_TIME_CASES = [
    ("rnn", 2, True, "residual", "every"),
    ("lstm", 3, True, "none", "last"),
    ("gru", 2, False, "residual", "last"),
    ("lstm", 2, False, "none", "every"),
    ("gru", 3, True, "residual", "every"),
    ("rnn", 3, False, "none", "last"),
]


@pytest.mark.parametrize(("cell", "layers", "bidi", "skip", "loss"), LAYER_TIME_CASES)
def test_layer_time_is_the_norm_of_dl_dh(cell, layers, bidi, skip, loss):
    """Every dL/dh_t^(layer, direction) against the finite differences of an additive bump of
    that state, and layer_time against the log10 of its norm."""
    config = _config(cell, layers, bidi, skip, loss)
    prob = draw_network_problem(config)
    grad = network(config, prob).gradient
    n, eps = config.hidden_size, 1e-6
    names = ("forward", "backward")
    for k in range(layers):
        for d in range(config.directions):
            dh = grad.directions[k][d].dh.values()
            for t in range(1, config.seq_len + 1):
                fd = np.zeros(n)
                for i in range(n):
                    e = np.zeros(n)
                    e[i] = eps
                    up = reference_loss(
                        config, prob.weights, prob.inputs, prob.targets, (k, d, t, e)
                    )
                    down = reference_loss(
                        config, prob.weights, prob.inputs, prob.targets, (k, d, t, -e)
                    )
                    fd[i] = (up - down) / (2 * eps)
                np.testing.assert_allclose(dh[t - 1], fd, rtol=1e-6, atol=1e-9)
                logged = grad.layer_time[names[d]][k, t - 1]
                if np.linalg.norm(fd) < 1e-12:
                    assert logged == -np.inf
                else:
                    assert abs(logged - np.log10(np.linalg.norm(fd))) < 1e-6


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("layers", [1, 3])
def test_last_step_loss_never_reaches_the_top_reverse_states_before_t(cell, layers):
    """loss=last reads y_T only; the top layer's reverse direction computes h_T first, so
    dL/dh_t of that direction is exactly zero for t < T (-inf), nonzero at T."""
    config = _config(cell, layers, True, "none", "last", seq_len=5)
    top = network(config).gradient.layer_time["backward"][-1]
    assert np.all(top[:-1] == -np.inf)
    assert np.isfinite(top[-1])
    assert np.all(np.isfinite(network(config).gradient.layer_time["forward"]))


@pytest.mark.parametrize("cell", CELLS)
def test_one_layer_last_step_agrees_with_bptt(cell):
    """One layer, one direction, loss=last: the network's BPTT is engine.bptt with dL/dh_T =
    W^T (softmax(logits_T) - onehot(target)) injected at T, for the same weights."""
    config = _config(cell, 1, False, "none", "last", seq_len=6)
    prob = draw_network_problem(config)
    result = network(config, prob)
    the_cell = get_cell(cell)
    options = cell_options(the_cell, config)
    params = cell_params(config, prob.weights, 0, 0)
    n = config.hidden_size
    c0 = np.zeros(n) if the_cell.state_factor == 2 else None
    trace = the_cell.forward(params, prob.inputs, np.zeros(n), c0, options)
    h_t = the_cell.state_vectors(trace)[-1, :n]
    logits = prob.weights["output.weight"] @ h_t + prob.weights["output.bias"]
    p = np.exp(logits - logits.max())
    p /= p.sum()
    p[prob.targets[0]] -= 1.0
    v = prob.weights["output.weight"].T @ p
    ref = bptt(the_cell, params, trace, prob.inputs, injected={config.seq_len: v})
    ours = result.gradient.gradients()
    factor = 10.0**ref.grads.log10_scale
    for kind, m in ref.grads.mantissa.items():
        np.testing.assert_allclose(ours[f"{kind}_l0"], m * factor, rtol=1e-12, atol=1e-15)
    # bptt's log10_dh runs over l = T - t = 0..T; ours over t = 1..T
    np.testing.assert_allclose(
        result.gradient.layer_time["forward"][0], ref.log10_dh[:-1][::-1], rtol=0, atol=1e-12
    )


def test_parameter_names_and_shapes_follow_pytorch():
    config = _config("lstm", 2, True, hidden_size=5, input_size=3, vocab_size=7)
    shapes = parameter_shapes(config)
    assert list(shapes)[:8] == [
        "weight_ih_l0",
        "weight_hh_l0",
        "bias_ih_l0",
        "bias_hh_l0",
        "weight_ih_l0_reverse",
        "weight_hh_l0_reverse",
        "bias_ih_l0_reverse",
        "bias_hh_l0_reverse",
    ]
    assert shapes["weight_ih_l0"] == (20, 3)
    assert shapes["weight_ih_l1"] == (20, 10)  # layer 1 reads [forward; backward]
    assert shapes["weight_hh_l1_reverse"] == (20, 5)
    assert shapes["output.weight"] == (7, 10)
    assert shapes["output.bias"] == (7,)
    gru = parameter_shapes(replace(config, cell="gru", bidirectional=False))
    assert gru["weight_ih_l1"] == (15, 5)
    assert "weight_hh_l1_reverse" not in gru


def test_draws_are_seeded_and_layers_are_stable():
    config = _config("gru", 2, True)
    a, b = draw_network_problem(config), draw_network_problem(config)
    for name in a.weights:
        np.testing.assert_array_equal(a.weights[name], b.weights[name])
    deeper = draw_network_problem(replace(config, num_layers=4))
    for name in a.weights:  # growing num_layers keeps the layers below and the rest
        np.testing.assert_array_equal(a.weights[name], deeper.weights[name])
    assert a.targets.shape == (config.seq_len,)
    assert np.all((a.targets >= 0) & (a.targets < config.vocab_size))
    assert draw_network_problem(replace(config, loss="last")).targets.shape == (1,)


def test_mismatched_weights_are_refused_naming_the_expected():
    config = _config("rnn", 2, False)
    prob = draw_network_problem(config)
    weights = dict(prob.weights)
    weights["weight_hh_l1"] = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"weight_hh_l1 \[3, 3\]"):
        check_weights(config, weights)
    with pytest.raises(ValueError, match="weight_ih_l0"):
        network(config, NetworkProblem({}, prob.inputs, prob.targets))


@pytest.mark.parametrize(
    ("field", "value"),
    [("num_layers", 0), ("num_layers", 9), ("vocab_size", 1), ("vocab_size", 65),
     ("skip", "dense"), ("loss", "mean"), ("cell", "xlstm"), ("peephole", True)],
)  # fmt: skip
def test_config_bounds(field, value):
    with pytest.raises(ValueError, match=field):
        NetworkConfig(**{field: value})


def test_vanishing_gradients_stay_exact_in_the_log_domain():
    """A deep tanh RNN with tiny recurrent and input weights: dL/dh of the bottom layer falls
    far below float64's range, and layer_time still reports it (finite, decreasing with
    depth), never -inf."""
    config = _config("rnn", 8, False, seq_len=30, scale=1e-3)
    prob = draw_network_problem(config)
    weights = {
        k: (v * 1e-30 if k.startswith("weight_ih_l") and k != "weight_ih_l0" else v)
        for k, v in prob.weights.items()
    }
    grad = network(config, NetworkProblem(weights, prob.inputs, prob.targets)).gradient
    lt = grad.layer_time["forward"]
    assert np.all(np.isfinite(lt))
    assert lt[0].max() < -200  # seven factors of 1e-30 below the top
    assert np.all(np.diff(lt[:, -1]) > 0)


INFLUENCE_CASES = [
    ("rnn", 1, False, "none"),
    ("lstm", 2, False, "residual"),
    ("gru", 1, True, "none"),
    ("lstm", 2, True, "none"),
    ("rnn", 3, True, "residual"),
    ("gru", 2, True, "residual"),
]


@pytest.mark.parametrize(("cell", "layers", "bidi", "skip"), INFLUENCE_CASES)
def test_influence_matches_finite_difference_jacobians(cell, layers, bidi, skip):
    """log10 ||dy_t^(d)/dx_k||_2 against the spectral norm of the finite-difference Jacobian
    of the reference's output half d at t by x_k; exactly zero (-inf) where it must be."""
    config = _config(cell, layers, bidi, skip, seq_len=4)
    prob = draw_network_problem(config)
    maps = influence_map(config, prob.weights, network(config, prob).trace)
    n, t_len = config.hidden_size, config.seq_len
    assert set(maps) == ({"forward", "backward"} if bidi else {"forward"})
    for k in range(t_len):

        def outputs_of(xk, k=k):
            x = prob.inputs.copy()
            x[k] = xk
            return reference_outputs(config, prob.weights, x)

        jac = fd_jacobian(lambda xk: outputs_of(xk).ravel(), prob.inputs[k])
        jac = jac.reshape(t_len, config.output_size, config.input_size)
        for d, name in enumerate(("forward", "backward")[: config.directions]):
            for t in range(t_len):
                block = jac[t, d * n : (d + 1) * n]
                got = maps[name][t, k]
                causal_zero = (name == "forward" and (not bidi or layers == 1) and k > t) or (
                    name == "backward" and layers == 1 and k < t
                )
                if causal_zero:
                    assert got == -np.inf
                    assert np.abs(block).max() == 0.0
                else:
                    want = np.log10(np.linalg.norm(block, 2))
                    assert abs(got - want) < 1e-5, (name, t, k, got, want)
    if bidi and layers >= 2:  # the forward half sees what comes after it, through layer 0
        assert np.all(np.isfinite(maps["forward"]))


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
@pytest.mark.parametrize(("a", "b"), [(0.5, 1.5), (-0.9, 0.7), (1.1, 1.0), (0.3, 1e-120)])
def test_influence_of_a_linear_stack_in_closed_form(layers, a, b):
    """phi = identity, W_hh = a I, W_ih = b I, zero biases, in every layer: each layer is the
    causal filter b / (1 - a z), so dy_t/dx_k = b^L C(t - k + L - 1, L - 1) a^(t - k) I for
    k <= t and 0 above the diagonal. b = 1e-120 puts four layers' map near 1e-480, beyond
    float64: the log domain keeps it exact."""
    from math import comb

    n = 3
    config = _config("rnn", layers, nonlinearity="identity", hidden_size=n, input_size=n, seq_len=6)
    prob = draw_network_problem(config)
    weights = dict(prob.weights)
    for k in range(layers):
        weights[f"weight_ih_l{k}"] = b * np.eye(n)
        weights[f"weight_hh_l{k}"] = a * np.eye(n)
        weights[f"bias_ih_l{k}"] = np.zeros(n)
        weights[f"bias_hh_l{k}"] = np.zeros(n)
    problem = NetworkProblem(weights, prob.inputs, prob.targets)
    got = influence_map(config, weights, network(config, problem).trace)["forward"]
    for t in range(config.seq_len):
        for k in range(config.seq_len):
            if k > t:
                assert got[t, k] == -np.inf
            else:
                m = t - k
                want = layers * np.log10(abs(b)) + np.log10(comb(m + layers - 1, layers - 1))
                want += m * np.log10(abs(a))
                assert abs(got[t, k] - want) < 1e-12


def test_a_forward_pass_beyond_float64_is_refused_naming_the_step():
    """A ReLU RNN with a large W_hh explodes past float64 in the forward pass (which is in
    float64, as PyTorch's): refused with a ValueError, not carried as inf or NaN."""
    config = NetworkConfig(
        cell="rnn", nonlinearity="relu", scale=30.0, seq_len=300, num_layers=2, hidden_size=8
    )
    with pytest.raises(NetworkOverflowError, match=r"layer 0's output exceeds float64 at step"):
        network(config)


@pytest.mark.parametrize("chunk_sources", [None, 2])
@pytest.mark.parametrize(("cell", "layers", "bidi", "skip"), INFLUENCE_CASES)
def test_influence_by_blocks_equals_influence_by_vectors(
    cell, layers, bidi, skip, chunk_sources, monkeypatch
):
    """The map by blocks of tangents equals the map by one covector at a time, with all the
    sources in one block and in blocks of two (the memory bound of long sequences)."""
    config = _config(cell, layers, bidi, skip, seq_len=5)
    if chunk_sources is not None:
        width = max(config.output_size, config.input_size)  # as influence_map sizes a chunk
        per_source = 8 * config.seq_len * width * config.input_size
        monkeypatch.setattr(influence, "CHUNK_BYTES", chunk_sources * per_source)
    prob = draw_network_problem(config)
    trace = network(config, prob).trace
    slow = influence_by_vectors(config, prob.weights, trace)
    for name, fast in influence_map(config, prob.weights, trace).items():
        assert np.array_equal(fast == -np.inf, slow[name] == -np.inf)
        live = np.isfinite(fast)
        np.testing.assert_allclose(fast[live], slow[name][live], rtol=0, atol=1e-12)
