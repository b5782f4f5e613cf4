"""Pascanu's cliff: exact gradients, the wall, and what clipping does to a step."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bpttlab.engine.cliff import (
    DIVERGE_ABOVE,
    LOG10_ZERO,
    CliffConfig,
    cliff_loss_and_gradient,
    cliff_surface,
    clip_geometry,
    descend,
)
from bpttlab.engine.clipping import TORCH_EPS
from bpttlab.engine.nonlinearity import get_nonlinearity

from .gradcheck import check_grad

NLS = ["sigmoid", "tanh"]
# Pascanu et al.'s T = 50 (the page's default is T = 30): the wall these tests measure
PASCANU = CliffConfig(seq_len=50, b_max=1.0)


def _loss_loop(w, b, config):
    """E(w, b) by the recurrence written out, one point at a time."""
    phi = get_nonlinearity(config.nonlinearity)
    x = config.x0
    for _ in range(config.seq_len):
        x = w * float(phi.forward(np.array(x))) + b
    return (float(phi.forward(np.array(x))) - config.target) ** 2


def _grad(pt):
    return pt.grad_mantissa * (10.0 ** np.asarray(pt.log10_scale))[..., None]


def _f(config):
    return lambda p: float(cliff_loss_and_gradient(p[0], p[1], config).loss)


@pytest.mark.parametrize("nl", NLS)
def test_surface_gradients_match_finite_differences_at_grid_points(nl):
    c = CliffConfig(nonlinearity=nl, resolution=7, seq_len=30)
    s = cliff_surface(c)
    rng = np.random.default_rng(0)
    for i in range(0, 7, 2):
        for j in range(0, 7, 2):
            g = np.array([s.grad_w[i, j], s.grad_b[i, j]])
            check_grad(_f(c), g, np.array([s.w[j], s.b[i]]), rng, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("nl", NLS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradients_match_finite_differences_at_random_points(nl, seed):
    c = CliffConfig(nonlinearity=nl)
    rng = np.random.default_rng(seed)
    for _ in range(10):
        p = rng.uniform([-10.0, -8.0], [10.0, 8.0])
        g = _grad(cliff_loss_and_gradient(p[0], p[1], c))
        check_grad(_f(c), g, p, rng, rtol=1e-5, atol=1e-8)


def test_surface_layout_rows_over_b_columns_over_w():
    c = CliffConfig(resolution=5, seq_len=20)
    s = cliff_surface(c)
    assert s.w.shape == s.b.shape == (5,)
    for a in (s.loss, s.log10_grad_norm, s.grad_w, s.grad_b):
        assert a.shape == (5, 5) and np.all(np.isfinite(a))
    for i, j in [(0, 4), (3, 1), (2, 2)]:
        assert s.loss[i, j] == pytest.approx(_loss_loop(s.w[j], s.b[i], c), rel=1e-12)
    norm = np.hypot(s.grad_w, s.grad_b)
    np.testing.assert_allclose(10**s.log10_grad_norm, norm, rtol=1e-12)


def test_default_surface_is_finite_and_shows_the_jump():
    s = cliff_surface(PASCANU)
    assert s.loss.shape == (121, 121)
    assert all(np.all(np.isfinite(a)) for a in (s.loss, s.log10_grad_norm, s.grad_w, s.grad_b))
    j = int(np.argmin(np.abs(s.w - 5.0)))
    assert np.max(np.abs(np.diff(s.loss[:, j]))) > 0.3  # E jumps by ~1/3 between rows


def test_the_wall_at_w_5():
    c = PASCANU
    b = np.linspace(-4.0, 0.0, 40001)
    pt = cliff_loss_and_gradient(5.0, b, c)
    dEdb = np.abs(_grad(pt)[:, 1])
    i = int(np.argmax(dEdb))
    assert dEdb[i] > 1e3 * np.median(dEdb)  # measured: 871 vs a median of 0.034
    jump = int(np.argmax(np.abs(np.diff(pt.loss))))  # between b[jump] and b[jump + 1]
    assert i in (jump, jump + 1)
    assert np.abs(pt.loss[jump + 1] - pt.loss[jump]) > 0.3
    assert -2.7 < b[i] < -2.5
    # on the wall too, the exact gradient is the finite difference's
    p = np.array([5.0, b[i]])
    g = _grad(cliff_loss_and_gradient(p[0], p[1], c))
    check_grad(_f(c), g, p, np.random.default_rng(0), eps=1e-7, rtol=1e-5)


def test_gradients_beyond_float64_are_exact_in_the_log_domain():
    # tanh, x0 = 0, b = 0 stays at x = 0: dx_T/db = sum_k w^k, dx_T/dw = 0, dE/dx_T = -1.4
    c = CliffConfig(nonlinearity="tanh", seq_len=400, x0=0.0, w_min=-1.0, w_max=1.0)
    pt = cliff_loss_and_gradient(10.0, 0.0, c)
    expected = np.log10(1.4) + 400 - np.log10(9.0)  # (10^400 - 1) / 9
    assert float(pt.log10_grad_norm) == pytest.approx(expected, abs=1e-12)
    assert pt.grad_mantissa[0] == 0.0 and pt.grad_mantissa[1] == -1.0


def test_config_refuses_unbounded_phi_and_overflowing_grids():
    with pytest.raises(ValueError, match="nonlinearity"):
        CliffConfig(nonlinearity="relu")
    with pytest.raises(ValueError, match="seq_len"):
        CliffConfig(nonlinearity="tanh", seq_len=400, w_max=10.0)
    with pytest.raises(ValueError, match="w_min < w_max"):
        CliffConfig(w_min=2.0, w_max=2.0)
    with pytest.raises(ValueError, match="finite"):
        CliffConfig(target=float("nan"))
    assert CliffConfig(nonlinearity="tanh", seq_len=250).log10_gradient_bound() < 300


def _gradients_along(path, config):
    pt = cliff_loss_and_gradient(path.points[:-1, 0], path.points[:-1, 1], config)
    return _grad(pt)


def test_norm_clipping_has_pytorchs_norm_and_keeps_the_direction():
    c, lr, thr = PASCANU, 0.1, 1.0
    d = descend(c, start=(5.0, -2.6), learning_rate=lr, steps=60, clip_threshold=thr)
    path = d.paths["norm"]
    g = _gradients_along(path, c)
    steps = np.diff(path.points, axis=0) / lr  # = -clipped gradient
    norms = np.linalg.norm(g, axis=1)
    np.testing.assert_allclose(
        np.linalg.norm(steps, axis=1), np.minimum(norms, thr), rtol=TORCH_EPS / thr + 1e-9
    )
    cos = -np.sum(steps * g, axis=1) / (np.linalg.norm(steps, axis=1) * norms)
    np.testing.assert_allclose(cos, 1.0, atol=1e-12)
    assert np.any(norms > thr)  # the run did meet a clipped gradient


def test_value_clipping_clamps_every_coordinate():
    c, lr, thr = PASCANU, 0.1, 0.05
    path = descend(c, (5.0, -2.6), learning_rate=lr, steps=60, clip_threshold=thr).paths["value"]
    g = _gradients_along(path, c)
    steps = -np.diff(path.points, axis=0) / lr
    assert np.all(np.abs(steps) <= thr * (1 + 1e-12))
    np.testing.assert_allclose(steps, np.clip(g, -thr, thr), rtol=1e-9, atol=1e-15)


@given(st.floats(-10, 10), st.floats(-8, 8), st.floats(1e-3, 1e3), st.sampled_from(NLS))
@settings(max_examples=100, deadline=None)
def test_clipping_never_increases_the_norm(w, b, thr, nl):
    c = CliffConfig(nonlinearity=nl)
    d = descend(c, (w, b), learning_rate=1e-3, steps=1, clip_threshold=thr)
    norm = 10 ** d.paths["none"].log10_grad_norm[0]
    for mode in ("norm", "value"):
        p = d.paths[mode]
        assert p.step_length[0] / 1e-3 <= norm * (1 + 1e-9)
        if mode == "norm":
            assert p.step_length[0] / 1e-3 <= thr * (1 + 1e-9)


def test_unclipped_steps_jump_off_the_wall_while_clipped_ones_stay_short():
    c = PASCANU
    b = np.linspace(-4.0, 0.0, 40001)
    b_wall = b[int(np.argmax(np.abs(_grad(cliff_loss_and_gradient(5.0, b, c))[:, 1])))]
    lr, thr = 1.0, 1.0
    d = descend(c, (5.0, b_wall), learning_rate=lr, steps=50, clip_threshold=thr)
    none, norm = d.paths["none"], d.paths["norm"]
    assert none.diverged_at is not None or none.step_length.max() > 100 * lr * thr
    assert norm.diverged_at is None and len(norm.points) == 51
    assert np.all(norm.step_length <= lr * thr)


def test_a_huge_step_is_reported_as_divergence_and_nothing_is_infinite():
    c = PASCANU
    d = descend(c, (5.0, -2.6123), learning_rate=1e5, steps=20, clip_threshold=1.0)
    none = d.paths["none"]
    assert none.diverged_at == 1
    assert none.points.shape == (1, 2) and none.loss.shape == (1,) and none.step_length.size == 0
    for p in d.paths.values():
        for a in (p.points, p.loss, p.log10_grad_norm, p.step_length):
            assert np.all(np.isfinite(a))
        assert np.all(np.abs(p.points) <= DIVERGE_ABOVE)
    assert d.paths["norm"].diverged_at is None


def test_descent_path_shapes_and_determinism():
    c = CliffConfig(nonlinearity="tanh")
    d1 = descend(c, (2.0, -1.0), learning_rate=0.05, steps=30, clip_threshold=0.5)
    d2 = descend(c, (2.0, -1.0), learning_rate=0.05, steps=30, clip_threshold=0.5)
    for mode, p in d1.paths.items():
        assert p.mode == mode
        assert p.points.shape == (31, 2) and p.loss.shape == (31,)
        assert p.log10_grad_norm.shape == (31,) and p.step_length.shape == (30,)
        np.testing.assert_array_equal(p.points, d2.paths[mode].points)
        np.testing.assert_allclose(
            p.step_length, np.linalg.norm(np.diff(p.points, axis=0), axis=1), rtol=1e-12
        )
    assert descend(c, (2.0, -1.0), steps=0).paths["none"].points.shape == (1, 2)
    with pytest.raises(ValueError):
        descend(c, (2.0, -1.0), learning_rate=0.0)


def test_gradient_peak_and_median_over_the_nonzero_grid_points():
    surface = cliff_surface(CliffConfig(resolution=21))
    # E = (phi(x_T) - 0.7)^2 with 0 < sigmoid < 1: between 0 and 0.7^2
    lowest, highest = surface.loss_range
    assert lowest == surface.loss.min() and highest == surface.loss.max()
    assert 0.0 <= lowest < highest < 0.49
    g = surface.log10_grad_norm
    row, col = surface.gradient_peak
    assert g[row, col] == g.max()
    nonzero = g[g > LOG10_ZERO]
    assert surface.median_log10_grad_norm == pytest.approx(np.median(nonzero))
    # half of the nonzero points lie on each side of the median
    assert np.count_nonzero(nonzero < surface.median_log10_grad_norm) <= nonzero.size / 2
    assert np.count_nonzero(nonzero > surface.median_log10_grad_norm) <= nonzero.size / 2


def test_longest_step_and_the_bound_of_a_clipped_step():
    d = descend(PASCANU, start=(5.0, -2.6), learning_rate=0.5, steps=30, clip_threshold=0.2)
    assert d.step_bound == pytest.approx(0.1)
    norm = d.paths["norm"]
    assert norm.longest_step == pytest.approx(
        np.linalg.norm(np.diff(norm.points, axis=0), axis=1).max()
    )
    assert norm.longest_step <= d.step_bound * (1 + 1e-9)
    assert descend(PASCANU, steps=0).paths["none"].longest_step == 0.0


def test_clip_geometry_norm_and_direction():
    config = PASCANU
    geo = clip_geometry(config, (5.0, -2.6), 1.0)
    pt = cliff_loss_and_gradient(5.0, -2.6, config)
    grad = _grad(pt)
    assert geo.gradient_norm == pytest.approx(np.linalg.norm(grad))
    np.testing.assert_allclose(geo.direction, grad / np.linalg.norm(grad))
    assert np.linalg.norm(geo.direction) == pytest.approx(1.0)
