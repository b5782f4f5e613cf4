import numpy as np
import pytest

from bpttlab.engine import GradientFlowConfig
from bpttlab.engine.compare import compare_cells
from bpttlab.engine.gradient_flow import memory_horizon


def test_the_three_cells_read_the_same_inputs():
    r = compare_cells(GradientFlowConfig(seq_len=20, h0="random"))
    problems = [m.result.problem for m in r.cells.values()]
    for p in problems[1:]:
        np.testing.assert_array_equal(p.inputs, problems[0].inputs)
        np.testing.assert_array_equal(p.h0, problems[0].h0)
        np.testing.assert_array_equal(p.target, problems[0].target)
    assert [m.result.config.cell for m in r.cells.values()] == ["rnn", "lstm", "gru"]


def test_relative_profile_and_horizon():
    r = compare_cells(GradientFlowConfig(seq_len=150))
    for m in r.cells.values():
        s = m.result.input_sensitivity.spectral
        np.testing.assert_allclose(m.relative, s - s[0])
        assert m.horizon == memory_horizon(s)
        if m.horizon is not None:
            assert m.relative[m.horizon] < -3 <= m.relative[: m.horizon].min()


def test_lecture_claim_gates_keep_memory_a_tanh_rnn_does_not():
    """'About 100 timesteps rather than about 7': with the forget (update) gate held open, the
    LSTM and the GRU still feel inputs 1000 steps back; the tanh RNN forgets within 100."""
    r = compare_cells(GradientFlowConfig(seq_len=1000, forget_bias=5.0, update_bias=5.0))
    assert r.cells["rnn"].horizon is not None and r.cells["rnn"].horizon < 100
    assert r.cells["lstm"].horizon is None
    assert r.cells["gru"].horizon is None


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_without_a_gate_bias_gated_cells_forget_too(cell):
    r = compare_cells(GradientFlowConfig(seq_len=300))
    assert r.cells[cell].horizon is not None


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


@pytest.mark.parametrize("forget_bias", [-5.0, 0.0, 3.0])
def test_lstm_mean_forget_gate_is_recomputed_from_its_weights(forget_bias):
    """f_t = sigmoid(W_if x_t + b_if + W_hf h_(t-1) + b_hf), rows n..2n, from the drawn
    weights and the run's states; its mean over steps and units is the kept fraction."""
    r = compare_cells(GradientFlowConfig(seq_len=30, hidden_size=6, forget_bias=forget_bias))
    m = r.cells["lstm"]
    p, h, x = m.result.problem.params, m.result.trace.h, m.result.problem.inputs
    n = p.weight_hh.shape[1]
    rows = slice(n, 2 * n)
    pre = x @ p.weight_ih[rows].T + p.bias_ih[rows] + h[:-1] @ p.weight_hh[rows].T
    f = _sigmoid(pre + p.bias_hh[rows])
    assert m.keep_gate == "f"
    assert m.gate_means["f"] == pytest.approx(f.mean(), rel=1e-12)
    assert m.kept == m.gate_means["f"]
    assert set(m.gate_means) == {"f", "i", "o"}
    assert r.cells["rnn"].gate_means == {} and r.cells["rnn"].kept is None


@pytest.mark.parametrize("form, gate", [("pytorch", "z"), ("lecture", "u")])
def test_gru_keeps_z_or_one_minus_u(form, gate):
    """h_t = (1 - z) n + z h_(t-1) keeps z; the lecture's h_t = (1 - u) h_(t-1) + u h~ keeps
    1 - u. Rows r | z | n: the update gate is rows n..2n."""
    r = compare_cells(GradientFlowConfig(seq_len=25, hidden_size=5, gru_form=form))
    m = r.cells["gru"]
    p, h, x = m.result.problem.params, m.result.trace.h, m.result.problem.inputs
    n = p.weight_hh.shape[1]
    rows = slice(n, 2 * n)
    pre = x @ p.weight_ih[rows].T + p.bias_ih[rows] + h[:-1] @ p.weight_hh[rows].T
    mean = _sigmoid(pre + p.bias_hh[rows]).mean()
    assert m.keep_gate == gate
    assert m.gate_means[gate] == pytest.approx(mean, rel=1e-12)
    assert m.kept == pytest.approx(mean if gate == "z" else 1 - mean, rel=1e-12)
