"""The linear case: g_l = (W^T)^l g_0 against its eigen-expansion, non-normal growth,
Pascanu's regions."""

import numpy as np
import pytest

from bpttlab.engine.eigen import (
    DERIVATIVE_GRID,
    REGIONS,
    EigenConfig,
    block_matrix,
    build_matrix,
    derivative_curves,
    eigen_expansion,
    pascanu_boundary,
    pascanu_region,
)
from bpttlab.engine.nonlinearity import NONLINEARITIES
from bpttlab.engine.spectrum import count_outside_unit_circle


def _random_eigen_config(seed, seq_len=50):
    rng = np.random.default_rng(seed)
    k = 4
    return EigenConfig(
        radii=tuple(rng.uniform(0.2, 1.5, k)),
        angles=tuple(np.where(rng.random(k) < 0.3, 0.0, rng.uniform(0.1, 3.0, k))),
        seq_len=seq_len,
        seed=seed,
    )


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_expansion_equals_the_direct_product_for_a_normal_w(seed):
    cfg = _random_eigen_config(seed)
    r = eigen_expansion(cfg)
    w = r.matrix
    np.testing.assert_allclose(w @ w.T, w.T @ w, atol=1e-12)  # normal
    assert r.eigenvector_condition == pytest.approx(1.0, abs=1e-9)
    assert r.max_relative_difference < 1e-10
    np.testing.assert_allclose(r.log10_expansion, r.log10_direct, atol=1e-10)
    # orthonormal eigenvectors: ||g_l||^2 = sum_i |c_i lambda_i^l|^2
    total = np.log10(np.sum(10.0 ** (2 * (r.log10_component - r.log10_direct[:, None])), axis=1))
    np.testing.assert_allclose(total, 0.0, atol=1e-10)
    assert r.transient_growth is False


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("matrix", ["gaussian", "pytorch"])
def test_expansion_equals_the_direct_product_for_a_non_symmetric_w(seed, matrix):
    cfg = EigenConfig(matrix=matrix, hidden_size=12, scale=1.1, seq_len=50, seed=seed)
    r = eigen_expansion(cfg)
    assert not np.allclose(r.matrix, r.matrix.T)
    assert r.max_relative_difference < 1e-10
    # the direct iteration against plain matrix powers (small enough here)
    for l in (0, 1, 7, 50):
        g = np.linalg.matrix_power(r.matrix.T, l) @ r.g0
        assert r.log10_direct[l] == pytest.approx(np.log10(np.linalg.norm(g)), abs=1e-12)
        norm = np.linalg.norm(np.linalg.matrix_power(r.matrix.T, l), 2)
        assert r.log10_power_norm[l] == pytest.approx(np.log10(norm), abs=1e-12)


def test_eigenvalues_are_the_ones_asked_for():
    cfg = EigenConfig(radii=(1.2, 0.7, 0.3), angles=(0.4, np.pi, 0.0), seed=5)
    assert cfg.size == 4
    r = eigen_expansion(cfg)
    expected = np.array([1.2 * np.exp(0.4j), 1.2 * np.exp(-0.4j), -0.7, 0.3])
    got = r.eigenvalues
    assert sorted(np.abs(got)) == pytest.approx(sorted(np.abs(expected)), abs=1e-12)
    for z in expected:
        assert np.min(np.abs(got - z)) < 1e-12
    assert r.spectral_radius == pytest.approx(1.2)
    assert r.sigma_max == pytest.approx(1.2)  # normal: sigma_max = rho


