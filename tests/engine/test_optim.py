"""Each optimiser's steps against its update written out here (PyTorch's torch.optim rules)."""

import numpy as np
import pytest

from bpttlab.engine.optim import Optimizer

LR = 0.1
P0 = np.array([1.0, -2.0, 0.5])
GS = [np.array([0.3, -1.0, 2.0]), np.array([-0.5, 0.2, 1.0]), np.array([0.1, 0.4, -3.0])]


def _run(name: str) -> np.ndarray:
    params = {"w": P0.copy()}
    opt = Optimizer(name, LR)
    for g in GS:
        opt.step(params, {"w": g.copy()})
    return params["w"]


def test_sgd():
    np.testing.assert_allclose(_run("sgd"), P0 - LR * (GS[0] + GS[1] + GS[2]), rtol=1e-14)


def test_momentum_buffer_starts_at_the_gradient():
    b1 = GS[0]
    b2 = 0.9 * b1 + GS[1]
    b3 = 0.9 * b2 + GS[2]
    np.testing.assert_allclose(_run("momentum"), P0 - LR * (b1 + b2 + b3), rtol=1e-14)


def test_adam_with_bias_correction():
    p, m, v = P0.copy(), np.zeros(3), np.zeros(3)
    for k, g in enumerate(GS, start=1):
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g**2
        p = p - LR * (m / (1 - 0.9**k)) / (np.sqrt(v / (1 - 0.999**k)) + 1e-8)
    np.testing.assert_allclose(_run("adam"), p, rtol=1e-13)
    # a constant gradient: every bias-corrected step is lr * sign(g) (up to eps)
    params, opt = {"w": P0.copy()}, Optimizer("adam", LR)
    for _ in range(4):
        opt.step(params, {"w": GS[0].copy()})
    np.testing.assert_allclose(params["w"], P0 - 4 * LR * np.sign(GS[0]), rtol=1e-7)


def test_rmsprop():
    p, v = P0.copy(), np.zeros(3)
    for g in GS:
        v = 0.99 * v + 0.01 * g**2
        p = p - LR * g / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(_run("rmsprop"), p, rtol=1e-13)


def test_bad_choices_are_named():
    with pytest.raises(ValueError, match="optimizer"):
        Optimizer("lbfgs", 0.1)
    with pytest.raises(ValueError, match="learning_rate"):
        Optimizer("sgd", 0.0)
