"""The user's own tensors: `POST /api/v1/gradient-flow` takes the query's fields as a JSON
body, validated strictly (a JSON number where the query has a number, true or false where it
has a switch), plus ``weights``."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from .gradient_flow import GradientFlowQuery

MAX_ABS = 1e6  # the largest |entry| of a posted tensor; the engine is exact far beyond it
MAX_BODY_BYTES = 16 * 2**20  # a POST body: the largest configuration's tensors take ~9 MB


def _tensor(value: Any) -> np.ndarray:
    """A posted tensor: a rectangular nested list of finite numbers, each |x| <= MAX_ABS.

    One error per tensor (not one per entry), naming the first offending entry.
    Shapes are checked by the engine against the configuration.
    """
    try:
        a = np.asarray(value)
    except (ValueError, TypeError):
        a = None
    if a is None or a.dtype.kind not in "iuf" or not isinstance(value, list):
        raise PydanticCustomError("tensor_type", "expected a rectangular (nested) list of numbers")
    a = a.astype(float)
    for bad, kind, message, limit in (
        (~np.isfinite(a), "finite_number", "entries must be finite numbers", {}),
        (
            np.abs(a, where=np.isfinite(a), out=np.zeros_like(a)) > MAX_ABS,
            "tensor_magnitude",
            f"entries must satisfy |x| <= {MAX_ABS:g}",
            {"max_abs": MAX_ABS},
        ),
    ):
        if bad.any():
            where = [int(i) for i in np.argwhere(bad)[0]]
            got = float(a[tuple(where)])
            raise PydanticCustomError(kind, f"{message}; got {got!r} at index {where}", limit)
    return a


def _tensor_schema(description: str, ndim: int) -> Any:
    schema: dict[str, Any] = {"type": "number"}
    for _ in range(ndim):
        schema = {"type": "array", "items": schema}
    return WithJsonSchema({**schema, "description": description})


Matrix = Annotated[np.ndarray, PlainValidator(_tensor), _tensor_schema("A list of rows.", 2)]
Vector = Annotated[np.ndarray, PlainValidator(_tensor), _tensor_schema("A list of numbers.", 1)]


class Weights(BaseModel):
    """A cell's own tensors under PyTorch's state_dict names (n = hidden_size, d = input_size,
    T = seq_len; G = 1 for rnn, 4 for lstm with rows i|f|g|o, 3 for gru with rows r|z|n).

    weight_ih, weight_hh, bias_ih and bias_hh come together (all four or none; a peephole
    LSTM needs peephole too); inputs, h0, c0 (lstm only) and target may each be given alone.
    What is not given is drawn from the seed exactly as the GET draws it. Given parameters
    are used as they are: init, scale, forget_bias and update_bias shape drawn ones only.
    Every entry must be finite with |x| <= 1e6.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    weight_ih: Annotated[Matrix | None, Field(description="(G n, d)")] = None
    weight_hh: Annotated[Matrix | None, Field(description="(G n, n)")] = None
    bias_ih: Annotated[Vector | None, Field(description="(G n,)")] = None
    bias_hh: Annotated[Vector | None, Field(description="(G n,)")] = None
    peephole: Annotated[
        Matrix | None, Field(description="(3, n): p_i, p_f, p_o; lstm with peephole=true")
    ] = None
    inputs: Annotated[Matrix | None, Field(description="(T, d): x_1..x_T")] = None
    h0: Annotated[Vector | None, Field(description="(n,)")] = None
    c0: Annotated[Vector | None, Field(description="(n,), lstm only")] = None
    target: Annotated[Vector | None, Field(description="(n,): y of L = 1/2 ||h_T - y||^2")] = None

    def tensors(self) -> dict[str, np.ndarray]:
        return {k: v for k, v in self if v is not None}


class GradientFlowBody(GradientFlowQuery):
    """`POST /api/v1/gradient-flow`: the query's fields as JSON, plus the user's own tensors."""

    # strict, unlike the URL query (whose values are strings by nature): a number field takes
    # a JSON number only ("seq_len": "10" and "truncation": false are refused), a switch
    # true or false only
    model_config = ConfigDict(strict=True)

    weights: Annotated[
        Weights | None,
        Field(title="Weights", description="The cell's own tensors; see Weights."),
    ] = None

    def tensors(self) -> dict[str, np.ndarray]:
        return {} if self.weights is None else self.weights.tensors()
