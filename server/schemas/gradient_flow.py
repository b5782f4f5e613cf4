"""The gradient-flow experiment's query (/explore, `GET /api/v1/gradient-flow`)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from ...engine import GradientFlowConfig
from ...engine.cells import cell_names
from ...engine.cells.gru import GRU_FORMS
from ...engine.clipping import CLIP_MODES
from ...engine.init import H0S, INITS, INPUTS
from ...engine.nonlinearity import NONLINEARITIES
from .base import MAX_HIDDEN, MAX_INPUT, MAX_SEED, MAX_SEQ_LEN, QueryModel, bounded, choice

INCLUDES = ("weights",)
MAX_DRAWS = 100

Scale = bounded(
    float,
    "Weight scale",
    "Scale of $W_{hh}$ (0..100); for `gaussian` the spectral radius itself.",
    ge=0,
    le=100,
    slide=(0, 3, 0.01),
)
Seed = bounded(
    int,
    "Seed",
    f"Seed of `numpy.random.default_rng` for every drawn tensor (0..{MAX_SEED}).",
    ge=0,
    le=MAX_SEED,
)


class GradientFlowQuery(QueryModel):
    """Every control of the gradient-flow experiment (`GET /api/v1/gradient-flow`)."""

    engine_config = GradientFlowConfig

    cell: Annotated[
        choice(cell_names()),
        Field(
            title="Cell",
            description="Recurrent cell: vanilla `rnn` (`nn.RNNCell`), `lstm` "
            "(`nn.LSTMCell`) or `gru` (`nn.GRUCell`).",
        ),
    ] = "rnn"
    nonlinearity: Annotated[
        choice(NONLINEARITIES),
        Field(
            title="Nonlinearity",
            description=r"$\phi$ of the vanilla RNN, $h_t = \phi(W_{ih} x_t + b_{ih} + "
            r"W_{hh} h_{t-1} + b_{hh})$. Slope bound $\gamma$: tanh 1, sigmoid 1/4, relu 1, "
            "identity 1. Gated cells use sigmoid and tanh as PyTorch does and ignore it.",
        ),
    ] = "tanh"
    hidden_size: bounded(
        int,
        "Hidden size",
        f"Number of hidden units $n$ (1..{MAX_HIDDEN}).",
        ge=1,
        le=MAX_HIDDEN,
        slide=(1, MAX_HIDDEN, 1),
    ) = 32
    input_size: bounded(
        int,
        "Input size",
        f"Dimension $d$ of each input $x_t$ (1..{MAX_INPUT}).",
        ge=1,
        le=MAX_INPUT,
        slide=(1, MAX_INPUT, 1),
    ) = 4
    seq_len: bounded(
        int,
        "Sequence length",
        f"Number of time steps $T$ (1..{MAX_SEQ_LEN}); the gradient is followed "
        r"back from $h_T$ over distances $l = 0, \dots, T$.",
        ge=1,
        le=MAX_SEQ_LEN,
        slide=(1, MAX_SEQ_LEN, 1),
    ) = 100
    init: Annotated[
        choice(INITS),
        Field(
            title="Initialisation",
            description="$W_{hh}$: `gaussian` (iid normal rescaled to spectral radius = "
            r"scale), `orthogonal` (Haar orthogonal $\times$ scale), `identity` (scale "
            r"$\times I$), `pytorch` ($U(-1/\sqrt{n}, 1/\sqrt{n}) \times$ scale).",
        ),
    ] = "gaussian"
    scale: Scale = 1.0
    input: Annotated[
        choice(INPUTS),
        Field(
            title="Inputs",
            description=r"`random` (iid normal $\times$ `input_scale`) or `zeros`.",
        ),
    ] = "random"
    input_scale: bounded(
        float,
        "Input scale",
        "Standard deviation of the random inputs (0..100).",
        ge=0,
        le=100,
        slide=(0, 5, 0.01),
    ) = 1.0
    h0: Annotated[
        choice(H0S),
        Field(title="Initial state", description="$h_0$ (and $c_0$): `zeros` or `random`."),
    ] = "zeros"
    seed: Seed = 0
    clip: Annotated[
        choice(CLIP_MODES),
        Field(
            title="Clipping",
            description="Gradient clipping with PyTorch's semantics: `none`, `norm` "
            "(`clip_grad_norm_`, global over all parameters) or `value` (`clip_grad_value_`).",
        ),
    ] = "none"
    clip_threshold: bounded(
        float,
        "Clipping threshold",
        "`max_norm` for `norm`, `clip_value` for `value` (> 0, at most 1e6).",
        gt=0,
        le=1e6,
        slide=(0.01, 10, 0.01),
    ) = 1.0
    gru_form: Annotated[
        choice(GRU_FORMS),
        Field(
            title="GRU form",
            description=r"`pytorch` (`nn.GRUCell`: $h_t = (1 - z)\,n + z\,h_{t-1}$, reset "
            r"applied to $W_{hn} h + b_{hn}$) or `lecture` "
            r"($h_t = (1 - u)\,h_{t-1} + u\,\tilde h$, reset before the matmul).",
        ),
    ] = "pytorch"
    peephole: Annotated[
        bool,
        Field(
            title="Peepholes",
            description="LSTM only: the gates also read the cell state through diagonal "
            "weights ($c_{t-1}$; the output gate $c_t$).",
        ),
    ] = False
    forget_bias: bounded(
        float,
        "Forget-gate bias",
        "LSTM only: added to the forget gate's drawn bias (-50..50); large "
        "positive values hold the gate open ($f$ near 1).",
        ge=-50,
        le=50,
        slide=(-10, 20, 0.1),
    ) = 0.0
    update_bias: bounded(
        float,
        "Update-gate bias",
        "GRU only: added to the update gate's drawn bias (-50..50). In the "
        "PyTorch form +20 keeps $h$ ($z$ near 1); in the lecture form -20 does.",
        ge=-50,
        le=50,
        slide=(-20, 20, 0.1),
    ) = 0.0
    truncation: bounded(
        int,
        "Truncation window",
        r"Truncated BPTT: keep the terms of $\partial L / \partial W_{hh}$ from the last "
        rf"$\tau$ steps only (0..{MAX_SEQ_LEN}; 0, or any $\tau \ge$ `seq_len`, is full "
        "BPTT). Nonzero adds `truncation` to the response: the relative error of every "
        r"window $\tau = 1, \dots, T$.",
        ge=0,
        le=MAX_SEQ_LEN,
        slide=(0, MAX_SEQ_LEN, 1),
    ) = 0
    keep_prob: bounded(
        float,
        "Randomized: keep probability",
        "Randomized truncation: each step's term is kept with probability $p$ "
        "and reweighted by $1/p$, an unbiased estimate of full BPTT ((0, 1]; 1 is off). "
        "Below 1 adds `truncation.randomized`: `draws` estimates and their running mean.",
        gt=0,
        le=1,
        slide=(0.05, 1, 0.05),
    ) = 1.0
    draws: bounded(
        int,
        "Randomized: draws",
        f"Number of randomized truncations drawn (1..{MAX_DRAWS}), from "
        "`numpy.random.default_rng(seed)`.",
        ge=1,
        le=MAX_DRAWS,
        slide=(1, MAX_DRAWS, 1),
    ) = 20
    include: Annotated[
        str,
        Field(
            max_length=200,
            title="Include",
            description="Comma list of extra parts of the response: `weights` adds every "
            "tensor used (PyTorch state_dict names), inputs, h0 and target.",
        ),
    ] = ""

    @field_validator("include")
    @classmethod
    def _known_parts(cls, value: str) -> str:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        unknown = [p for p in parts if p not in INCLUDES]
        if unknown:
            raise ValueError(f"unknown part {unknown[0]!r}; allowed: {', '.join(INCLUDES)}")
        return ",".join(sorted(set(parts)))

    @property
    def includes(self) -> frozenset[str]:
        return frozenset(p for p in self.include.split(",") if p)
