import numpy as np
import pytest

from bpttlab.engine.display import bin_steps


def test_no_binning_below_the_limit():
    values = np.arange(12.0).reshape(6, 2)
    steps, binned = bin_steps(values, 10)
    np.testing.assert_array_equal(steps, np.arange(1, 7))
    np.testing.assert_array_equal(binned, values)


@pytest.mark.parametrize(("t_len", "max_bins"), [(10, 3), (1000, 200), (7, 7), (1001, 250)])
def test_bins_are_means_of_consecutive_steps(t_len, max_bins):
    rng = np.random.default_rng(0)
    values = rng.normal(size=(t_len, 3))
    steps, binned = bin_steps(values, max_bins)
    assert len(steps) <= max_bins
    edges = list(steps - 1) + [t_len]
    for b in range(len(steps)):
        np.testing.assert_allclose(binned[b], values[edges[b] : edges[b + 1]].mean(axis=0))
