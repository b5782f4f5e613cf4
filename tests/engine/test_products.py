"""The fast paths of engine.products: reused product buffers, the lean Lanczos loop and its
Gram-matrix fallback, each against products and SVDs formed directly."""

import numpy as np
import pytest

import bpttlab.engine.products as products
from bpttlab.engine.products import product_norm_profile

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
    """With Lanczos cut to two steps, its gap bound disabled and every Cholesky check made to
    fail, almost every product falls back to the Gram-matrix eigenvalue: still exact."""

    def no_cholesky(a):
        raise np.linalg.LinAlgError("disabled by the test")

    monkeypatch.setattr(products, "_MAX_ITER", 2)
    monkeypatch.setattr(products, "_gap_bound", lambda *args: np.inf)
    monkeypatch.setattr(products.np.linalg, "cholesky", no_cholesky)
    w, ds = _factors(40, 60, seed=7, orthogonal=True)
    prof = product_norm_profile((((d, w), 0.0) for d in ds), 40, method="power")
    assert prof.svd_fallbacks > 30
    spec, _ = _direct(w, ds)
    np.testing.assert_allclose(prof.spectral, spec, rtol=0, atol=1e-12)


@pytest.mark.parametrize("shape", [(30, 30), (20, 35), (35, 20)])
@pytest.mark.parametrize("relative", [0.0, 1e-12, 1e-6])
def test_gram_check_proves_a_value_at_or_just_below_sigma_max(shape, relative):
    """A value within rtol below sigma_max is proved; one further below is replaced by the
    exact value (the largest eigenvalue of the smaller Gram matrix)."""
    p = np.random.default_rng(11).standard_normal(shape)
    sigma_max = np.linalg.norm(p, 2)
    sigma, proven = products._gram_check(p, sigma_max * (1 - relative), np.sum(p * p))
    assert proven == (relative < 1e-9)
    assert sigma == pytest.approx(sigma_max, rel=1e-9 if proven else 1e-13)


@pytest.mark.parametrize("seed", range(4))
def test_certified_top_proves_a_separated_top_against_svd(seed):
    """With the top singular value holding most of the Frobenius mass (as in long products)
    the trace bound proves the Lanczos value: within 1e-9 of the SVD's, from a rough start."""
    rng = np.random.default_rng(seed)
    p = rng.standard_normal((60, 60)) + 8.0 * np.outer(rng.standard_normal(60), np.ones(60))
    u = np.linalg.svd(p)[0][:, 0] + 0.1 * rng.standard_normal(60)
    sigma, ritz, proven = products._certified_top(p, u, np.sum(p * p))
    assert proven
    assert sigma == pytest.approx(np.linalg.norm(p, 2), rel=1e-9)
    assert sigma <= np.linalg.norm(p, 2) * (1 + 1e-14)  # a Ritz value never exceeds sigma_max
    assert np.linalg.norm(ritz) == pytest.approx(1.0, rel=1e-9)


def _with_singular_values(s, seed):
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((s.size, s.size)))
    v, _ = np.linalg.qr(rng.standard_normal((s.size, s.size)))
    return (u * s) @ v.T, u


def test_a_start_blind_to_the_top_direction_is_not_proved():
    """A start vector that is exactly the second singular vector spans an invariant Krylov
    space: its residual is zero, so a residual certificate alone would accept sigma_2. The
    trace bound cannot exclude a larger singular value, and the Gram check finds it."""
    s = np.array([3.0, 2.0, 1.0, 0.5, 0.25, 0.1])
    p, u = _with_singular_values(s, seed=1)
    sigma, _, proven = products._certified_top(p, u[:, 1], np.sum(p * p))
    assert not proven
    assert sigma == pytest.approx(2.0, rel=1e-12)
    exact, proven = products._gram_check(p, sigma, np.sum(p * p))
    assert not proven
    assert exact == pytest.approx(3.0, rel=1e-13)


CLUSTERS = {
    "tie": np.r_[2.0, 2.0, 2.0, np.linspace(1.0, 0.1, 37)],
    "cluster": np.r_[1.0, 1.0 - 1e-10, 1.0 - 3e-9, 1.0 - 1e-6, np.full(36, 0.999)],
    "flat": np.full(40, 1.0) - np.arange(40) * 1e-12,
    "separated": np.r_[10.0, np.linspace(1.0, 1e-3, 39)],
    "rank one": np.r_[1.0, np.zeros(39)],
}


