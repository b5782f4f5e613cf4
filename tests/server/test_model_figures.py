"""The captions of a user's model's figures (server/figures/model.py) state the numbers of
that analysis: the Jacobian norms' extremes at l = T, exact zeros, the estimates' error."""

import math

import numpy as np

from bpttlab.engine.model_analysis import analyze_model
from bpttlab.engine.model_io import load_model
from bpttlab.engine.probes import probe_standard_error
from bpttlab.server.figures.model import model_figures
from bpttlab.server.figures.style import power

from ..engine.test_model_io import state_dict


def _caption(a, name):
    return next(f["summary"] for f in model_figures(a) if f["name"] == name)


def test_the_jacobian_caption_names_the_extremes_at_the_last_distance():
    m = load_model(state_dict("gru", 2, True, hidden=4, inp=3, seed=1), seq_len=9)
    a = analyze_model(m, mode="exact")
    ends = {
        (k, name): float(layers[k]["h"].frobenius.log10[-1])
        for name, layers in a.jacobians.items()
        for k in range(2)
    }
    (lo_k, lo_d), (hi_k, hi_d) = min(ends, key=ends.get), max(ends, key=ends.get)
    text = _caption(a, "jacobians")
    assert text.startswith(
        "Exact: the Frobenius norm (solid; dashed for the backward direction) and the spectral "
        "norm (dotted)."
    )
    assert (
        f"ranges from {power(ends[lo_k, lo_d])} (layer {lo_k + 1} {lo_d}) to "
        f"{power(ends[hi_k, hi_d])} (layer {hi_k + 1} {hi_d})"
    ) in text
    assert f"sqrt(n) = {power(0.5 * math.log10(4))}" in text
    names = [f["name"] for f in model_figures(a)]
    assert names == ["layer_time", "influence", "influence_union", "terms", "jacobians"]


def test_a_dead_relu_network_is_said_to_be_exactly_zero():
    sd = state_dict("rnn", 1, False, hidden=3, inp=2, seed=1)
    sd["bias_ih_l0"] = np.full(3, -50.0, dtype=np.float32)  # every pre-activation < 0: h = 0
    a = analyze_model(load_model(sd, nonlinearity="relu", seq_len=6), mode="exact")
    j = a.jacobians["forward"][0]["h"]
    assert np.all(np.isneginf(j.frobenius.log10[1:]))  # J_t = diag(0) W_hh = 0
    text = _caption(a, "jacobians")
    assert "it is exactly zero in layer 1 from l = 1 on" in text and "ranges" not in text


def test_the_estimate_caption_states_the_standard_error_of_its_probes():
    m = load_model(state_dict("lstm", 1, False, hidden=5, inp=2, seed=2), seq_len=7)
    for k in (4, 32):
        a = analyze_model(m, mode="matrix_free", probes=k)
        text = _caption(a, "jacobians")
        assert f"Estimated from k = {k} random probes" in text
        assert f"standard error of {probe_standard_error(k):.2g} decades" in text
        assert "||dh_T/d(h, c)_{T-l}||_F is " in text  # the LSTM's whole-state Jacobian, one


def test_one_step_is_said_as_one_step():
    m = load_model(state_dict("lstm", 1, False, hidden=3, inp=2, seed=2), seq_len=1)
    a = analyze_model(m, mode="exact")
    text = _caption(a, "layer_time")
    value = float(a.layer_time["forward"].log10[0, 0])
    assert f"||dL/dh_t|| is {power(value)} at its one step" in text and "1 steps" not in text
