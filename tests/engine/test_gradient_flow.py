"""The assembled experiment: summary, bound, determinism, log-domain extremes."""

import itertools

import numpy as np
import pytest

from bpttlab.engine import GradientFlowConfig, gradient_flow
from bpttlab.engine.cells import GRUTrace, LSTMTrace, RNNTrace
from bpttlab.engine.gradient_flow import memory_horizon
from bpttlab.engine.nonlinearity import NONLINEARITIES


@pytest.mark.parametrize(
    "nl,init,scale",
    list(
        itertools.product(sorted(NONLINEARITIES), ["gaussian", "orthogonal", "pytorch"], [0.5, 2.0])
    ),
)
def test_the_measured_profile_never_exceeds_pascanus_bound(nl, init, scale):
    r = gradient_flow(GradientFlowConfig(nonlinearity=nl, init=init, scale=scale, seq_len=60))
    finite = np.isfinite(r.profile.spectral)
    assert np.all(r.profile.spectral[finite] <= r.log10_bound[finite] + 1e-9)


def test_summary_names_horizon_and_regime():
    r = gradient_flow(GradientFlowConfig(nonlinearity="sigmoid", seq_len=200))
    s = r.profile.spectral
    assert r.summary.horizon == int(np.argmax(s < -3))
    assert np.all(s[: r.summary.horizon] >= -3)
    assert r.summary.regime == "vanishing"
    assert r.summary.vanishing_guaranteed  # sigma_max = 1.x < 1/gamma = 4
    assert r.summary.gamma == 0.25
    assert r.summary.gamma_sigma_max == pytest.approx(0.25 * r.spectrum.spectral_norm)

    boom = gradient_flow(GradientFlowConfig(nonlinearity="identity", init="orthogonal", scale=1.1))
    assert boom.summary.regime == "exploding" and boom.summary.horizon is None
    assert boom.summary.log10_growth_per_step == pytest.approx(np.log10(1.1))

    flat = gradient_flow(GradientFlowConfig(nonlinearity="identity", init="orthogonal", scale=1.0))
    assert flat.summary.regime == "neither"


def test_rho_3_and_0_1_at_t_1000_are_finite_and_right():
    for rho, expected in ((3.0, 1000 * np.log10(3.0)), (0.1, -1000.0)):
        cfg = GradientFlowConfig(
            nonlinearity="identity", init="orthogonal", scale=rho, seq_len=1000, clip="norm"
        )
        r = gradient_flow(cfg)
        assert r.profile.spectral[-1] == pytest.approx(expected, abs=1e-9)
        assert np.all(np.isfinite(r.gradient.log10_dh))
        assert np.all(np.isfinite(r.profile.spectral))
        after = r.clipping.log10_norm_after  # min(norm, threshold 1), up to PyTorch's 1e-6
        assert after == pytest.approx(min(0.0, r.clipping.log10_norm_before), abs=1e-6)


def test_spectrum_and_bound():
    r = gradient_flow(GradientFlowConfig(hidden_size=12, scale=0.8))
    w = r.problem.params.weight_hh
    assert r.spectrum.spectral_radius == pytest.approx(0.8)
    assert r.spectrum.spectral_norm == pytest.approx(np.linalg.norm(w, 2))
    np.testing.assert_allclose(
        np.sort(np.abs(r.spectrum.eigenvalues)), np.sort(np.abs(np.linalg.eigvals(w)))
    )
    np.testing.assert_allclose(r.log10_bound, r.distance * np.log10(r.spectrum.spectral_norm))


def test_zero_weights_give_exact_zeros_not_nans():
    r = gradient_flow(GradientFlowConfig(scale=0.0, seq_len=5))
    assert r.profile.spectral[0] == 0.0 and np.all(r.profile.spectral[1:] == -np.inf)
    assert np.all(r.log10_bound[1:] == -np.inf) and r.summary.horizon == 1


