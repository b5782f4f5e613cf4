"""`POST /api/v1/network`: the network query's fields as a strict JSON body, plus ``weights``
in the shape `GET /api/v1/network?include=weights` returns them."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

from .network import NetworkQuery
from .tensors import Matrix, Vector, _tensor

Tensor = Annotated[
    np.ndarray,
    PlainValidator(_tensor),
    WithJsonSchema(
        {
            "description": "A tensor: a (nested) list of numbers, matrices as lists of rows.",
            "type": "array",
            "items": {"anyOf": [{"type": "number"}, {"type": "array"}]},
        }
    ),
]


class OutputWeights(BaseModel):
    """The output layer, logits_t = weight y_t + bias (nn.Linear(D n, V))."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weight: Annotated[Matrix, Field(description="(V, D n)")]
    bias: Annotated[Vector, Field(description="(V,)")]


class NetworkWeights(BaseModel):
    """A network's tensors: ``rnn`` the state_dict of the equivalent torch.nn.RNN/LSTM/GRU
    (``weight_ih_l0``, ``weight_hh_l0``, ``bias_ih_l0``, ``bias_hh_l0``, ... and
    ``..._reverse`` when bidirectional; G n rows, G = 1 rnn, 4 lstm i|f|g|o, 3 gru r|z|n) and
    ``output`` come together (both or neither), with exactly PyTorch's names and shapes;
    ``inputs`` (T, d) and ``targets`` (T integers in 0..V-1 for loss=every, 1 for loss=last)
    may each be given alone. What is not given is drawn from the seed as the GET draws it.
    ``h0`` and ``c0`` (L D, n) may be given, and must be zero: the network starts from zero
    states. Every entry must be finite with |x| <= 1e6.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    rnn: Annotated[
        dict[str, Tensor] | None,
        Field(description="The state_dict of torch.nn.RNN/LSTM/GRU, by PyTorch's names."),
    ] = None
    output: Annotated[OutputWeights | None, Field(description="The output layer.")] = None
    inputs: Annotated[Matrix | None, Field(description="(T, d): x_1..x_T")] = None
    targets: Annotated[
        list[Annotated[int, Field(ge=0, le=63)]] | None,
        Field(description="T class indices (loss=every) or 1 (loss=last), each < vocab_size"),
    ] = None
    h0: Annotated[Matrix | None, Field(description="(L D, n), zeros")] = None
    c0: Annotated[Matrix | None, Field(description="(L D, n), zeros; lstm only")] = None


class NetworkBody(NetworkQuery):
    """`POST /api/v1/network`: the query's fields as JSON, plus the network's tensors."""

    model_config = ConfigDict(strict=True)

    weights: Annotated[
        NetworkWeights | None,
        Field(title="Weights", description="The network's tensors; see NetworkWeights."),
    ] = None

    def given(self) -> dict[str, Any]:
        return {} if self.weights is None else {k: v for k, v in self.weights if v is not None}
