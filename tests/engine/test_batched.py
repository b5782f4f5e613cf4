"""The batched exact profiles against direct products, closed forms and the one-step path."""

import numpy as np
import pytest

from bpttlab.engine import batched
from bpttlab.engine.batched import diag_factor_profiles
from bpttlab.engine.init import haar_orthogonal
from bpttlab.engine.products import _exact_sigma_max, product_norm_profile

LN10 = np.log(10.0)


def _factors(rng, t_len, n, zero_at=None):
    d = rng.uniform(0.1, 1.0, size=(t_len, n))
    scale = rng.normal(scale=0.3, size=t_len)
    if zero_at is not None:
        scale[zero_at] = -np.inf
    return d, scale


def _direct(d, scale, w, b):
    """log10 norms of the products and views formed directly in float64 (no overflow here)."""
    t_len, n = d.shape
    prod = np.eye(n)
    spec, frob, view_spec, view_frob = [0.0], [np.log10(np.sqrt(n))], [], []
    with np.errstate(divide="ignore"):
        for l in range(t_len):
            factor = 10.0 ** scale[l] * d[l][:, None]  # diag(10**s d) as a column of weights
            view = prod @ (factor * b)
            view_spec.append(np.log10(np.linalg.norm(view, 2)))
            view_frob.append(np.log10(np.linalg.norm(view)))
            prod = prod @ (factor * w)
            spec.append(np.log10(np.linalg.norm(prod, 2)))
            frob.append(np.log10(np.linalg.norm(prod)))
    return np.array(spec), np.array(frob), np.array(view_spec), np.array(view_frob)


@pytest.mark.parametrize("chunk", [2, 7, 64])
@pytest.mark.parametrize(("n", "m"), [(1, 1), (5, 3), (24, 4), (12, 30)])
def test_profiles_match_direct_products(n, m, chunk, monkeypatch):
    monkeypatch.setattr(batched, "CHUNK", chunk)
    rng = np.random.default_rng(n * 100 + m)
    d, scale = _factors(rng, 40, n)
    w, b = rng.normal(size=(n, n)) / np.sqrt(n), rng.normal(size=(n, m))
    profile, views = diag_factor_profiles(d, scale, w, b)
    spec, frob, view_spec, view_frob = _direct(d, scale, w, b)
    np.testing.assert_allclose(profile.spectral, spec, rtol=0, atol=1e-12)
    np.testing.assert_allclose(profile.frobenius, frob, rtol=0, atol=1e-12)
    np.testing.assert_allclose(views.spectral, view_spec, rtol=0, atol=1e-12)
    np.testing.assert_allclose(views.frobenius, view_frob, rtol=0, atol=1e-12)
    assert diag_factor_profiles(d, scale, w)[1] is None


@pytest.mark.parametrize("chunk", [3, 64])
def test_a_zero_factor_makes_the_rest_zero(chunk, monkeypatch):
    monkeypatch.setattr(batched, "CHUNK", chunk)
    rng = np.random.default_rng(1)
    d, scale = _factors(rng, 12, 4, zero_at=6)  # factor 7 is zero: P_7 and on are zero
    w, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 2))
    profile, views = diag_factor_profiles(d, scale, w, b)
    spec, _, view_spec, _ = _direct(d, scale, w, b)
    np.testing.assert_allclose(profile.spectral[:7], spec[:7], atol=1e-12)
    assert np.all(profile.spectral[7:] == -np.inf) and np.all(profile.frobenius[7:] == -np.inf)
    # the view at l multiplies P_l by the next factor's weights: zero from l = 6 on
    np.testing.assert_allclose(views.spectral[:6], view_spec[:6], atol=1e-12)
    assert np.all(views.spectral[6:] == -np.inf) and np.all(views.frobenius[6:] == -np.inf)


def test_a_nilpotent_product_is_exactly_zero_but_its_last_view_is_not():
    # W = [[0, 1], [0, 0]]: P_1 = diag(d) W != 0, P_2 = 0; the view at l = 1 is P_1 diag(d) B
    w = np.array([[0.0, 1.0], [0.0, 0.0]])
    d, scale = np.ones((5, 2)), np.zeros(5)
    profile, views = diag_factor_profiles(d, scale, w, np.eye(2))
    np.testing.assert_array_equal(profile.spectral, [0.0, 0.0, *[-np.inf] * 4])
    np.testing.assert_array_equal(views.spectral, [0.0, 0.0, *[-np.inf] * 3])


def test_log_scales_far_beyond_float_range():
    # W = 3 Q with Q orthogonal and weights 10**-400 per step: ||P_l|| = (3e-400)**l exactly
    n, t_len = 6, 1000
    w = 3.0 * haar_orthogonal(n, np.random.default_rng(2))
    profile, views = diag_factor_profiles(np.ones((t_len, n)), np.full(t_len, -400.0), w, w)
    l = np.arange(t_len + 1)
    np.testing.assert_allclose(profile.spectral, l * (np.log10(3.0) - 400), rtol=1e-13)
    np.testing.assert_allclose(
        profile.frobenius, l * (np.log10(3.0) - 400) + 0.5 * np.log10(n), rtol=1e-13
    )
    np.testing.assert_allclose(views.spectral, (l[:-1] + 1) * (np.log10(3.0) - 400), rtol=1e-13)


@pytest.mark.parametrize("n", [3, 33, 64])
def test_same_numbers_as_the_one_step_path(n):
    rng = np.random.default_rng(n)
    d, scale = _factors(rng, 150, n)
    w = rng.normal(size=(n, n)) / np.sqrt(n)
    got = diag_factor_profiles(d, scale, w)[0]
    factors = ((d[l], w) if scale[l] > -np.inf else None for l in range(150))
    ref = product_norm_profile(zip(factors, scale, strict=True), n, method="exact")
    np.testing.assert_allclose(got.spectral, ref.spectral, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(got.frobenius, ref.frobenius, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("shape", [(32, 32), (32, 4), (4, 32), (64, 64), (1, 7), (7, 1)])
def test_exact_sigma_max_against_a_known_spectrum(shape):
    # p = U diag(s) V^T with s spanning 16 orders of magnitude: sigma_max = s[0] to rounding
    rng = np.random.default_rng(sum(shape))
    k = min(shape)
    s = np.sort(10.0 ** rng.uniform(-16, 0, size=(5, k)), axis=1)[:, ::-1] * 10.0**200
    u = np.stack([haar_orthogonal(shape[0], rng)[:, :k] for _ in range(5)])
    v = np.stack([haar_orthogonal(shape[1], rng)[:, :k] for _ in range(5)])
    p = (u * s[:, None, :]) @ np.swapaxes(v, 1, 2)
    np.testing.assert_allclose(_exact_sigma_max(p), s[:, 0], rtol=1e-13)
    zero = _exact_sigma_max(np.zeros((2, *shape)))
    assert np.all(zero == 0.0)