def test_same_config_same_numbers_and_bad_choices_refused():
    a, b = gradient_flow(GradientFlowConfig(seed=5)), gradient_flow(GradientFlowConfig(seed=5))
    np.testing.assert_array_equal(a.profile.spectral, b.profile.spectral)
    for bad in (
        {"cell": "transformer"},
        {"clip": "both"},
        {"seq_len": 0},
        {"clip_threshold": 0.0},
        {"gru_form": "keras"},
        {"peephole": "yes"},
        {"forget_bias": np.inf},
        {"update_bias": np.nan},
    ):
        with pytest.raises(ValueError):
            GradientFlowConfig(**bad)


# --- gated cells -----------------------------------------------------------------------------

LN10 = float(np.log(10.0))
N, D, T = 5, 3, 7
CELL_CONFIGS = {
    "rnn": {"cell": "rnn"},
    "lstm": {"cell": "lstm"},
    "lstm-peephole": {"cell": "lstm", "peephole": True, "forget_bias": 1.0},
    "gru-pytorch": {"cell": "gru", "update_bias": 1.0},
    "gru-lecture": {"cell": "gru", "gru_form": "lecture", "update_bias": -1.0},
}
TRACES = {"rnn": RNNTrace, "lstm": LSTMTrace, "gru": GRUTrace}
GATE_KEYS = {
    "rnn": set(),
    "lstm": {"i", "f", "g", "o", "c"},
    "lstm-peephole": {"i", "f", "g", "o", "c"},
    "gru-pytorch": {"r", "z"},
    "gru-lecture": {"r", "u"},
}


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def test_field_names_keep_the_old_order_and_append_the_new_controls():
    assert GradientFlowConfig.field_names() == (
        *("cell", "nonlinearity", "hidden_size", "input_size", "seq_len", "init", "scale"),
        *("input", "input_scale", "h0", "seed", "clip", "clip_threshold"),
        *("gru_form", "peephole", "forget_bias", "update_bias"),
        *("truncation", "keep_prob", "draws"),
    )


@pytest.mark.parametrize("clip", ["none", "norm"])
@pytest.mark.parametrize("name", sorted(CELL_CONFIGS))
def test_every_field_has_its_shape(name, clip):
    cfg = GradientFlowConfig(
        **CELL_CONFIGS[name], hidden_size=N, input_size=D, seq_len=T, h0="random", clip=clip
    )
    r = gradient_flow(cfg)
    gated = cfg.cell != "rnn"
    assert isinstance(r.trace, TRACES[cfg.cell])
    np.testing.assert_array_equal(r.distance, np.arange(T + 1))
    for prof, length in ((r.profile, T + 1), (r.input_sensitivity, T)):
        assert prof.spectral.shape == prof.frobenius.shape == (length,)
        assert np.all(np.isfinite(prof.spectral))
    assert r.profile.spectral[0] == pytest.approx(0.0, abs=1e-12)  # l = 0: the identity
    assert (r.log10_bound is None) == gated
    if not gated:
        assert r.log10_bound.shape == (T + 1,)
    assert r.spectrum.eigenvalues.shape == r.spectrum.singular_values.shape == (N,)
    assert r.gradient.log10_dh.shape == (T + 1,)
    assert r.gradient.log10_contribution.shape == (T,)
    assert np.isfinite(r.gradient.log10_loss)
    names = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"} | (
        {"peephole"} if cfg.peephole and cfg.cell == "lstm" else set()
    )
    assert set(r.gradient.grads.mantissa) == names
    for k, v in r.gradient.grads.mantissa.items():
        assert v.shape == getattr(r.problem.params, k).shape
    assert (r.clipping.clipped is None) == (clip == "none")
    assert set(r.blocks) == ({"hh", "cc"} if cfg.cell == "lstm" else set())
    for prof in r.blocks.values():
        assert prof.spectral.shape == (T + 1,)
    assert set(r.gates) == set(r.gate_means) == GATE_KEYS[name]
    for k, v in r.gates.items():
        assert v.shape == (T, N)
        np.testing.assert_array_equal(r.gate_means[k], v.mean(axis=1))
    s = r.summary
    assert (s.gamma is None, s.gamma_sigma_max is None, s.vanishing_guaranteed is None) == (
        (gated,) * 3
    )
    assert s.input_horizon is None or 1 <= s.input_horizon < T
    again = gradient_flow(cfg)
    np.testing.assert_array_equal(again.profile.spectral, r.profile.spectral)


