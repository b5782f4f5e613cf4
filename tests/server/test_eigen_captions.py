"""Every /eigen caption is true of its numbers, over many configurations (Hypothesis).

Each claim is checked against NumPy recomputed from the matrix W itself (engine.eigen
build_matrix), not against the engine's own result: the count of eigenvalues outside the
unit circle, and what ||W^l|| does against rho^l.
"""

import re

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bpttlab.engine.eigen import EigenConfig, build_matrix, eigen_expansion
from bpttlab.server.figures.eigen import eigen_figures

radius = st.floats(0.0, 1.3)
angle = st.floats(0.0, 3.2)
configs = st.one_of(
    st.builds(
        EigenConfig,
        matrix=st.just("eigenvalues"),
        radii=st.tuples(radius, radius, radius),
        angles=st.tuples(angle, angle, angle),
        non_normal=st.booleans(),
        coupling=st.floats(-20.0, 20.0),
        seq_len=st.integers(0, 80),
        seed=st.integers(0, 1000),
    ),
    st.builds(
        EigenConfig,
        matrix=st.sampled_from(["gaussian", "orthogonal", "identity", "pytorch"]),
        hidden_size=st.integers(1, 12),
        scale=st.floats(0.0, 1.5),
        seq_len=st.integers(0, 80),
        seed=st.integers(0, 1000),
    ),
)


def _log10_powers(w: np.ndarray, t_len: int) -> np.ndarray:
    """log10 ||W^l||_2, l = 0..t_len, the product renormalised every step (W = 1e-149 would
    underflow by l = 3 otherwise)."""
    out, p, acc = [0.0], np.eye(w.shape[0]), 0.0
    for _ in range(t_len):
        p = p @ w
        top = np.linalg.norm(p, 2)
        if top == 0.0:
            return np.array(out + [-np.inf] * (t_len + 1 - len(out)))
        acc += np.log10(top)
        p /= top
        out.append(acc)
    return np.array(out)


@settings(max_examples=60, deadline=None)
@given(configs)
def test_eigen_captions_say_what_the_matrix_does(config):
    captions = {f["name"]: f["summary"] for f in eigen_figures(eigen_expansion(config))}

    result = eigen_expansion(config)
    w, _ = build_matrix(config)
    lam = np.linalg.eigvals(w)
    rho = float(np.max(np.abs(lam)))
    shown_rho = result.spectral_radius  # the rho the captions print and compare with

    outside = re.search(r"(\d+) of (\d+) eigenvalues lie outside", captions["eigenvalues"])
    assert outside, captions["eigenvalues"]
    count = int(outside.group(1))  # on the circle (to 1e-8) counts as neither side
    assert np.sum(np.abs(lam) > 1.0 + 1e-8) <= count <= np.sum(np.abs(lam) > 1.0 - 1e-8)
    assert int(outside.group(2)) == lam.size

    text = captions["power"]
    powers = _log10_powers(w, config.seq_len)
    if text.startswith("Every eigenvalue lies inside"):
        assert rho < 1.0 - 1e-10
        assert np.max(powers) > 0.0  # ||W^l|| > 1 for some l although rho < 1
        if "before it falls" in text:
            assert powers[-1] < np.max(powers)
        else:
            assert "the last distance shown" in text
            assert powers[-1] >= np.max(powers) - 1e-9
    elif text.startswith("Every eigenvalue is 0 up to rounding"):
        # a nilpotent W's computed eigenvalues are rounding of order (eps ||W||)^(1/k): with a
        # coupling of 20 they reach 3e-5 although every exact eigenvalue is 0
        exact_zero = config.matrix == "eigenvalues" and max(config.radii) < 1e-6
        assert rho < 1e-5 or exact_zero, (rho, config)
    elif "at every l shown" in text:  # ||W^l|| = rho^l at every l
        np.testing.assert_allclose(powers, np.arange(len(powers)) * np.log10(rho), atol=1e-6)
    else:
        lo, hi = (
            float(x) for x in re.search(r"lies between (\S+) and (\S+) times rho", text).groups()
        )
        ratio = 10.0 ** (powers - np.arange(len(powers)) * np.log10(shown_rho))
        finite = np.isfinite(ratio) & (ratio > 0)
        assert np.all(ratio[finite] >= lo * (1 - 1e-2)) and np.all(ratio[finite] <= hi * (1 + 1e-2))
