import numpy as np
import pytest

from bpttlab.engine.init import INITS, init_recurrent, spectral_radius
from bpttlab.engine.problem import draw_problem


def _draw(**kw):
    base = dict(
        seed=3,
        hidden_size=16,
        input_size=5,
        seq_len=20,
        init="gaussian",
        scale=1.0,
        input="random",
        input_scale=1.0,
        h0="zeros",
    )
    base.update(kw)
    return draw_problem(**base)


@pytest.mark.parametrize("scale", [0.1, 1.0, 3.0])
@pytest.mark.parametrize("n", [1, 7, 64])
def test_gaussian_has_the_requested_spectral_radius(scale, n):
    w = init_recurrent("gaussian", n, scale, np.random.default_rng(0))
    assert spectral_radius(w) == pytest.approx(scale, rel=1e-12)


@pytest.mark.parametrize("n", [1, 5, 40])
def test_orthogonal_has_every_singular_value_equal_to_scale(n):
    w = init_recurrent("orthogonal", n, 2.5, np.random.default_rng(1))
    np.testing.assert_allclose(np.linalg.svd(w, compute_uv=False), 2.5, rtol=1e-12)


def test_identity_and_pytorch_inits():
    np.testing.assert_array_equal(init_recurrent("identity", 4, 0.7, None), 0.7 * np.eye(4))
    w = init_recurrent("pytorch", 100, 2.0, np.random.default_rng(2))
    bound = 2.0 / np.sqrt(100)
    assert np.all(np.abs(w) <= bound) and np.max(np.abs(w)) > 0.95 * bound


def test_unknown_init_is_refused():
    with pytest.raises(ValueError, match="unknown init"):
        init_recurrent("xavier", 3, 1.0, np.random.default_rng(0))


@pytest.mark.parametrize("init", INITS)
def test_same_seed_same_problem(init):
    a, b = _draw(init=init), _draw(init=init)
    for x, y in zip(
        (a.params.weight_hh, a.params.weight_ih, a.inputs, a.target),
        (b.params.weight_hh, b.params.weight_ih, b.inputs, b.target),
        strict=True,
    ):
        np.testing.assert_array_equal(x, y)


def test_changing_one_choice_leaves_the_other_tensors_alone():
    a, b = _draw(init="gaussian"), _draw(init="orthogonal", scale=2.0)
    np.testing.assert_array_equal(a.params.weight_ih, b.params.weight_ih)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.target, b.target)
    longer = _draw(seq_len=50)
    np.testing.assert_array_equal(longer.inputs[:20], a.inputs)


def test_input_and_h0_options():
    p = _draw(input="zeros", h0="random", input_scale=5.0)
    assert not p.inputs.any()
    assert p.h0.shape == (16,) and np.all(np.abs(p.h0) <= 1) and p.h0.any()
    q = _draw(input_scale=3.0)
    np.testing.assert_allclose(q.inputs, 3.0 * _draw().inputs)
    k = 1 / np.sqrt(16)
    assert np.all(np.abs(p.params.weight_ih) <= k) and p.params.weight_ih.shape == (16, 5)
    assert np.all(np.abs(p.params.bias_hh) <= k)


def test_gated_cells_get_one_init_block_per_gate_and_their_gate_bias():
    lstm = _draw(cell="lstm", init="orthogonal", scale=2.0, forget_bias=5.0, peephole=True)
    base = _draw(cell="lstm", init="orthogonal", scale=2.0)
    assert lstm.params.weight_hh.shape == (64, 16) and lstm.params.weight_ih.shape == (64, 5)
    for block in np.split(lstm.params.weight_hh, 4):
        np.testing.assert_allclose(np.linalg.svd(block, compute_uv=False), 2.0, rtol=1e-12)
    diff = lstm.params.bias_ih - base.params.bias_ih
    expected = np.r_[np.zeros(16), np.full(16, 5.0), np.zeros(32)]
    np.testing.assert_allclose(diff, expected, atol=1e-15)
    assert lstm.params.peephole.shape == (3, 16) and base.params.peephole is None
    assert lstm.c0.shape == (16,) and not lstm.c0.any()
    gru = _draw(cell="gru", gru_form="lecture", update_bias=-3.0)
    assert gru.params.form == "lecture" and gru.params.weight_hh.shape == (48, 16)
    assert gru.c0 is None
    np.testing.assert_array_equal(gru.inputs, _draw().inputs)  # same inputs for every cell
    with pytest.raises(ValueError, match="unknown cell"):
        _draw(cell="transformer")