@pytest.mark.parametrize("peephole", [False, True])
@pytest.mark.parametrize("seed", [0, 3])
def test_lstm_gates_recomputed_from_the_parameters(seed, peephole):
    cfg = GradientFlowConfig(cell="lstm", peephole=peephole, seed=seed, seq_len=20, h0="random")
    r = gradient_flow(cfg)
    p, x, n = r.problem.params, r.problem.inputs, cfg.hidden_size
    peep = p.peephole if peephole else np.zeros((3, n))
    h, c = r.problem.h0, r.problem.c0
    for t in range(1, cfg.seq_len + 1):  # the written-out equations, carrying our own h, c
        a = p.weight_ih @ x[t - 1] + p.bias_ih + p.weight_hh @ h + p.bias_hh
        i = _sigmoid(a[:n] + peep[0] * c)
        f = _sigmoid(a[n : 2 * n] + peep[1] * c)
        g = np.tanh(a[2 * n : 3 * n])
        c = f * c + i * g
        o = _sigmoid(a[3 * n :] + peep[2] * c)
        h = o * np.tanh(c)
        for k, v in zip("ifgoc", (i, f, g, o, c), strict=True):
            np.testing.assert_allclose(r.gates[k][t - 1], v, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r.trace.h[-1], h, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("form,update", [("pytorch", "z"), ("lecture", "u")])
def test_gru_gates_recomputed_from_the_parameters(form, update):
    cfg = GradientFlowConfig(cell="gru", gru_form=form, seq_len=20, h0="random", update_bias=0.5)
    r = gradient_flow(cfg)
    p, x, n = r.problem.params, r.problem.inputs, cfg.hidden_size
    w, b = p.weight_hh, p.bias_hh
    h = r.problem.h0
    for t in range(1, cfg.seq_len + 1):
        gi = p.weight_ih @ x[t - 1] + p.bias_ih
        rr = _sigmoid(gi[:n] + w[:n] @ h + b[:n])
        zz = _sigmoid(gi[n : 2 * n] + w[n : 2 * n] @ h + b[n : 2 * n])
        if form == "pytorch":
            h = (1 - zz) * np.tanh(gi[2 * n :] + rr * (w[2 * n :] @ h + b[2 * n :])) + zz * h
        else:
            h = (1 - zz) * h + zz * np.tanh(gi[2 * n :] + w[2 * n :] @ (rr * h) + b[2 * n :])
        np.testing.assert_allclose(r.gates["r"][t - 1], rr, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(r.gates[update][t - 1], zz, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(r.trace.h[-1], h, rtol=1e-12, atol=1e-14)


def test_gated_spectrum_is_of_the_candidates_recurrent_block():
    for cell, rows in (("lstm", slice(64, 96)), ("gru", slice(64, 96))):
        r = gradient_flow(GradientFlowConfig(cell=cell, scale=0.7, seq_len=5))
        block = r.problem.params.weight_hh[rows]  # LSTM rows i|f|g|o, GRU rows r|z|n (n = 32)
        assert r.spectrum.spectral_radius == pytest.approx(0.7)  # gaussian init, per block
        assert r.spectrum.spectral_norm == pytest.approx(np.linalg.norm(block, 2))


def test_lstm_open_forget_gate_keeps_the_cell_state_through_the_experiment():
    """With W_hh = 0 (scale 0) and no peepholes, d(h_t, c_t)/d(h_{t-1}, c_{t-1}) is
    [[0, diag(o (1 - tanh^2 c) f)], [0, diag(f)]], so the products are block upper
    triangular: dc_T/dc_{T-l} = diag(prod f) exactly, and dh_T/dh_{T-l} = 0 for l >= 1.

    Tolerance: a_f = W_if x_t + b_if + b_hf + 20 with every entry of W_ih, b_ih, b_hh in
    [-k, k], k = 1/sqrt(n), so a_f >= 20 - k (2 + ||x_t||_1) =: a_t. 1 - f = sigma(-a_f) <=
    e^{-a_t} =: e_t and -log10 f <= e_t / ((1 - e_t) ln 10), summed over the steps.
    """
    cfg = GradientFlowConfig(cell="lstm", forget_bias=20.0, scale=0.0, seq_len=50, h0="random")
    r = gradient_flow(cfg)
    cc, f = r.blocks["cc"].spectral, r.gates["f"]
    a_lo = 20.0 - (2.0 + np.abs(r.problem.inputs).sum(axis=1)) / np.sqrt(cfg.hidden_size)
    e = np.exp(-a_lo)
    tol = float(np.sum(e / (1.0 - e)) / LN10)
    assert tol < 1e-6  # the claim: within 1e-6 of log10 1 over T = 50
    assert np.all(cc <= 1e-12) and np.all(cc >= -tol)
    # the closed form itself: log10 max_j prod_{t > T-l} f_{t,j}
    log_prod = np.vstack([np.zeros((1, cfg.hidden_size)), np.cumsum(np.log(f[::-1]), axis=0)])
    np.testing.assert_allclose(cc, np.max(log_prod, axis=1) / LN10, rtol=1e-9, atol=1e-15)
    assert np.all(r.blocks["hh"].spectral[1:] == -np.inf)
    assert np.all(1.0 - f <= np.exp(-a_lo)[:, None])


def test_lstm_with_recurrent_weights_the_cc_block_is_not_the_forget_product():
    """With W_hh != 0, dc_T/dc_k is a total derivative: besides diag(prod f) it carries the
    paths c -> h -> gates -> c, whose step factor i * tanh'(a_g) W_hg is O(1) while the
    input gate is open. So f ~ 1 keeps the per-step partial at 1, not the whole block."""
    cfg = GradientFlowConfig(cell="lstm", forget_bias=20.0, seq_len=50)
    r = gradient_flow(cfg)
    prod_f = np.max(np.sum(np.log(r.gates["f"]), axis=0)) / LN10
    assert prod_f > -1e-6  # every step's partial dc_t/dc_{t-1} = diag(f_t) is ~ I ...
    assert abs(r.blocks["cc"].spectral[-1] - prod_f) > 0.1  # ... yet the block is not


def _gru_tolerance(r) -> float:
    """A bound on |log10 ||dh_T/dh_0|| | when the update gate keeps the state.

    Both forms: J_t = I + E_t with E_t = -diag(e) + diag(e' tanh'(a_n)) da_n
    + diag(+-(h - n) sigma'(a_z)) W_hz, where e = 1 - z (pytorch) or u (lecture) is the
    share of the new content, e' the same, and sigma'(a_z) = z (1 - z) <= e. With eps_t =
    max e, |h|, |n| <= 1 (h_0 = 0 and convex combinations of tanh values) and
    ||da_n|| <= max|m| / 4 ||W_hr|| + ||W_hn|| (pytorch; m = W_hn h + b_hn),
    ||W_hn|| (1 + max|h| / 4 ||W_hr||) (lecture):
    ||E_t|| <= eps_t (1 + ||da_n|| + 2 ||W_hz||). Then ||P - I|| <= prod(1 + ||E_t||) - 1
    =: delta, and |log10 ||P||| <= -log10(1 - delta).
    """
    p, n, tr = r.problem.params, r.config.hidden_size, r.trace
    w = p.weight_hh
    nr, nz, nn = (np.linalg.norm(w[j * n : (j + 1) * n], 2) for j in range(3))
    gate = r.gates["z"] if p.form == "pytorch" else r.gates["u"]
    share = 1.0 - gate if p.form == "pytorch" else gate
    eps = share.max(axis=1)
    h_prev = tr.h[:-1]
    if p.form == "pytorch":
        m = h_prev @ w[2 * n :].T + p.bias_hh[2 * n :]
        da_n = np.abs(m).max(axis=1) / 4 * nr + nn
    else:
        da_n = nn * (1 + np.abs(h_prev).max(axis=1) / 4 * nr)
    step = eps * (1 + da_n + 2 * nz)
    delta = float(np.expm1(np.sum(np.log1p(step))))
    assert delta < 0.5
    return float(-np.log10(1.0 - delta))


@pytest.mark.parametrize("form,bias", [("pytorch", 20.0), ("lecture", -20.0)])
def test_gru_update_bias_that_keeps_the_state_through_the_experiment(form, bias):
    cfg = GradientFlowConfig(cell="gru", gru_form=form, update_bias=bias, seq_len=50)
    r = gradient_flow(cfg)
    tol = _gru_tolerance(r)
    assert tol < 1e-5
    assert np.all(np.abs(r.profile.spectral) <= tol)
    assert r.summary.regime == "neither" and r.summary.horizon is None


@pytest.mark.parametrize("form,bias", [("pytorch", -20.0), ("lecture", 20.0)])
def test_gru_opposite_update_bias_overwrites_the_state(form, bias):
    cfg = GradientFlowConfig(cell="gru", gru_form=form, update_bias=bias, seq_len=50)
    r = gradient_flow(cfg)
    assert abs(r.profile.spectral[-1]) > 1.0  # far from log10 1: the state is not kept


@pytest.mark.parametrize(
    "profile,drop,expected",
    [
        (np.arange(40) * np.log10(0.5), 3.0, int(np.ceil(3 / np.log10(2)))),  # = 10
        (np.arange(40) * np.log10(0.5), 1.0, int(np.ceil(1 / np.log10(2)))),  # = 4
        (np.array([0.0, -1.0, -2.0, -3.0, -4.0]), 3.0, 4),  # exactly -3 is not below
        (np.array([5.0, 4.0, 2.0, 1.9]), 3.0, 3),  # relative to the value at l = 0
        (np.array([0.0, 1.0, -2.9, 0.5]), 3.0, None),  # never
        (np.array([0.0, -1.0, -np.inf]), 3.0, 2),  # an exact zero is below anything
        (np.array([-np.inf, -np.inf]), 3.0, None),  # nothing is below -inf
        (np.array([2.0]), 3.0, None),
    ],
)
def test_memory_horizon_closed_forms(profile, drop, expected):
    assert memory_horizon(profile, drop) == expected


def test_input_horizon_of_a_scaled_orthogonal_linear_rnn():
    # identity phi, W_hh = 0.5 Q: dh_T/dx_{T-l} = (0.5 Q)^l W_ih, norm 0.5^l ||W_ih||
    r = gradient_flow(
        GradientFlowConfig(nonlinearity="identity", init="orthogonal", scale=0.5, seq_len=30)
    )
    s = r.input_sensitivity.spectral
    np.testing.assert_allclose(s - s[0], np.arange(30) * np.log10(0.5), atol=1e-10)
    assert r.summary.input_horizon == int(np.ceil(3 / np.log10(2)))


def test_an_open_forget_gate_remembers_inputs_longer_than_a_tanh_rnn():
    rnn = gradient_flow(GradientFlowConfig())
    lstm = gradient_flow(GradientFlowConfig(cell="lstm", forget_bias=20.0))
    assert rnn.summary.input_horizon == memory_horizon(rnn.input_sensitivity.spectral)
    assert rnn.summary.input_horizon is not None
    assert lstm.summary.input_horizon is None or (
        lstm.summary.input_horizon > rnn.summary.input_horizon
    )