@pytest.mark.parametrize("name", CLUSTERS)
@pytest.mark.parametrize("scale", [1e-60, 1.0, 1e60])
@pytest.mark.parametrize("start", ["top", "rough", "other"])
def test_certified_path_against_svd_on_adversarial_spectra(name, scale, start):
    """Ties, clusters closer than the tolerance, flat spectra, tiny and huge scales, warm
    starts good, rough and blind: the proved or checked value is within 1e-9 of the SVD's."""
    s = CLUSTERS[name] * scale
    p, u = _with_singular_values(s, seed=5)
    rng = np.random.default_rng(9)
    vector = {
        "top": u[:, 0],
        "rough": u[:, 0] + 0.3 * rng.standard_normal(s.size),
        "other": u[:, -1],
    }[start]
    fro2 = float(np.sum(p * p))
    sigma, _, proven = products._certified_top(p, vector, fro2)
    if not proven:
        sigma, _ = products._gram_check(p, sigma, fro2)
    assert sigma == pytest.approx(np.linalg.svd(p, compute_uv=False)[0], rel=1e-9)


@pytest.mark.parametrize("name", CLUSTERS)
def test_profiles_of_adversarial_factors_against_svd(name):
    """Whole profiles (T = 1 and longer) whose factors have clustered or tied singular
    values, each product against np.linalg.svd."""
    s = CLUSTERS[name]
    rng = np.random.default_rng(4)
    factors = [_with_singular_values(s, seed=k)[0] for k in range(12)]
    for t_len in (1, 12):
        prof = product_norm_profile(((f, 0.0) for f in factors[:t_len]), s.size, method="power")
        prod, spec = np.eye(s.size), [0.0]
        for f in factors[:t_len]:
            prod = prod @ f
            spec.append(np.log10(np.linalg.svd(prod, compute_uv=False)[0]))
        np.testing.assert_allclose(prof.spectral, spec, rtol=0, atol=1e-9 / LN10)
    assert rng is not None


def test_frobenius_of_a_strided_block():
    m = np.random.default_rng(2).standard_normal((10, 10))
    assert products._frobenius(m[2:7, 1:9]) == pytest.approx(np.linalg.norm(m[2:7, 1:9]))
    assert products._frobenius(m) == pytest.approx(np.linalg.norm(m))


@pytest.mark.parametrize(
    "a, b, c",
    [
        (2.0, 0.5, 1.0),
        (1.0, 0.5, 2.0),
        (1.0, 0.0, 1.0),
        (3.0, 0.0, 1.0),
        (1.0, 0.0, 3.0),
        (1.0, 1e-9, 1.0),
        (1e-30, 1e-31, 5e-31),
        (4.0, -2.0, 1.0),
        (1.0, 1.0, 1.0),
    ],
)
def test_closed_form_2x2_eigenpairs_match_eigh(a, b, c):
    """The second Lanczos step's 2 x 2 eigenproblem in closed form, against np.linalg.eigh:
    same ascending values, and a unit top vector that is an eigenvector."""
    t = np.array([[a, b], [b, c]])
    theta, y = products._eigh_2x2(a, b, c)
    expected = np.linalg.eigh(t)[0]
    scale = np.abs(expected).max()
    np.testing.assert_allclose(theta, expected, rtol=0, atol=4e-16 * scale)
    np.testing.assert_allclose(y.T @ y, np.eye(2), atol=1e-15)
    np.testing.assert_allclose(t @ y, y * theta, rtol=0, atol=4e-16 * scale)


def test_lanczos_steps_count_one_step_per_product_when_the_warm_start_is_exact():
    """Rank-one factors u v^T keep every product a multiple of u v^T, so after the first
    product (an exact SVD seeds the warm start) each product is proved by the Rayleigh quotient
    of the warm start alone: one Lanczos step each. A spread spectrum needs more."""
    rng = np.random.default_rng(3)
    u, v = rng.standard_normal(40), rng.standard_normal(40)
    v *= np.sign(u @ v)
    factors = [(np.outer(u, v), 0.0)] * 12
    prof = product_norm_profile(iter(factors), 40, method="power")
    assert prof.lanczos_steps == 11
    assert prof.gram_checks == 0
    expected = np.log10(np.linalg.norm(u) * np.linalg.norm(v)) + np.arange(12) * np.log10(u @ v)
    np.testing.assert_allclose(prof.spectral[1:], expected, rtol=0, atol=1e-12)

    w, ds = _factors(40, 12, seed=4, orthogonal=True)
    spread = product_norm_profile((((d, w), 0.0) for d in ds), 40, method="power")
    assert spread.lanczos_steps > 2 * 11