def test_the_non_normal_example_grows_although_its_radius_is_one_half():
    cfg = EigenConfig(
        radii=(0.5, 0.5), angles=(0.0, 0.0), non_normal=True, coupling=10.0, seq_len=40
    )
    np.testing.assert_array_equal(block_matrix(cfg.radii, cfg.angles, 10.0), [[0.5, 10], [0, 0.5]])
    w, _ = build_matrix(cfg)
    r = eigen_expansion(cfg)
    sv = np.sort(np.linalg.svd(w, compute_uv=False))
    b = np.array([[0.5, 10], [0, 0.5]])
    np.testing.assert_allclose(sv, np.sort(np.linalg.svd(b, compute_uv=False)), rtol=1e-12)
    assert r.spectral_radius == pytest.approx(0.5, abs=1e-6)  # a Jordan block: eig is sqrt(eps)
    assert r.sigma_max == pytest.approx(sv[1], rel=1e-12)
    # ||W^l|| = ||[[0.5^l, 10 l 0.5^(l-1)], [0, 0.5^l]]|| > 1 for l = 1..6, then decays
    for l in range(1, 7):
        assert r.log10_power_norm[l] > 0
    assert r.log10_power_norm[-1] < -5
    assert r.transient_growth and r.peak_distance >= 1 and r.peak_log10 > 0
    # the eigenvectors of a Jordan block do not span: the expansion fails, visibly
    assert r.eigenvector_condition > 1e6
    assert r.max_relative_difference > 1e-3


def test_non_normal_coupling_keeps_the_eigenvalues():
    normal = eigen_expansion(EigenConfig(radii=(0.9, 0.6, 0.3), angles=(0.0, 1.0, 0.0)))
    skew = eigen_expansion(
        EigenConfig(radii=(0.9, 0.6, 0.3), angles=(0.0, 1.0, 0.0), non_normal=True, coupling=5.0)
    )
    np.testing.assert_allclose(skew.eigenvalues, normal.eigenvalues, atol=1e-10)
    assert skew.sigma_max > 5 > normal.sigma_max
    assert skew.eigenvector_condition > 10
    assert skew.max_relative_difference < 1e-9  # distinct eigenvalues: still diagonalisable
    assert skew.transient_growth and not normal.transient_growth


@pytest.mark.parametrize("radius", [3.0, 0.1])
def test_log_domain_at_t_1000(radius):
    cfg = EigenConfig(radii=(radius, 0.05), angles=(0.0, 0.0), seq_len=1000, seed=1)
    r = eigen_expansion(cfg)
    for a in (r.log10_direct, r.log10_expansion, r.log10_component, r.log10_power_norm):
        assert np.all(np.isfinite(a))
    assert r.log10_power_norm[-1] == pytest.approx(1000 * np.log10(radius), abs=1e-9)
    top, low = r.log10_component[-1]  # lambda = radius, then lambda = 0.05 (10^-1301)
    assert r.log10_direct[-1] == pytest.approx(top, abs=1e-9)
    assert top == pytest.approx(1000 * np.log10(radius) + np.log10(abs(r.coefficients[0])))
    assert low == pytest.approx(1000 * np.log10(0.05) + np.log10(abs(r.coefficients[1])))
    assert r.max_relative_difference < 1e-9


def test_shapes():
    r = eigen_expansion(EigenConfig(seq_len=20))
    n = r.config.size
    assert n == 5 and r.matrix.shape == (n, n)
    assert r.log10_component.shape == (21, n)
    for a in (r.distance, r.log10_direct, r.log10_expansion, r.relative_difference):
        assert a.shape == (21,)
    assert r.eigenvalues.shape == (n,) and r.coefficients.shape == (n,)
    assert np.all(np.diff(np.abs(r.eigenvalues)) <= 1e-12)


def test_zero_matrix_gives_zero_gradients_after_one_step():
    r = eigen_expansion(EigenConfig(matrix="identity", scale=0.0, hidden_size=3, seq_len=4))
    assert r.log10_direct[0] == pytest.approx(0.0)
    assert np.all(r.log10_direct[1:] == -np.inf) and np.all(r.log10_power_norm[1:] == -np.inf)
    assert r.max_relative_difference == 0.0


def test_config_validation():
    with pytest.raises(ValueError, match="matrix"):
        EigenConfig(matrix="nope")
    with pytest.raises(ValueError, match="same length"):
        EigenConfig(radii=(1.0,), angles=(0.0, 1.0))
    with pytest.raises(ValueError, match="non_normal"):
        EigenConfig(matrix="gaussian", non_normal=True)
    with pytest.raises(ValueError, match="radii"):
        EigenConfig(radii=(-1.0,), angles=(0.0,))


