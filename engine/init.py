"""Recurrent weight initialisations and the random draw of one RNN problem.

Every tensor has its own child generator spawned from
``numpy.random.default_rng(seed)``, in a fixed order, so changing one choice
(say ``init``) never changes another tensor (say the inputs), and growing
``seq_len`` keeps the first inputs as they were (inputs are drawn row by row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INITS = ("gaussian", "orthogonal", "identity", "pytorch")
INPUTS = ("random", "zeros")
H0S = ("zeros", "random")

# Order of the child streams spawned from default_rng(seed). Append only.
_STREAMS = ("weight_hh", "weight_ih", "bias_ih", "bias_hh", "inputs", "h0", "target")


def spectral_radius(w: np.ndarray) -> float:
    """max |lambda_i(w)| for a square matrix w : (n, n)."""
    return float(np.max(np.abs(np.linalg.eigvals(w)))) if w.size else 0.0


def haar_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed orthogonal (n, n) matrix: QR of a Gaussian with sign fix."""
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return q * np.sign(np.diag(r))  # sign(diag R) is never 0 for a Gaussian draw


def init_recurrent(init: str, n: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """W_hh : (n, n).

    - ``gaussian``: iid N(0, 1), rescaled so that its spectral radius is ``scale``.
    - ``orthogonal``: Haar orthogonal times ``scale`` (every singular value = scale).
    - ``identity``: ``scale * I``.
    - ``pytorch``: U(-1/sqrt(n), 1/sqrt(n)) times ``scale``, as nn.RNNCell draws it.
    """
    if init == "gaussian":
        w = rng.standard_normal((n, n))
        return w * (scale / spectral_radius(w))
    if init == "orthogonal":
        return scale * haar_orthogonal(n, rng)
    if init == "identity":
        return scale * np.eye(n)
    if init == "pytorch":
        k = 1.0 / np.sqrt(n)
        return scale * rng.uniform(-k, k, size=(n, n))
    raise ValueError(f"unknown init {init!r}; choose from {list(INITS)}")


@dataclass(frozen=True)
class RNNParams:
    """One nn.RNNCell in PyTorch's layout.

    weight_ih : (n, d)   weight_hh : (n, n)   bias_ih : (n,)   bias_hh : (n,)
    """

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray
    bias_hh: np.ndarray

    @property
    def hidden_size(self) -> int:
        return self.weight_hh.shape[0]


@dataclass(frozen=True)
class Problem:
    """Everything a run needs besides the cell type.

    inputs : (T, d) rows x_1..x_T   h0 : (n,)   target : (n,) the y of L = 1/2 ||h_T - y||^2
    """

    params: RNNParams
    inputs: np.ndarray
    h0: np.ndarray
    target: np.ndarray


def draw_problem(
    *,
    seed: int,
    hidden_size: int,
    input_size: int,
    seq_len: int,
    init: str,
    scale: float,
    input: str,
    input_scale: float,
    h0: str,
) -> Problem:
    """Draw W_hh from ``init``; W_ih and both biases from PyTorch's U(-1/sqrt(n), 1/sqrt(n));
    inputs from N(0, input_scale^2) (or zeros); h0 from U(-1, 1) (or zeros); target from U(-1, 1).
    """
    if input not in INPUTS:
        raise ValueError(f"unknown input {input!r}; choose from {list(INPUTS)}")
    if h0 not in H0S:
        raise ValueError(f"unknown h0 {h0!r}; choose from {list(H0S)}")
    n, d, t = hidden_size, input_size, seq_len
    streams = dict(zip(_STREAMS, np.random.default_rng(seed).spawn(len(_STREAMS)), strict=True))
    k = 1.0 / np.sqrt(n)
    params = RNNParams(
        weight_ih=streams["weight_ih"].uniform(-k, k, size=(n, d)),
        weight_hh=init_recurrent(init, n, scale, streams["weight_hh"]),
        bias_ih=streams["bias_ih"].uniform(-k, k, size=n),
        bias_hh=streams["bias_hh"].uniform(-k, k, size=n),
    )
    inputs = (
        input_scale * streams["inputs"].standard_normal((t, d))
        if input == "random"
        else np.zeros((t, d))
    )
    h0_vec = streams["h0"].uniform(-1.0, 1.0, size=n) if h0 == "random" else np.zeros(n)
    target = streams["target"].uniform(-1.0, 1.0, size=n)
    return Problem(params=params, inputs=inputs, h0=h0_vec, target=target)
