"""The random draw of one problem: a cell's parameters, inputs, initial state and target.

Every tensor has its own child generator spawned from
``numpy.random.default_rng(seed)``, in a fixed order, so changing one choice
(say ``init``) never changes another tensor (say the inputs), and growing
``seq_len`` keeps the first inputs as they were (inputs are drawn row by row).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .gru import GRU_FORMS, GRUParams
from .init import H0S, INPUTS, RNNParams, init_recurrent
from .lstm import LSTMParams

CELLS = ("rnn", "lstm", "gru")
GATE_ROWS = {"rnn": 1, "lstm": 4, "gru": 3}

# Order of the child streams spawned from default_rng(seed). Append only.
_STREAMS = ("weight_hh", "weight_ih", "bias_ih", "bias_hh", "inputs", "h0", "target", "c0", "peep")


@dataclass(frozen=True)
class Problem:
    """Everything a run needs.

    params : RNNParams, LSTMParams or GRUParams
    inputs : (T, d) rows x_1..x_T   h0 : (n,)   c0 : (n,) for the LSTM, else None
    target : (n,) the y of L = 1/2 ||h_T - y||^2
    """

    params: RNNParams | LSTMParams | GRUParams
    inputs: np.ndarray
    h0: np.ndarray
    target: np.ndarray
    c0: np.ndarray | None = None


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
    cell: str = "rnn",
    gru_form: str = "pytorch",
    peephole: bool = False,
    forget_bias: float = 0.0,
    update_bias: float = 0.0,
) -> Problem:
    """Draw each n x n block of W_hh from ``init`` and ``scale`` (one block per gate); W_ih,
    both biases and the peephole weights from PyTorch's U(-1/sqrt(n), 1/sqrt(n)); inputs from
    N(0, input_scale^2) (or zeros); h0 and c0 from U(-1, 1) (or zeros, as ``h0`` says);
    target from U(-1, 1). ``forget_bias`` (LSTM) and ``update_bias`` (GRU) are added to
    bias_ih's forget (f) and update (z, or u) rows.
    """
    if input not in INPUTS:
        raise ValueError(f"unknown input {input!r}; choose from {list(INPUTS)}")
    if h0 not in H0S:
        raise ValueError(f"unknown h0 {h0!r}; choose from {list(H0S)}")
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; choose from {list(CELLS)}")
    if gru_form not in GRU_FORMS:
        raise ValueError(f"unknown gru_form {gru_form!r}; choose from {list(GRU_FORMS)}")
    n, d, t, rows = hidden_size, input_size, seq_len, GATE_ROWS[cell]
    streams = dict(zip(_STREAMS, np.random.default_rng(seed).spawn(len(_STREAMS)), strict=True))
    k = 1.0 / np.sqrt(n)
    weights = {
        "weight_ih": streams["weight_ih"].uniform(-k, k, size=(rows * n, d)),
        "weight_hh": np.vstack(
            [init_recurrent(init, n, scale, streams["weight_hh"]) for _ in range(rows)]
        ),
        "bias_ih": streams["bias_ih"].uniform(-k, k, size=rows * n),
        "bias_hh": streams["bias_hh"].uniform(-k, k, size=rows * n),
    }
    if cell == "rnn":
        params = RNNParams(**weights)
    elif cell == "lstm":
        weights["bias_ih"][n : 2 * n] += forget_bias  # rows i | f | g | o
        peep = streams["peep"].uniform(-k, k, size=(3, n)) if peephole else None
        params = LSTMParams(**weights, peephole=peep)
    else:
        weights["bias_ih"][n : 2 * n] += update_bias  # rows r | z | n
        params = GRUParams(**weights, form=gru_form)
    inputs = (
        input_scale * streams["inputs"].standard_normal((t, d))
        if input == "random"
        else np.zeros((t, d))
    )
    h0_vec = streams["h0"].uniform(-1.0, 1.0, size=n) if h0 == "random" else np.zeros(n)
    c0 = None
    if cell == "lstm":
        c0 = streams["c0"].uniform(-1.0, 1.0, size=n) if h0 == "random" else np.zeros(n)
    target = streams["target"].uniform(-1.0, 1.0, size=n)
    return Problem(params=params, inputs=inputs, h0=h0_vec, target=target, c0=c0)
