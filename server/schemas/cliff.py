"""/cliff's query: Pascanu et al.'s single-unit model, its (w, b) grid and the descent."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from ...engine.cliff import LOG10_GRAD_MAX, CliffConfig
from .base import QueryModel, bounded, cross_field_error


def _axis_end(title: str, description: str):
    return bounded(float, title, description, ge=-50, le=50)


def _start(title: str, description: str):
    return bounded(float, title, description, ge=-1000, le=1000)


class CliffQuery(QueryModel):
    """Pascanu et al.'s single-unit cliff (`GET /api/v1/cliff`): the (w, b) grid, the model,
    and gradient descent from a start point run unclipped, clipped by norm and by value."""

    engine_config = CliffConfig

    seq_len: bounded(
        int,
        "Sequence length",
        r"$T$ of $x_t = w\,\phi(x_{t-1}) + b$, $t = 1, \dots, T$ (1..500; long sequences "
        r"with large $|w|$ are refused when the gradient could exceed 1e300).",
        ge=1,
        le=500,
        slide=(1, 200, 1),
    ) = 30
    nonlinearity: Annotated[
        Literal["sigmoid", "tanh"],
        Field(title="Nonlinearity", description=r"$\phi$: `sigmoid` (Pascanu et al.) or `tanh`."),
    ] = "sigmoid"
    w_min: _axis_end("w from", "Left end of the $w$ axis (-50..50).") = 1.0
    w_max: _axis_end("w to", "Right end of the $w$ axis (-50..50).") = 10.0
    b_min: _axis_end("b from", "Bottom of the $b$ axis (-50..50).") = -7.0
    b_max: _axis_end("b to", "Top of the $b$ axis (-50..50).") = 7.0
    resolution: bounded(
        int,
        "Grid points per axis",
        "Resolution of the $(w, b)$ grid (2..301).",
        ge=2,
        le=301,
        slide=(11, 301, 10),
    ) = 121
    start_w: _start(
        "Start w", "$w$ of the descent's starting point (click on the surface to set it)."
    ) = 5.0
    start_b: _start(
        "Start b", "$b$ of the descent's starting point (click on the surface to set it)."
    ) = -3.0
    learning_rate: bounded(
        float,
        "Learning rate",
        "Step size of gradient descent (> 0, at most 1000).",
        gt=0,
        le=1000,
        slide=(0.01, 5, 0.01),
    ) = 0.5
    steps: bounded(
        int,
        "Steps",
        "Iterations of each descent (0..1000).",
        ge=0,
        le=1000,
        slide=(0, 300, 1),
    ) = 200
    clip_threshold: bounded(
        float,
        "Clipping threshold",
        "`max_norm` of `clip_grad_norm_` and `clip_value` of `clip_grad_value_` "
        "(> 0, at most 1e6).",
        gt=0,
        le=1e6,
        slide=(0.01, 10, 0.01),
    ) = 1.0

    @model_validator(mode="after")
    def _consistent(self):
        if self.w_max <= self.w_min:
            raise cross_field_error("w_max", "must be greater than w_min", gt=self.w_min)
        if self.b_max <= self.b_min:
            raise cross_field_error("b_max", "must be greater than b_min", gt=self.b_min)
        try:
            self.to_config()
        except ValueError:
            raise cross_field_error(
                "seq_len",
                f"with this w range the gradient could exceed 1e{LOG10_GRAD_MAX:.0f}; shorten "
                "the sequence or narrow w",
                log10_gradient_max=LOG10_GRAD_MAX,
            ) from None
        return self

    @property
    def start(self) -> tuple[float, float]:
        """(w, b) where the descents start."""
        return (self.start_w, self.start_b)
