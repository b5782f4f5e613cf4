"""The random draw of one problem: a cell's parameters, inputs, initial state and target.

Every tensor has its own child generator spawned from
``numpy.random.default_rng(seed)``, in a fixed order, so changing one choice
(say ``init``) never changes another tensor (say the inputs), and growing
``seq_len`` keeps the first inputs as they were (inputs are drawn row by row).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .cells import get_cell
from .choices import check_choices

# Order of the child streams spawned from default_rng(seed). Append only.
_STREAMS = ("weight_hh", "weight_ih", "bias_ih", "bias_hh", "inputs", "h0", "target", "c0", "peep")


@dataclass(frozen=True)
class Problem:
    """Everything a run needs.

    params : the cell's parameters (RNNParams, LSTMParams or GRUParams)
    inputs : (T, d) rows x_1..x_T   h0 : (n,)   c0 : (n,) for the LSTM, else None
    target : (n,) the y of L = 1/2 ||h_T - y||^2
    """

    params: Any
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
    **options: Any,
) -> Problem:
    """Draw the cell's parameters (see its ``draw_params``: each n x n block of W_hh from
    ``init`` and ``scale``, one block per gate; W_ih and both biases from PyTorch's
    U(-1/sqrt(n), 1/sqrt(n))); inputs from N(0, input_scale^2) (or zeros); h0 and c0 from
    U(-1, 1) (or zeros, as ``h0`` says); target from U(-1, 1).

    options : values of the cell's ``options`` (forget_bias, peephole, update_bias,
    gru_form, ...); those not given take the cell's defaults, those it does not read are
    ignored. Named choices are checked by engine.choices, the cell by the registry.
    """
    the_cell = get_cell(cell)
    check_choices({"input": input, "h0": h0})
    n, d, t = hidden_size, input_size, seq_len
    streams = dict(zip(_STREAMS, np.random.default_rng(seed).spawn(len(_STREAMS)), strict=True))
    params = the_cell.draw_params(streams, n=n, d=d, init=init, scale=scale, options=options)
    inputs = (
        input_scale * streams["inputs"].standard_normal((t, d))
        if input == "random"
        else np.zeros((t, d))
    )
    h0_vec = streams["h0"].uniform(-1.0, 1.0, size=n) if h0 == "random" else np.zeros(n)
    c0 = None
    if the_cell.state_factor == 2:  # the second half of the state (the LSTM's c)
        c0 = streams["c0"].uniform(-1.0, 1.0, size=n) if h0 == "random" else np.zeros(n)
    target = streams["target"].uniform(-1.0, 1.0, size=n)
    return Problem(params=params, inputs=inputs, h0=h0_vec, target=target, c0=c0)
