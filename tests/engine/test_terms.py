"""The double sum of the BPTT deck (engine.terms) against finite differences of the reference
forward pass of test_network, which can give the first layer's cell another W_hh at one
position only: each term (dL_t/dz_k)(dz_k/dW_hh)^+ is the derivative of L_t alone by W_hh
used at step k alone. Then the rows' sums, the whole sum, the map's exact zeros, and a
linear one-layer network whose terms have a closed form far below float64's range.
"""

import numpy as np
import pytest

from bpttlab.engine.network import draw_network_problem, network, network_forward, param_name
from bpttlab.engine.terms import layer0_terms, terms_map

from .gradcheck import check_grad
from .test_network import _config, reference_loss, reference_outputs


def dense(terms, k):
    """The term at position k (0-based) as a matrix, from its factors (plain floats)."""
    blocks = [np.outer(left[k], right[k]) for left, right in terms.blocks]
    if terms.scale[k] == -np.inf:
        return np.zeros((sum(b.shape[0] for b in blocks), blocks[0].shape[1]))
    return np.vstack(blocks) * 10.0 ** terms.scale[k]


CASES = [
    ("rnn", 1, False, "none", "every"),
    ("lstm", 1, False, "none", "every"),
    ("gru", 1, True, "none", "every"),
    ("rnn", 2, True, "residual", "every"),
    ("lstm", 2, True, "none", "last"),
    ("gru", 3, False, "residual", "every"),
    ("lstm", 2, True, "residual", "every"),
]


@pytest.mark.parametrize(("cell", "layers", "bidi", "skip", "loss"), CASES)
def test_every_term_is_the_derivative_of_one_loss_by_one_steps_weights(
    cell, layers, bidi, skip, loss
):
    config = _config(cell, layers, bidi, skip, loss, seq_len=4)
    prob = draw_network_problem(config)
    trace = network_forward(config, prob.weights, prob.inputs, prob.targets)
    per_direction = layer0_terms(config, prob.weights, trace, prob.targets)
    assert len(per_direction) == config.directions
    rng = np.random.default_rng(11)
    for d, per_loss in enumerate(per_direction):
        w = prob.weights[param_name("weight_hh", 0, d)]
        expected_steps = range(4) if loss == "every" else [3]
        assert sorted(per_loss) == list(expected_steps)
        for t, terms in per_loss.items():
            for k in range(config.seq_len):

                def loss_at(v, t=t, k=k, d=d):
                    step_hh = {(0, d, k + 1): v}
                    return reference_loss(
                        config, prob.weights, prob.inputs, prob.targets, step_hh=step_hh,
                        only=t + 1,
                    )  # fmt: skip

                check_grad(loss_at, dense(terms, k), w, rng, directions=1, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("cell", "layers", "bidi", "skip", "loss"), CASES)
def test_the_terms_sum_to_the_gradient_and_the_map_is_their_norms(cell, layers, bidi, skip, loss):
    config = _config(cell, layers, bidi, skip, loss, seq_len=5)
    prob = draw_network_problem(config)
    result = network(config, prob)
    grads = result.gradient.gradients()
    maps = terms_map(config, prob.weights, result.trace, prob.targets)
    per_direction = layer0_terms(config, prob.weights, result.trace, prob.targets)
    rng = np.random.default_rng(5)
    for d, per_loss in enumerate(per_direction):
        name = param_name("weight_hh", 0, d)
        total = np.zeros_like(prob.weights[name])
        out = maps["forward" if d == 0 else "backward"]
        assert out.shape == (config.seq_len, config.seq_len)
        for t in range(config.seq_len):
            if t not in per_loss:  # loss=last: only the last step has a loss
                assert np.all(out[t] == -np.inf)
                continue
            row = sum(dense(per_loss[t], k) for k in range(config.seq_len))

            def loss_t(v, t=t, name=name):
                weights = {**prob.weights, name: v}
                return reference_loss(config, weights, prob.inputs, prob.targets, only=t + 1)

            check_grad(loss_t, row, prob.weights[name], rng, directions=1, rtol=1e-6, atol=1e-9)
            total += row
            for k in range(config.seq_len):
                norm = np.linalg.norm(dense(per_loss[t], k))
                if norm == 0.0:
                    assert out[t, k] == -np.inf
                else:
                    assert out[t, k] == pytest.approx(np.log10(norm), abs=1e-12)
        np.testing.assert_allclose(total, grads[name], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_one_layer_network_has_exact_zeros_where_the_loss_cannot_reach(cell):
    config = _config(cell, 1, True, "none", "every", seq_len=6)
    prob = draw_network_problem(config)
    result = network(config, prob)
    maps = terms_map(config, prob.weights, result.trace, prob.targets)
    t, k = np.indices((6, 6))  # 0-based; W_hh's first use multiplies the zero initial state
    assert np.all(maps["forward"][(k > t) | (k == 0)] == -np.inf)
    assert np.all(np.isfinite(maps["forward"][(k <= t) & (k > 0)]))
    assert np.all(maps["backward"][(k < t) | (k == 5)] == -np.inf)
    assert np.all(np.isfinite(maps["backward"][(k >= t) & (k < 5)]))
    stacked = _config(cell, 2, True, "none", "every", seq_len=6)
    prob = draw_network_problem(stacked)
    result = network(stacked, prob)
    maps = terms_map(stacked, prob.weights, result.trace, prob.targets)
    # every loss reaches every position from layer 2 on, but the first step's use of W_hh
    assert np.all(np.isfinite(maps["forward"][:, 1:])) and np.all(maps["forward"][:, 0] == -np.inf)
    assert np.all(np.isfinite(maps["backward"][:, :-1])) and np.all(
        maps["backward"][:, -1] == -np.inf
    )


def test_a_linear_layers_terms_follow_the_closed_form_beyond_float64():
    """Identity RNN with W_hh = a I: dL_t/dh_k = a^(t-k) e_t with e_t = W_out^T (softmax -
    onehot) at step t, and the term is outer(a^(t-k) e_t, h_{k-1}): its norm is
    |a|^(t-k) ||e_t|| ||h_{k-1}||, down to 1e-550 here."""
    a, t_len = 1e-50, 12
    config = _config("rnn", 1, False, "none", "every", nonlinearity="identity", seq_len=t_len)
    prob = draw_network_problem(config)
    weights = {**prob.weights, "weight_hh_l0": a * np.eye(config.hidden_size)}
    trace = network_forward(config, weights, prob.inputs, prob.targets)
    out = terms_map(config, weights, trace, prob.targets)["forward"]
    h = reference_outputs(config, weights, prob.inputs)
    h_prev = np.vstack([np.zeros(config.hidden_size), h[:-1]])
    logits = h @ weights["output.weight"].T + weights["output.bias"]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(t_len), prob.targets] -= 1.0
    e = p @ weights["output.weight"]
    assert out.min() < -500  # the closed form is checked far below float64's range
    for t in range(t_len):
        for k in range(t + 1):
            if k == 0:  # h_0 = 0: the first step's term is exactly zero
                assert out[t, k] == -np.inf
                continue
            want = (t - k) * np.log10(a) + np.log10(np.linalg.norm(e[t]))
            want += np.log10(np.linalg.norm(h_prev[k]))
            assert out[t, k] == pytest.approx(want, abs=1e-9)
