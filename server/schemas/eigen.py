"""/eigen's query: W from three eigenvalue pairs (or an init of /explore), and the run."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, create_model, model_validator

from ...engine.eigen import EigenConfig
from ...engine.init import INITS
from .base import MAX_HIDDEN, MAX_SEQ_LEN, QueryModel, bounded, cross_field_error
from .gradient_flow import Scale, Seed

EIGEN_PAIRS = 3  # the page's eigenvalue sliders: radius_k and angle_k, k = 1..3
_DEFAULT_RADII, _DEFAULT_ANGLES = (1.05, 0.9, 0.6), (0.0, 0.5, 2.0)


def _radius(k: int, default: float):
    description = rf"$|\lambda|$ of eigenvalue {k} (0..10; used with `matrix=eigenvalues`)."
    return bounded(float, f"Radius {k}", description, ge=0, le=10, slide=(0, 2, 0.01)), default


def _angle(k: int, default: float):
    description = (
        rf"Argument of eigenvalue {k} in radians (0..$\pi$): 0 or $\pi$ gives a real "
        "eigenvalue, anything else a complex-conjugate pair."
    )
    return (
        bounded(float, f"Angle {k}", description, ge=0, le=3.1416, slide=(0, 3.14, 0.01)),
        default,
    )


class _EigenBase(QueryModel):
    engine_config = EigenConfig

    def engine_values(self) -> dict[str, Any]:
        """The three (radius_k, angle_k) fields as the config's ``radii`` and ``angles``."""
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


EigenQuery = create_model(
    "EigenQuery",
    __base__=_EigenBase,
    __doc__="The linear-case proof (`GET /api/v1/eigen`): g_l = (W^T)^l g_0 and its expansion.",
    matrix=(
        Annotated[
            Literal[("eigenvalues", *INITS)],
            Field(
                title="Matrix",
                description=r"`eigenvalues`: $W = V B V^\top$ built from the three (radius, "
                "angle) pairs, $V$ a random orthogonal basis; or one of the inits of /explore "
                "(`gaussian`, `orthogonal`, `identity`, `pytorch`) with `hidden_size` and "
                "`scale`.",
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
                r"$W$ becomes non-normal and $\|g_l\|$ can grow for a while although every "
                r"$|\lambda| < 1$.",
            ),
        ],
        False,
    ),
    coupling=(
        bounded(
            float,
            "Coupling",
            "Strength of the non-normal coupling (-100..100).",
            ge=-100,
            le=100,
            slide=(0, 20, 0.1),
        ),
        10.0,
    ),
    hidden_size=(
        bounded(
            int,
            "Hidden size",
            f"$n$ for the inits (1..{MAX_HIDDEN}).",
            ge=1,
            le=MAX_HIDDEN,
            slide=(1, 64, 1),
        ),
        8,
    ),
    scale=(Scale, 1.0),
    seq_len=(
        bounded(
            int,
            "Sequence length",
            rf"Distances $l = 0, \dots, T$ followed back (0..{MAX_SEQ_LEN}).",
            ge=0,
            le=MAX_SEQ_LEN,
            slide=(1, 300, 1),
        ),
        50,
    ),
    seed=(Seed, 0),
)
