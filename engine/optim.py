"""Optimisers with PyTorch's update rules (torch.optim, default hyperparameters, no weight decay).

For a parameter p with gradient g at step k = 1, 2, ... and learning rate lr:

- ``sgd``:      p <- p - lr g
- ``momentum``: b <- mu b + g (b_1 = g), p <- p - lr b,  mu = 0.9 (SGD(momentum=0.9))
- ``adam``:     m <- beta1 m + (1 - beta1) g,  v <- beta2 v + (1 - beta2) g^2,
                p <- p - lr (m / (1 - beta1^k)) / (sqrt(v / (1 - beta2^k)) + eps),
                beta1, beta2, eps = 0.9, 0.999, 1e-8
- ``rmsprop``:  v <- alpha v + (1 - alpha) g^2,  p <- p - lr g / (sqrt(v) + eps),
                alpha, eps = 0.99, 1e-8

The state lives in the optimiser object; ``step`` updates the parameters in place.
"""

from __future__ import annotations

import numpy as np

OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
MOMENTUM = 0.9
ADAM_BETAS = (0.9, 0.999)
EPS = 1e-8
RMSPROP_ALPHA = 0.99


class Optimizer:
    """One of OPTIMIZERS with learning rate ``lr``; ``step(params, grads)`` updates each array
    of params (a dict of arrays) in place from the same-named gradient."""

    def __init__(self, name: str, lr: float):
        if name not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}")
        if not lr > 0:
            raise ValueError("learning_rate must be > 0")
        self.name, self.lr = name, float(lr)
        self.k = 0  # steps taken
        self.first: dict[str, np.ndarray] = {}  # momentum buffer b, or Adam's m
        self.second: dict[str, np.ndarray] = {}  # Adam's v, RMSProp's v

    def step(self, params: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.k += 1
        lr = self.lr
        for key, g in grads.items():
            p = params[key]
            if self.name == "sgd":
                p -= lr * g
            elif self.name == "momentum":
                b = self.first.get(key)
                if b is None:
                    b = self.first[key] = g.copy()
                else:
                    b *= MOMENTUM
                    b += g
                p -= lr * b
            elif self.name == "adam":
                beta1, beta2 = ADAM_BETAS
                m = self.first.setdefault(key, np.zeros_like(g))
                v = self.second.setdefault(key, np.zeros_like(g))
                m *= beta1
                m += (1.0 - beta1) * g
                v *= beta2
                v += (1.0 - beta2) * (g * g)
                m_hat = m / (1.0 - beta1**self.k)
                v_hat = v / (1.0 - beta2**self.k)
                p -= lr * m_hat / (np.sqrt(v_hat) + EPS)
            else:
                v = self.second.setdefault(key, np.zeros_like(g))
                v *= RMSPROP_ALPHA
                v += (1.0 - RMSPROP_ALPHA) * (g * g)
                p -= lr * g / (np.sqrt(v) + EPS)
