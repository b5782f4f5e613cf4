"""The validated query of every compute endpoint: one pydantic model per experiment.

A query model lists every control with its default, its bound and a plain-words title
(the page uses the title as the control's label, OpenAPI as the parameter's name).
Choices come from the engine's own tuples, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..engine.clipping import CLIP_MODES
from ..engine.gru import GRU_FORMS
from ..engine.init import H0S, INITS, INPUTS
from ..engine.nonlinearity import NONLINEARITIES
from ..engine.problem import CELLS

INCLUDES = ("weights",)
MAX_HIDDEN = 256
MAX_INPUT = 64
MAX_SEQ_LEN = 1000
MAX_SEED = 2**32 - 1
MAX_DRAWS = 100
MAX_ABS = 1e6  # the largest |entry| of a posted tensor; the engine is exact far beyond it
MAX_BODY_BYTES = 16 * 2**20  # a POST body: the largest configuration's tensors take ~9 MB


def _choice(values) -> Any:
    return Literal[tuple(values)]


def _slider(lo: float, hi: float, step: float) -> dict[str, Any]:
    """The page's range slider covers [lo, hi]; the number box next to it takes the full bound."""
    return {"x-slider": {"min": lo, "max": hi, "step": step}}


class GradientFlowQuery(BaseModel):
    """Every control of the gradient-flow experiment (`GET /api/v1/gradient-flow`)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    cell: Annotated[
        _choice(CELLS),
        Field(
            title="Cell",
            description="Recurrent cell: vanilla `rnn` (nn.RNNCell), `lstm` (nn.LSTMCell) "
            "or `gru` (nn.GRUCell).",
        ),
    ] = "rnn"
    nonlinearity: Annotated[
        _choice(NONLINEARITIES),
        Field(
            title="Nonlinearity",
            description="phi of the vanilla RNN, h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + "
            "b_hh). Slope bound gamma: tanh 1, sigmoid 1/4, relu 1, identity 1. Gated cells "
            "use sigmoid and tanh as PyTorch does and ignore it.",
        ),
    ] = "tanh"
    hidden_size: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_HIDDEN,
            title="Hidden size",
            description=f"Number of hidden units n (1..{MAX_HIDDEN}).",
            json_schema_extra=_slider(1, MAX_HIDDEN, 1),
        ),
    ] = 32
    input_size: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_INPUT,
            title="Input size",
            description=f"Dimension d of each input x_t (1..{MAX_INPUT}).",
            json_schema_extra=_slider(1, MAX_INPUT, 1),
        ),
    ] = 4
    seq_len: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_SEQ_LEN,
            title="Sequence length",
            description=f"Number of time steps T (1..{MAX_SEQ_LEN}); the gradient is followed "
            "back from h_T over distances l = 0..T.",
            json_schema_extra=_slider(1, MAX_SEQ_LEN, 1),
        ),
    ] = 100
    init: Annotated[
        _choice(INITS),
        Field(
            title="Initialisation",
            description="W_hh: `gaussian` (iid normal rescaled to spectral radius = scale), "
            "`orthogonal` (Haar orthogonal x scale), `identity` (scale x I), `pytorch` "
            "(U(-1/sqrt(n), 1/sqrt(n)) x scale).",
        ),
    ] = "gaussian"
    scale: Annotated[
        float,
        Field(
            ge=0,
            le=100,
            title="Weight scale",
            description="Scale of W_hh (0..100); for `gaussian` the spectral radius itself.",
            json_schema_extra=_slider(0, 3, 0.01),
        ),
    ] = 1.0
    input: Annotated[
        _choice(INPUTS),
        Field(
            title="Inputs",
            description="`random` (iid normal x input_scale) or `zeros`.",
        ),
    ] = "random"
    input_scale: Annotated[
        float,
        Field(
            ge=0,
            le=100,
            title="Input scale",
            description="Standard deviation of the random inputs (0..100).",
            json_schema_extra=_slider(0, 5, 0.01),
        ),
    ] = 1.0
    h0: Annotated[
        _choice(H0S),
        Field(title="Initial state", description="h_0 (and c_0): `zeros` or `random`."),
    ] = "zeros"
    seed: Annotated[
        int,
        Field(
            ge=0,
            le=MAX_SEED,
            title="Seed",
            description=f"Seed of numpy.random.default_rng for every drawn tensor (0..{MAX_SEED}).",
        ),
    ] = 0
    clip: Annotated[
        _choice(CLIP_MODES),
        Field(
            title="Clipping",
            description="Gradient clipping with PyTorch's semantics: `none`, `norm` "
            "(clip_grad_norm_, global over all parameters) or `value` (clip_grad_value_).",
        ),
    ] = "none"
    clip_threshold: Annotated[
        float,
        Field(
            gt=0,
            le=1e6,
            title="Clipping threshold",
            description="max_norm for `norm`, clip_value for `value` (> 0, at most 1e6).",
            json_schema_extra=_slider(0.01, 10, 0.01),
        ),
    ] = 1.0
    gru_form: Annotated[
        _choice(GRU_FORMS),
        Field(
            title="GRU form",
            description="`pytorch` (nn.GRUCell: h = (1-z) n + z h_prev, reset applied to "
            "W_hn h + b_hn) or `lecture` (h = (1-u) h_prev + u h~, reset before the matmul).",
        ),
    ] = "pytorch"
    peephole: Annotated[
        bool,
        Field(
            title="Peepholes",
            description="LSTM only: the gates also read c_{t-1} through diagonal weights.",
        ),
    ] = False
    forget_bias: Annotated[
        float,
        Field(
            ge=-50,
            le=50,
            title="Forget-gate bias",
            description="LSTM only: added to the forget gate's drawn bias (-50..50); large "
            "positive values hold the gate open (f near 1).",
            json_schema_extra=_slider(-10, 20, 0.1),
        ),
    ] = 0.0
    update_bias: Annotated[
        float,
        Field(
            ge=-50,
            le=50,
            title="Update-gate bias",
            description="GRU only: added to the update gate's drawn bias (-50..50). In the "
            "PyTorch form +20 keeps h (z near 1); in the lecture form -20 does.",
            json_schema_extra=_slider(-20, 20, 0.1),
        ),
    ] = 0.0
    truncation: Annotated[
        int,
        Field(
            ge=0,
            le=MAX_SEQ_LEN,
            title="Truncation window",
            description=f"Truncated BPTT: keep the terms of dL/dW_hh from the last tau steps "
            f"only (0..{MAX_SEQ_LEN}; 0, or any tau >= seq_len, is full BPTT). Nonzero adds "
            "`truncation` to the response: the relative error of every window tau = 1..T.",
            json_schema_extra=_slider(0, MAX_SEQ_LEN, 1),
        ),
    ] = 0
    keep_prob: Annotated[
        float,
        Field(
            gt=0,
            le=1,
            title="Randomized: keep probability",
            description="Randomized truncation: each step's term is kept with probability p "
            "and reweighted by 1/p, an unbiased estimate of full BPTT ((0, 1]; 1 is off). "
            "Below 1 adds `truncation.randomized`: `draws` estimates and their running mean.",
            json_schema_extra=_slider(0.05, 1, 0.05),
        ),
    ] = 1.0
    draws: Annotated[
        int,
        Field(
            ge=1,
            le=MAX_DRAWS,
            title="Randomized: draws",
            description=f"Number of randomized truncations drawn (1..{MAX_DRAWS}), from "
            "numpy.random.default_rng(seed).",
            json_schema_extra=_slider(1, MAX_DRAWS, 1),
        ),
    ] = 20
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

    def engine_fields(self) -> dict[str, Any]:
        """Every field except the response-shaping ``include``."""
        return self.model_dump(exclude={"include"})

    def query_string(self) -> str:
        """The canonical query: only non-default values, in field order."""
        from urllib.parse import urlencode

        pairs = [
            (name, _query_value(value))
            for name, value in self.model_dump().items()
            if value != type(self).model_fields[name].default
        ]
        return urlencode(pairs)


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return str(value)


# /compare runs the three cells on one configuration: every control except the cell itself, the
# clipping and the truncation (the comparison is of Jacobians, which they do not touch)
_NOT_COMPARED = ("cell", "clip", "clip_threshold", "truncation", "keep_prob", "draws", "include")


class _CompareBase(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    engine_fields = GradientFlowQuery.engine_fields
    query_string = GradientFlowQuery.query_string


CompareQuery = create_model(
    "CompareQuery",
    __base__=_CompareBase,
    __doc__="RNN, LSTM and GRU on the same inputs, seed and scale (`GET /api/v1/compare`).",
    **{
        name: (info.annotation, info)
        for name, info in GradientFlowQuery.model_fields.items()
        if name not in _NOT_COMPARED
    },
)


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

    weights: Annotated[
        Weights | None,
        Field(title="Weights", description="The cell's own tensors; see Weights."),
    ] = None

    def engine_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"include", "weights"})

    def tensors(self) -> dict[str, np.ndarray]:
        return {} if self.weights is None else self.weights.tensors()


def cross_field_error(field: str, message: str, **limit) -> PydanticCustomError:
    """An error about a combination of fields, reported on ``field`` (see errors.py)."""
    return PydanticCustomError("cross_field", message, {"field": field, **limit})


class CliffQuery(BaseModel):
    """Pascanu et al.'s single-unit cliff (`GET /api/v1/cliff`): the (w, b) grid, the model,
    and gradient descent from a start point run unclipped, clipped by norm and by value."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    seq_len: Annotated[
        int,
        Field(
            ge=1,
            le=500,
            title="Sequence length",
            description="T of x_t = w phi(x_(t-1)) + b, t = 1..T (1..500; long sequences with "
            "large |w| are refused when the gradient could exceed 1e300).",
            json_schema_extra=_slider(1, 200, 1),
        ),
    ] = 50
    nonlinearity: Annotated[
        Literal["sigmoid", "tanh"],
        Field(title="Nonlinearity", description="phi: `sigmoid` (Pascanu et al.) or `tanh`."),
    ] = "sigmoid"
    w_min: Annotated[
        float, Field(ge=-50, le=50, title="w from", description="Left end of the w axis (-50..50).")
    ] = 1.0
    w_max: Annotated[
        float, Field(ge=-50, le=50, title="w to", description="Right end of the w axis (-50..50).")
    ] = 10.0
    b_min: Annotated[
        float, Field(ge=-50, le=50, title="b from", description="Bottom of the b axis (-50..50).")
    ] = -7.0
    b_max: Annotated[
        float, Field(ge=-50, le=50, title="b to", description="Top of the b axis (-50..50).")
    ] = 1.0
    resolution: Annotated[
        int,
        Field(
            ge=2,
            le=301,
            title="Grid points per axis",
            description="Resolution of the (w, b) grid (2..301).",
            json_schema_extra=_slider(11, 301, 10),
        ),
    ] = 121
    start_w: Annotated[
        float,
        Field(
            ge=-1000,
            le=1000,
            title="Start w",
            description="w of the descent's starting point (click on the surface to set it).",
        ),
    ] = 5.0
    start_b: Annotated[
        float,
        Field(
            ge=-1000,
            le=1000,
            title="Start b",
            description="b of the descent's starting point (click on the surface to set it).",
        ),
    ] = -2.6
    learning_rate: Annotated[
        float,
        Field(
            gt=0,
            le=1000,
            title="Learning rate",
            description="Step size of gradient descent (> 0, at most 1000).",
            json_schema_extra=_slider(0.01, 5, 0.01),
        ),
    ] = 0.1
    steps: Annotated[
        int,
        Field(
            ge=0,
            le=1000,
            title="Steps",
            description="Iterations of each descent (0..1000).",
            json_schema_extra=_slider(0, 300, 1),
        ),
    ] = 100
    clip_threshold: Annotated[
        float,
        Field(
            gt=0,
            le=1e6,
            title="Clipping threshold",
            description="max_norm of clip_grad_norm_ and clip_value of clip_grad_value_ "
            "(> 0, at most 1e6).",
            json_schema_extra=_slider(0.01, 10, 0.01),
        ),
    ] = 1.0

    @model_validator(mode="after")
    def _consistent(self):
        from ..engine.cliff import LOG10_GRAD_MAX, CliffConfig

        if self.w_max <= self.w_min:
            raise cross_field_error("w_max", "must be greater than w_min", gt=self.w_min)
        if self.b_max <= self.b_min:
            raise cross_field_error("b_max", "must be greater than b_min", gt=self.b_min)
        try:
            CliffConfig(**self.cliff_fields())
        except ValueError:
            raise cross_field_error(
                "seq_len",
                f"with this w range the gradient could exceed 1e{LOG10_GRAD_MAX:.0f}; shorten "
                "the sequence or narrow w",
                log10_gradient_max=LOG10_GRAD_MAX,
            ) from None
        return self

    def cliff_fields(self) -> dict[str, Any]:
        names = ("seq_len", "nonlinearity", "w_min", "w_max", "b_min", "b_max", "resolution")
        return {k: getattr(self, k) for k in names}

    engine_fields = GradientFlowQuery.engine_fields
    query_string = GradientFlowQuery.query_string


