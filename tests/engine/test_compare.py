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
