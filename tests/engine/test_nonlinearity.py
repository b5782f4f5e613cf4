import numpy as np
import pytest

from bpttlab.engine.nonlinearity import NONLINEARITIES, get_nonlinearity

from .gradcheck import directional_fd

NAMES = sorted(NONLINEARITIES)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_matches_finite_differences(name):
    phi = get_nonlinearity(name)
    a = np.linspace(-6, 6, 97) + 0.013  # avoid relu's kink at 0
    fd = np.array([directional_fd(phi.forward, x, 1.0) for x in a])
    np.testing.assert_allclose(phi.derivative(a), fd, rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_log_derivative_is_log_of_derivative(name):
    phi = get_nonlinearity(name)
    a = np.linspace(-30, 30, 201) + 0.013
    d = phi.derivative(a)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(phi.log_derivative(a), np.log(d), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_gamma_is_the_supremum_of_the_slope(name):
    phi = get_nonlinearity(name)
    a = np.linspace(-10, 10, 20001)
    assert np.max(phi.derivative(a)) == pytest.approx(phi.gamma, rel=1e-9)
    assert {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0, "identity": 1.0}[name] == phi.gamma


def test_log_derivative_is_finite_far_outside_float_range():
    # sigmoid'(-800) = e^-800 / (1 + e^-800)^2 ~ 10^-347.4: a zero in float64, finite in logs
    for name, expected in (("sigmoid", -800.0), ("tanh", np.log(4.0) - 1600.0)):
        got = get_nonlinearity(name).log_derivative(np.array([-800.0, 800.0]))
        np.testing.assert_allclose(got, [expected, expected], rtol=1e-15)


def test_relu_derivative_is_zero_at_the_kink_like_pytorch():
    relu = get_nonlinearity("relu")
    assert relu.derivative(np.array([0.0]))[0] == 0.0
    assert relu.log_derivative(np.array([0.0]))[0] == -np.inf


def test_sigmoid_and_tanh_do_not_overflow():
    a = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
    s = get_nonlinearity("sigmoid").forward(a)
    np.testing.assert_allclose(s, [0.0, 1 / (1 + np.exp(50.0)), 0.5, 1 / (1 + np.exp(-50.0)), 1])


def test_unknown_name_is_refused():
    with pytest.raises(ValueError, match="unknown nonlinearity"):
        get_nonlinearity("softsign")