EIGEN_PAIRS = 3  # the page's eigenvalue sliders: radius_k and angle_k, k = 1..3


def _radius(k: int, default: float):
    return Annotated[
        float,
        Field(
            ge=0,
            le=10,
            title=f"Radius {k}",
            description=f"|lambda| of eigenvalue {k} (0..10; used with matrix=eigenvalues).",
            json_schema_extra=_slider(0, 2, 0.01),
        ),
    ], default


def _angle(k: int, default: float):
    return Annotated[
        float,
        Field(
            ge=0,
            le=3.1416,
            title=f"Angle {k}",
            description=f"Argument of eigenvalue {k} in radians (0..pi): 0 or pi gives a real "
            "eigenvalue, anything else a complex-conjugate pair.",
            json_schema_extra=_slider(0, 3.14, 0.01),
        ),
    ], default


class _EigenBase(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, frozen=True)

    engine_fields = GradientFlowQuery.engine_fields
    query_string = GradientFlowQuery.query_string

    def eigen_fields(self) -> dict[str, Any]:
        d = self.model_dump()
        radii = tuple(d.pop(f"radius{k}") for k in range(1, EIGEN_PAIRS + 1))
        angles = tuple(d.pop(f"angle{k}") for k in range(1, EIGEN_PAIRS + 1))
        return {**d, "radii": radii, "angles": angles}

    @model_validator(mode="after")
    def _non_normal_needs_eigenvalues(self):
        if self.non_normal and self.matrix != "eigenvalues":
            raise cross_field_error(
                "non_normal", "needs matrix=eigenvalues", expected="eigenvalues"
            )
        return self


