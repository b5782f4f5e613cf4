"""The fast paths of engine.products: reused product buffers, the lean Lanczos loop and its
Gram-matrix fallback, each against products and SVDs formed directly."""

import numpy as np
import pytest

import engine.products as products
from engine.products import product_norm_profile

LN10 = np.log(10.0)


def _factors(n, t_len, seed, *, orthogonal=False):
    rng = np.random.default_rng(seed)
    if orthogonal:
        w, _ = np.linalg.qr(rng.standard_normal((n, n)))
    else:
        w = rng.standard_normal((n, n)) / np.sqrt(n)
    ds = rng.uniform(0.2, 1.0, size=(t_len, n))
    return w, ds


def _direct(w, ds):
    prod = np.eye(w.shape[0])
    spec, frob = [0.0], [np.log10(np.linalg.norm(prod))]
    for d in ds:
        prod = prod @ (d[:, None] * w)
        spec.append(np.log10(np.linalg.norm(prod, 2)))
        frob.append(np.log10(np.linalg.norm(prod)))
    return np.array(spec), np.array(frob)


@pytest.mark.parametrize("method", ["power", "exact"])
@pytest.mark.parametrize("orthogonal", [False, True])
def test_buffered_products_match_direct_products(method, orthogonal):
    """Products written into alternating buffers, for both the certified path and the exact
    one (which keeps mantissas until a batched SVD, so must not keep a reused buffer)."""
    w, ds = _factors(20, 150, seed=3, orthogonal=orthogonal)
    prof = product_norm_profile((((d, w), 0.0) for d in ds), 20, method=method)
    spec, frob = _direct(w, ds)
    np.testing.assert_allclose(prof.spectral, spec, rtol=0, atol=1e-9 / LN10)
    np.testing.assert_allclose(prof.frobenius, frob, rtol=0, atol=1e-12)


def test_dense_then_structured_factors_do_not_alias():
    """A plain matrix factor between (d, w) factors: the buffers are not clobbered."""
    w, ds = _factors(12, 30, seed=5)
    factors = [((d, w), 0.0) if i % 3 else (d[:, None] * w, 0.0) for i, d in enumerate(ds)]
    prof = product_norm_profile(iter(factors), 12, method="power")
    spec, frob = _direct(w, ds)
    np.testing.assert_allclose(prof.spectral, spec, rtol=0, atol=1e-9 / LN10)
    np.testing.assert_allclose(prof.frobenius, frob, rtol=0, atol=1e-12)


def test_fallback_is_exact(monkeypatch):
    """With Lanczos cut to two steps almost every product falls back to the Gram-matrix
    eigenvalue, which must still be exact."""
    monkeypatch.setattr(products, "_MAX_ITER", 2)
    w, ds = _factors(40, 60, seed=7, orthogonal=True)
    prof = product_norm_profile((((d, w), 0.0) for d in ds), 40, method="power")
    assert prof.svd_fallbacks > 30
    spec, _ = _direct(w, ds)
    np.testing.assert_allclose(prof.spectral, spec, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(30, 30), (20, 35), (35, 20)])
def test_gram_sigma_max_is_the_svd_value(shape):
    p = np.random.default_rng(11).standard_normal(shape)
    assert products._gram_sigma_max(p) == pytest.approx(np.linalg.norm(p, 2), rel=1e-13)


@pytest.mark.parametrize("seed", range(4))
def test_certified_top_against_svd(seed):
    """The certificate holds: sigma within 5e-10 of the SVD's, from a rough start vector."""
    rng = np.random.default_rng(seed)
    p = rng.standard_normal((60, 60))
    u = np.linalg.svd(p)[0][:, 0] + 0.1 * rng.standard_normal(60)
    sigma, ritz, ok = products._certified_top(p, u)
    assert ok
    assert sigma == pytest.approx(np.linalg.norm(p, 2), rel=5e-10)
    assert np.linalg.norm(ritz) == pytest.approx(1.0, rel=1e-9)


def test_frobenius_of_a_strided_block():
    m = np.random.default_rng(2).standard_normal((10, 10))
    assert products._frobenius(m[2:7, 1:9]) == pytest.approx(np.linalg.norm(m[2:7, 1:9]))
    assert products._frobenius(m) == pytest.approx(np.linalg.norm(m))