def test_derivative_curves_and_gamma():
    a = np.linspace(-6, 6, 1201)
    d = derivative_curves(a)
    assert set(d.derivative) == set(NONLINEARITIES)
    for name, nl in NONLINEARITIES.items():
        np.testing.assert_array_equal(d.derivative[name], nl.derivative(a))
        assert d.gamma[name] == nl.gamma
        assert np.max(d.derivative[name]) == pytest.approx(nl.gamma)


@pytest.mark.parametrize(
    "gamma,sigma,region",
    [
        (0.25, 3.9, "vanishing guaranteed"),
        (0.25, 4.1, "exploding possible"),
        (1.0, 0.99, "vanishing guaranteed"),
        (1.0, 1.5, "exploding possible"),
        (0.5, 2.0, "boundary"),
    ],
)
def test_pascanu_regions(gamma, sigma, region):
    assert pascanu_region(gamma, sigma) == region
    assert region in REGIONS


def test_outside_unit_circle_and_the_radius_line():
    # eigenvalues 1.05, 0.9 e^{+-0.5i}, 0.6 e^{+-2i}: one outside the unit circle
    r = eigen_expansion(EigenConfig(seq_len=10))
    assert r.outside_unit_circle == 1
    np.testing.assert_allclose(r.log10_radius_power, np.arange(11) * np.log10(1.05))
    assert count_outside_unit_circle(np.array([2.0, -1.5, 1j, 0.5 + 0.5j])) == 2


def test_power_norm_peak_of_a_normal_w_is_at_the_end_when_rho_exceeds_one():
    # a normal W: ||W^l|| = rho^l exactly, so the peak is at l = T with value T log10 rho
    r = eigen_expansion(EigenConfig(radii=(1.2, 0.5), angles=(0.0, 0.0), seq_len=7))
    l, value = r.power_norm_peak
    assert l == 7
    assert value == pytest.approx(7 * np.log10(1.2))


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0, 4.5])
def test_regions_hold_every_nonlinearitys_gamma_and_region(sigma):
    r = eigen_expansion(EigenConfig(radii=(sigma,), angles=(0.0,), seq_len=2))
    assert r.sigma_max == pytest.approx(sigma)
    regions = r.regions
    assert set(regions) == set(NONLINEARITIES)
    for name, (gamma, region) in regions.items():
        assert gamma == NONLINEARITIES[name].gamma
        assert region == pascanu_region(gamma, r.sigma_max)
    assert regions["sigmoid"][1] == (REGIONS[0] if sigma < 4 else REGIONS[2])


@pytest.mark.parametrize(("sigma", "top"), [(0.5, 3.0), (2.4, 3.0), (4.0, 5.0)])
def test_pascanu_boundary_is_gamma_one_over_sigma(sigma, top):
    b = pascanu_boundary(sigma, points=50)
    assert b.top == pytest.approx(top)
    assert b.sigma[0] == pytest.approx(1 / 1.1) and b.sigma[-1] == pytest.approx(top)
    np.testing.assert_allclose(b.sigma * b.gamma, 1.0)
    assert b.gamma[0] == pytest.approx(1.1)


def test_derivative_curves_default_to_the_display_grid():
    d = derivative_curves()
    np.testing.assert_array_equal(d.a, DERIVATIVE_GRID)
    assert d.a[0] == -6.0 and d.a[-1] == 6.0 and d.a.size == 241


def test_an_eigenvalue_on_the_unit_circle_to_rounding_is_not_outside_it():
    # a gaussian W_hh scaled to spectral radius 1 has |lambda_max| = 1 +- a few eps
    assert count_outside_unit_circle(np.array([1.0 + 4e-16, -1.0 - 4e-16, 1j])) == 0
    assert count_outside_unit_circle(np.array([1.0 + 1e-6, 0.5])) == 1


def test_a_subnormal_radius_next_to_a_zero_eigenvalue_does_not_overflow():
    # W with eigenvalues 5e-324, 0, 0: the expansion divides by rho; 1/rho overflows
    config = EigenConfig(matrix="eigenvalues", radii=(5e-324, 0.0, 0.0), angles=(0, 0, 0))
    with np.errstate(over="raise"):  # (and pytest turns a RuntimeWarning into an error)
        r = eigen_expansion(config)
    assert r.spectral_radius == 5e-324
    assert r.log10_expansion[0] == pytest.approx(r.log10_direct[0], abs=1e-12)