_DEFAULT_RADII, _DEFAULT_ANGLES = (1.05, 0.9, 0.6), (0.0, 0.5, 2.0)
EigenQuery = create_model(
    "EigenQuery",
    __base__=_EigenBase,
    __doc__="The linear-case proof (`GET /api/v1/eigen`): g_l = (W^T)^l g_0 and its expansion.",
    matrix=(
        Annotated[
            Literal[("eigenvalues", *INITS)],
            Field(
                title="Matrix",
                description="`eigenvalues`: W = V B V^T built from the three (radius, angle) "
                "pairs, V a random orthogonal basis; or one of the inits of /explore "
                "(`gaussian`, `orthogonal`, `identity`, `pytorch`) with hidden_size and scale.",
            ),
        ],
        "eigenvalues",
    ),
    **{
        name: spec
        for k in range(1, EIGEN_PAIRS + 1)
        for name, spec in (
            (f"radius{k}", _radius(k, _DEFAULT_RADII[k - 1])),
            (f"angle{k}", _angle(k, _DEFAULT_ANGLES[k - 1])),
        )
    },
    non_normal=(
        Annotated[
            bool,
            Field(
                title="Non-normal",
                description="Couple consecutive eigenvalue blocks (eigenvalues unchanged): "
                "W becomes non-normal and ||g_l|| can grow for a while although every "
                "|lambda| < 1.",
            ),
        ],
        False,
    ),
    coupling=(
        Annotated[
            float,
            Field(
                ge=-100,
                le=100,
                title="Coupling",
                description="Strength of the non-normal coupling (-100..100).",
                json_schema_extra=_slider(0, 20, 0.1),
            ),
        ],
        10.0,
    ),
    hidden_size=(
        Annotated[
            int,
            Field(
                ge=1,
                le=MAX_HIDDEN,
                title="Hidden size",
                description=f"n for the inits (1..{MAX_HIDDEN}).",
                json_schema_extra=_slider(1, 64, 1),
            ),
        ],
        8,
    ),
    scale=(
        GradientFlowQuery.model_fields["scale"].annotation,
        GradientFlowQuery.model_fields["scale"],
    ),
    seq_len=(
        Annotated[
            int,
            Field(
                ge=0,
                le=MAX_SEQ_LEN,
                title="Sequence length",
                description=f"Distances l = 0..T followed back (0..{MAX_SEQ_LEN}).",
                json_schema_extra=_slider(1, 300, 1),
            ),
        ],
        50,
    ),
    seed=(
        GradientFlowQuery.model_fields["seed"].annotation,
        GradientFlowQuery.model_fields["seed"],
    ),
)
