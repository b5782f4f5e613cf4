import numpy as np
import pytest

from bpttlab.engine.display import (
    bin_steps,
    bin_width,
    extents,
    finite_peak,
    heatmap,
    means,
    window_split,
)


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


@pytest.mark.parametrize(
    ("t_len", "max_bins", "width"), [(1, 200, 1), (200, 200, 1), (201, 200, 2)]
)
def test_bin_width_is_the_ceiling_of_t_over_the_bins(t_len, max_bins, width):
    assert bin_width(t_len, max_bins) == width
    steps, _ = bin_steps(np.zeros((t_len, 1)), max_bins)
    assert len(steps) == -(-t_len // width)


def test_heatmap_keeps_the_first_units_and_says_the_bin_width():
    values = np.arange(30.0).reshape(10, 3)  # row t holds 3t, 3t + 1, 3t + 2
    h = heatmap(values, units=2, max_bins=5)
    assert h.width == 2
    np.testing.assert_array_equal(h.steps, [1, 3, 5, 7, 9])
    # the mean of rows 2k and 2k + 1 is 6k + 1.5 (+1 in the second unit)
    k = np.arange(5)[:, None]
    np.testing.assert_array_equal(h.values, 6 * k + 1.5 + np.array([0.0, 1.0]))


def test_means_and_extents_by_name():
    arrays = {"f": np.array([[0.0, 1.0], [2.0, 5.0]]), "i": np.array([-1.0, 3.0])}
    assert means(arrays) == {"f": 2.0, "i": 1.0}
    assert extents(arrays) == {"f": (0.0, 5.0), "i": (-1.0, 3.0)}


def test_finite_peak_skips_exact_zeros():
    values = np.array([-np.inf, -2.0, 0.5, -1.0, -np.inf])
    assert finite_peak(values) == (2, 3)
    assert finite_peak(np.full(3, -np.inf)) is None


def test_window_split_keeps_distances_below_the_window():
    values = np.arange(5.0)
    kept, dropped = window_split(values, 2)
    np.testing.assert_array_equal(kept, [0.0, 1.0, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(dropped, [np.nan, np.nan, 2.0, 3.0, 4.0])
