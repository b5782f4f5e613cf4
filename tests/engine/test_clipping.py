"""Clipping against PyTorch's formulas, written out here in plain float64."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bpttlab.engine.clipping import TORCH_EPS, clip_gradients
from bpttlab.engine.logdomain import ScaledTensors

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


def _tensors(a, b, scale=0.0):
    return ScaledTensors(
        {"weight_hh": np.asarray(a, float), "bias_hh": np.asarray(b, float)}, scale
    )


def _torch_clip_norm(vecs, max_norm):
    total = np.linalg.norm(np.concatenate([v.ravel() for v in vecs]))
    coef = min(1.0, max_norm / (total + TORCH_EPS))
    return [v * coef for v in vecs]


@given(arrays(float, 6, elements=finite), arrays(float, 3, elements=finite), st.floats(1e-3, 1e3))
@settings(max_examples=200, deadline=None)
def test_norm_clipping_is_pytorchs(a, b, max_norm):
    res = clip_gradients(_tensors(a.reshape(2, 3), b), "norm", max_norm)
    expected = _torch_clip_norm([a.reshape(2, 3), b], max_norm)
    np.testing.assert_allclose(res.clipped["weight_hh"], expected[0], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(res.clipped["bias_hh"], expected[1], rtol=1e-12, atol=1e-300)
    norm = np.linalg.norm(np.concatenate([a, b]))
    if norm > 0:
        # the norm after is min(norm, threshold) up to PyTorch's epsilon; direction kept
        assert 10**res.log10_norm_after == pytest.approx(
            min(norm, max_norm), rel=1e-6 / max_norm + 1e-12
        )
        assert res.cosine == 1.0
        assert res.log10_norm_after <= res.log10_norm_before + 1e-15


@given(arrays(float, 6, elements=finite), arrays(float, 3, elements=finite), st.floats(1e-3, 1e3))
@settings(max_examples=200, deadline=None)
def test_value_clipping_is_pytorchs_and_never_increases_the_norm(a, b, c):
    res = clip_gradients(_tensors(a, b), "value", c)
    np.testing.assert_allclose(res.clipped["weight_hh"], np.clip(a, -c, c), rtol=1e-13)
    np.testing.assert_allclose(res.clipped["bias_hh"], np.clip(b, -c, c), rtol=1e-13)
    assert all(np.all(np.abs(v) <= c) for v in res.clipped.values())
    assert res.log10_norm_after <= res.log10_norm_before + 1e-12
    if res.cosine is not None:
        both = np.concatenate([a, b])
        clipped = np.clip(both, -c, c)
        both, clipped = both / np.max(np.abs(both)), clipped / np.max(np.abs(clipped))
        cos = both @ clipped / (np.linalg.norm(both) * np.linalg.norm(clipped))
        assert res.cosine == pytest.approx(cos, rel=1e-12)


def test_value_clipping_turns_the_direction():
    res = clip_gradients(_tensors([10.0, 0.5], [0.0]), "value", 1.0)
    np.testing.assert_array_equal(res.clipped["weight_hh"], [1.0, 0.5])
    assert res.cosine == pytest.approx((10 + 0.25) / (np.hypot(10, 0.5) * np.hypot(1, 0.5)))


def test_clipping_a_gradient_of_1e477():
    grads = _tensors([3.0, -4.0], [0.0], scale=477.0)  # norm 5e477
    res = clip_gradients(grads, "norm", 2.0)
    assert res.log10_norm_before == pytest.approx(477 + np.log10(5))
    np.testing.assert_allclose(res.clipped["weight_hh"], [1.2, -1.6], rtol=1e-12)
    assert res.log10_coefficient == pytest.approx(np.log10(2.0) - 477 - np.log10(5))
    val = clip_gradients(grads, "value", 0.5)
    np.testing.assert_array_equal(val.clipped["weight_hh"], [0.5, -0.5])
    assert val.clipped["bias_hh"][0] == 0.0


def test_none_and_zero_gradients():
    res = clip_gradients(_tensors([1.0, 2.0], [2.0]), "none", 1.0)
    assert res.log10_norm_after == res.log10_norm_before == pytest.approx(np.log10(3.0))
    assert res.clipped is None and res.cosine == 1.0
    for mode in ("none", "norm", "value"):
        zero = clip_gradients(_tensors([0.0, 0.0], [0.0]), mode, 1.0)
        assert zero.log10_norm_before == zero.log10_norm_after == -np.inf
        assert zero.cosine is None
    with pytest.raises(ValueError, match="unknown clip mode"):
        clip_gradients(_tensors([1.0], [1.0]), "global", 1.0)
