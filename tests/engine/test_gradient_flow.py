"""The assembled experiment: summary, bound, determinism, log-domain extremes."""

import itertools

import numpy as np
import pytest

from engine import GradientFlowConfig, gradient_flow
from engine.nonlinearity import NONLINEARITIES


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
    for bad in ({"cell": "gru"}, {"clip": "both"}, {"seq_len": 0}, {"clip_threshold": 0.0}):
        with pytest.raises(ValueError):
            GradientFlowConfig(**bad)
