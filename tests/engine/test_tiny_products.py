"""Products far below float64's squares: a norm of 1e-300 is not zero.

The sum of squares behind a Frobenius norm underflows to exactly 0 once the entries fall below
~1e-162, long before the entries themselves do. With W_hh = 1e-300 Q (Q orthogonal) and the
identity nonlinearity, dh_T/dh_(T-l) = (1e-300 Q)^l exactly, so the profile is -300 l
(spectral) and log10 sqrt(n) - 300 l (Frobenius), and dh_T/dx_(T-l) = (1e-300 Q)^l W_ih has the
singular values of W_ih times 1e-300^l: closed forms, on both the batched exact path (n <= 64)
and the Lanczos path.
"""

import numpy as np
import pytest

from bpttlab.engine import GradientFlowConfig, gradient_flow
from bpttlab.engine.gradient_flow import given_problem
from bpttlab.engine.init import haar_orthogonal


@pytest.mark.parametrize("n", [8, 70])
@pytest.mark.parametrize("ih_scale", [1.0, 1e-300])
def test_a_product_of_norm_1e_minus_300_per_step_is_exact_not_zero(n, ih_scale):
    config = GradientFlowConfig(nonlinearity="identity", hidden_size=n, seq_len=5)
    drawn = given_problem(config, {}).params
    tensors = {
        "weight_ih": ih_scale * drawn.weight_ih,
        "weight_hh": 1e-300 * haar_orthogonal(n, np.random.default_rng(1)),
        "bias_ih": drawn.bias_ih,
        "bias_hh": drawn.bias_hh,
    }
    r = gradient_flow(config, problem=given_problem(config, tensors))
    l = np.arange(6)
    np.testing.assert_allclose(r.profile.spectral, -300.0 * l, atol=1e-9)
    np.testing.assert_allclose(r.profile.frobenius, 0.5 * np.log10(n) - 300.0 * l, atol=1e-9)
    w_ih = tensors["weight_ih"]
    top = np.max(np.abs(w_ih))
    log_sigma = np.log10(top) + np.log10(np.linalg.svd(w_ih / top, compute_uv=False)[0])
    np.testing.assert_allclose(r.input_sensitivity.spectral, log_sigma - 300.0 * l[:5], atol=1e-9)
