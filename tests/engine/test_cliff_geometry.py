import numpy as np
import pytest

from bpttlab.engine.cliff import CliffConfig, cliff_loss_and_gradient, clip_geometry

CONFIG = CliffConfig(seq_len=50, b_max=1.0)  # Pascanu et al.'s T = 50


@pytest.mark.parametrize("point", [(5.0, -2.613), (5.0, -1.0), (2.0, 0.5), (9.0, -5.0)])
@pytest.mark.parametrize("threshold", [0.01, 1.0, 1e4])
def test_clipping_the_cliff_gradient(point, threshold):
    pt = cliff_loss_and_gradient(point[0], point[1], CONFIG)
    g = pt.grad_mantissa * 10.0 ** float(pt.log10_scale)
    norm = np.linalg.norm(g)
    geo = clip_geometry(CONFIG, point, threshold)
    by_norm, by_value = geo.clipped["norm"], geo.clipped["value"]
    expected_norm = norm * min(1.0, threshold / (norm + 1e-6))  # torch.nn.utils.clip_grad_norm_
    np.testing.assert_allclose(np.linalg.norm(by_norm), expected_norm, rtol=1e-12)
    np.testing.assert_allclose(by_norm * norm, g * np.linalg.norm(by_norm), rtol=1e-9)  # same way
    assert geo.results["norm"].cosine == 1.0
    np.testing.assert_array_equal(by_value, np.clip(g, -threshold, threshold))
    cosine = float(by_value @ g / (np.linalg.norm(by_value) * norm))
    assert geo.results["value"].cosine == pytest.approx(cosine, abs=1e-12)
