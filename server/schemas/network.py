"""The network experiment's query (/network, `GET /api/v1/network`): the explorer's cell
controls that apply to a network, and the network's own (layers, directions, skips, loss).

What a network leaves out of the explorer's controls: h0 (PyTorch's nn.RNN/LSTM/GRU start
from zero states here), peepholes (torch.nn.LSTM has none), clipping and truncation (the
maps are of the full gradient). The API accepts every nonlinearity and both GRU forms, as
the engine computes them; only the PyTorch script (``/api/v1/network/pytorch``) is limited to
what torch.nn.RNN / GRU express (tanh or relu, the PyTorch GRU form).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from ...engine.cells import cell_names
from ...engine.cells.gru import GRU_FORMS
from ...engine.init import INITS, INPUTS
from ...engine.network import (
    LOSSES,
    MAX_LAYERS,
    SKIPS,
    NetworkConfig,
    NetworkOverflowError,
    draw_network_problem,
    network_forward,
)
from ...engine.nonlinearity import NONLINEARITIES
from .base import QueryModel, bounded, choice, cross_field_error
from .gradient_flow import INCLUDES, Scale, Seed

MAX_NET_HIDDEN = 64
MAX_NET_INPUT = 8
MAX_NET_SEQ_LEN = 200
MAX_VOCAB = 64
# the time axis may be labelled with the lecture's sentence (one word per step)
SENTENCES = {"steps": None, "movie": ("the", "movie", "was", "terribly", "exciting")}
# the nonlinearities torch.nn.RNN offers (the others are the engine's own)
TORCH_NONLINEARITIES = ("tanh", "relu")


class NetworkQuery(QueryModel):
    """Every control of the network experiment (`GET /api/v1/network`)."""

    engine_config = NetworkConfig

    cell: Annotated[
        choice(cell_names()),
        Field(
            title="Cell",
            description="Recurrent cell of every layer: `rnn` (`nn.RNN`), `lstm` (`nn.LSTM`) "
            "or `gru` (`nn.GRU`).",
        ),
    ] = "lstm"
    nonlinearity: Annotated[
        choice(NONLINEARITIES),
        Field(
            title="Nonlinearity",
            description=r"$\phi$ of the vanilla RNN. `nn.RNN` has tanh and relu only: the "
            "PyTorch script refuses sigmoid and identity. Gated cells ignore it.",
        ),
    ] = "tanh"
    num_layers: bounded(
        int,
        "Layers",
        f"Stacked layers $L$ (1..{MAX_LAYERS}); layer $k > 0$ reads layer $k - 1$'s output.",
        ge=1,
        le=MAX_LAYERS,
        slide=(1, MAX_LAYERS, 1),
    ) = 2
    bidirectional: Annotated[
        bool,
        Field(
            title="Bidirectional",
            description="A second stack reads the sequence backwards (PyTorch's `_reverse` "
            r"weights); each layer's output is $[h^{\rightarrow}_t; h^{\leftarrow}_t]$.",
        ),
    ] = False
    skip: Annotated[
        choice(SKIPS),
        Field(
            title="Skip connections",
            description="`none` (PyTorch's network) or `residual`: from layer 2 on, each "
            "layer's output plus its input, as in GNMT.",
        ),
    ] = "none"
    loss: Annotated[
        choice(LOSSES),
        Field(
            title="Loss",
            description=r"Softmax cross-entropy of the output layer at `every` step "
            r"($L = \sum_t L_t$) or at the `last` step only.",
        ),
    ] = "every"
    hidden_size: bounded(
        int,
        "Hidden size",
        f"Units $n$ per layer and direction (1..{MAX_NET_HIDDEN}).",
        ge=1,
        le=MAX_NET_HIDDEN,
        slide=(1, MAX_NET_HIDDEN, 1),
    ) = 16
    seq_len: bounded(
        int,
        "Sequence length",
        f"Time steps $T$ (1..{MAX_NET_SEQ_LEN}); the maps are $T \\times T$.",
        ge=1,
        le=MAX_NET_SEQ_LEN,
        slide=(1, MAX_NET_SEQ_LEN, 1),
    ) = 20
    vocab_size: bounded(
        int,
        "Vocabulary size",
        f"Classes $V$ of the output layer and of the drawn targets (2..{MAX_VOCAB}).",
        ge=2,
        le=MAX_VOCAB,
        slide=(2, MAX_VOCAB, 1),
    ) = 8
    init: Annotated[
        choice(INITS),
        Field(
            title="Initialisation",
            description="Every $W_{hh}$: `gaussian` (spectral radius = scale), `orthogonal`, "
            r"`identity` (scale $\times I$) or `pytorch` ($U(-1/\sqrt{n}, 1/\sqrt{n}) \times$ "
            "scale); the other weights as PyTorch draws them.",
        ),
    ] = "gaussian"
    scale: Scale = 1.0
    seed: Seed = 0
    gru_form: Annotated[
        choice(GRU_FORMS),
        Field(
            title="GRU form",
            description="`pytorch` (`nn.GRU`) or `lecture` (reset before the matmul, "
            r"$h_t = (1 - u)\,h_{t-1} + u\,\tilde h$); the PyTorch script refuses `lecture`.",
        ),
    ] = "pytorch"
    forget_bias: bounded(
        float,
        "Forget-gate bias",
        "LSTM only: added to every forget gate's drawn bias (-50..50).",
        ge=-50,
        le=50,
        slide=(-10, 20, 0.1),
    ) = 0.0
    update_bias: bounded(
        float,
        "Update-gate bias",
        "GRU only: added to every update gate's drawn bias (-50..50).",
        ge=-50,
        le=50,
        slide=(-20, 20, 0.1),
    ) = 0.0
    input_size: bounded(
        int,
        "Input size",
        f"Dimension $d$ of each input $x_t$ (1..{MAX_NET_INPUT}).",
        ge=1,
        le=MAX_NET_INPUT,
        slide=(1, MAX_NET_INPUT, 1),
    ) = 4
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
    labels: Annotated[
        choice(SENTENCES),
        Field(
            title="Time-axis labels",
            description="`steps` (1..T) or `movie`: the lecture's sentence \"the movie was "
            'terribly exciting", one word per step (needs seq_len = 5). Labels only: the '
            "inputs are still the drawn vectors.",
        ),
    ] = "steps"
    include: Annotated[
        str,
        Field(
            max_length=200,
            title="Include",
            description="Comma list of extra parts of the response: `weights` adds the "
            "state_dict of the equivalent torch.nn.RNN/LSTM/GRU (PyTorch's names), the "
            "output layer, the inputs, the targets and the zero initial states.",
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

    @model_validator(mode="after")
    def _consistent(self):
        words = SENTENCES[self.labels]
        if words is not None and self.seq_len != len(words):
            raise cross_field_error(
                "labels",
                f"{self.labels!r} has {len(words)} words: it needs seq_len = {len(words)}",
                seq_len=len(words),
            )
        drawn = getattr(self, "weights", None) is None  # a POST's own weights: its handler
        if drawn and self.cell == "rnn" and self.nonlinearity in ("relu", "identity"):
            # the only networks whose forward pass can leave float64 (|h| <= 1 otherwise):
            # refused here, before any work, naming the field (a forward pass, milliseconds)
            config = self.to_config()
            problem = draw_network_problem(config)
            try:
                network_forward(config, problem.weights, problem.inputs, problem.targets)
            except NetworkOverflowError as e:
                raise cross_field_error("scale", str(e)) from None
        return self

    @property
    def includes(self) -> frozenset[str]:
        return frozenset(p for p in self.include.split(",") if p)

    @property
    def words(self) -> tuple[str, ...] | None:
        """The time axis's words, or None for step numbers."""
        return SENTENCES[self.labels]

    def engine_fields(self) -> dict[str, Any]:
        names = {f.name for f in fields(NetworkConfig)}
        return {k: v for k, v in self.engine_values().items() if k in names}
