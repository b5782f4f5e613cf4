"""/depth's query (`GET /api/v1/depth`): a deep feed-forward net, its architecture and its
draw, and whether to compare the four architectures on the same draw."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from ...engine.depth import (
    ACTIVATIONS,
    ARCHITECTURES,
    DEPTH_INITS,
    MAX_BATCH,
    MAX_DEPTH,
    MAX_GROWTH,
    MAX_WIDTH,
    DepthConfig,
)
from .base import MAX_SEED, QueryModel, bounded, choice, cross_field_error

ALPHA_RULES = ("constant", "inv_sqrt_depth")
DEPTH_INCLUDES = ("weights",)
MAX_WEIGHT_NUMBERS = 1_000_000  # include=weights: numbers in the returned tensors, at most


def weight_numbers(architecture: str, depth: int, width: int, growth: int, batch: int) -> int:
    """How many numbers include=weights returns: every layer's (W, b) (and gate) plus the
    inputs and the target."""
    if architecture == "dense":
        total = 0
        for k in range(depth):
            fan_in, out = width + k * growth, width if k == depth - 1 else growth
            total += out * fan_in + out
        return total + 2 * batch * width
    gates = 2 if architecture == "highway" else 1
    return gates * depth * (width * width + width) + 2 * batch * width


class DepthQuery(QueryModel):
    """Every control of the deep feed-forward experiment (`GET /api/v1/depth`)."""

    engine_config = DepthConfig

    architecture: Annotated[
        choice(ARCHITECTURES),
        Field(
            title="Architecture",
            description="`plain` h = phi(W h + b); `residual` h + alpha phi(W h + b); "
            "`dense` phi(W [h_0, ..., h_(l-1)] + b), each layer reading every earlier "
            "output; `highway` T phi(W h + b) + (1 - T) h with the gate T = sigmoid(G h + c).",
        ),
    ] = "plain"
    compare: Annotated[
        bool,
        Field(
            title="Compare all four",
            description="Run plain, residual, dense and highway on the same draw (seed, "
            "inputs, target, and the same W for plain, residual and highway) and draw one "
            "line each.",
        ),
    ] = False
    depth: bounded(
        int, "Depth", f"Layers L (1..{MAX_DEPTH}).", ge=1, le=MAX_DEPTH, slide=(1, MAX_DEPTH, 1)
    ) = 50
    width: bounded(
        int,
        "Width",
        f"Units n of every layer, input and output (1..{MAX_WIDTH}).",
        ge=1,
        le=MAX_WIDTH,
        slide=(1, 256, 1),
    ) = 128
    batch: bounded(
        int,
        "Batch",
        f"Inputs B drawn from N(0, 1), each with its target (1..{MAX_BATCH}).",
        ge=1,
        le=MAX_BATCH,
        slide=(1, 64, 1),
    ) = 16
    activation: Annotated[
        choice(ACTIVATIONS),
        Field(title="Activation", description=r"$\phi$: tanh, sigmoid, relu or identity."),
    ] = "tanh"
    init: Annotated[
        choice(DEPTH_INITS),
        Field(
            title="Initialisation",
            description="`small` 0.01 x Xavier, `xavier` std sqrt(2 / (in + out)), `he` std "
            "sqrt(2 / in), `orthogonal` (semi-)orthogonal, `large` 10 x Xavier; all times "
            "`gain`.",
        ),
    ] = "xavier"
    gain: bounded(
        float, "Gain", "Multiplies every drawn weight (0..10, above 0).", gt=0, le=10,
        slide=(0.1, 3, 0.01),
    ) = 1.0  # fmt: skip
    alpha: bounded(
        float,
        "Residual scale",
        r"$\alpha$ of the residual branch (0..10); see the rule.",
        ge=0,
        le=10,
        slide=(0, 2, 0.01),
    ) = 1.0
    alpha_rule: Annotated[
        choice(ALPHA_RULES),
        Field(
            title="Residual scale rule",
            description=r"`constant`: the branch is scaled by $\alpha$; `inv_sqrt_depth`: by "
            r"$\alpha / \sqrt{L}$.",
        ),
    ] = "constant"
    growth: bounded(
        int,
        "Growth",
        f"Units each dense layer adds to the concatenation (1..{MAX_GROWTH}; the last layer "
        "has the full width).",
        ge=1,
        le=MAX_GROWTH,
        slide=(1, MAX_GROWTH, 1),
    ) = 16
    gate_bias: bounded(
        float,
        "Gate bias",
        "Bias of every highway gate (-50..50): -3 keeps T near 0.05, so the layer mostly "
        "carries its input.",
        ge=-50,
        le=50,
        slide=(-6, 6, 0.1),
    ) = -1.0
    tied: Annotated[
        bool,
        Field(
            title="Tied weights",
            description="The same W (and gate) in every layer: an RNN unrolled in depth "
            "with no inputs. Not for dense.",
        ),
    ] = False
    seed: bounded(
        int,
        "Seed",
        f"Seed of `numpy.random.default_rng` for every drawn tensor (0..{MAX_SEED}).",
        ge=0,
        le=MAX_SEED,
    ) = 0
    include: Annotated[
        str,
        Field(
            max_length=200,
            title="Include",
            description="Comma list of extra parts of the response: `weights` adds every "
            "layer's tensors under torch.nn.Sequential's names, the inputs and the target "
            f"(at most {MAX_WEIGHT_NUMBERS:,} numbers).",
        ),
    ] = ""

    @field_validator("include")
    @classmethod
    def _known_parts(cls, value: str) -> str:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        unknown = [p for p in parts if p not in DEPTH_INCLUDES]
        if unknown:
            allowed = ", ".join(DEPTH_INCLUDES)
            raise ValueError(f"unknown part {unknown[0]!r}; allowed: {allowed}")
        return ",".join(sorted(set(parts)))

    @model_validator(mode="after")
    def _combinations(self):
        if self.tied and self.architecture == "dense":
            raise cross_field_error(
                "tied", "dense layers have different shapes and cannot be tied", expected=False
            )
        if self.tied and self.compare:
            raise cross_field_error(
                "tied", "compare runs dense too, whose layers cannot be tied", expected=False
            )
        if "weights" in self.includes:
            count = weight_numbers(
                self.architecture, self.depth, self.width, self.growth, self.batch
            )
            if count > MAX_WEIGHT_NUMBERS:
                raise cross_field_error(
                    "include",
                    f"weights of this net are {count:,} numbers, more than the "
                    f"{MAX_WEIGHT_NUMBERS:,} include=weights returns; reduce depth or width",
                    max_numbers=MAX_WEIGHT_NUMBERS,
                )
        return self

    @property
    def includes(self) -> frozenset[str]:
        return frozenset(p for p in self.include.split(",") if p)

    @property
    def effective_alpha(self) -> float:
        """The residual branch's scale: alpha, or alpha / sqrt(depth)."""
        if self.alpha_rule == "inv_sqrt_depth":
            return self.alpha / math.sqrt(self.depth)
        return self.alpha

    def engine_values(self) -> dict[str, Any]:
        return {**self.model_dump(), "alpha": self.effective_alpha}

    def engine_fields(self) -> dict[str, Any]:
        """The config's fields and ``compare`` (the computation depends on it too)."""
        return {**super().engine_fields(), "compare": self.compare}

    def to_config(self) -> DepthConfig:
        fields = super().engine_fields()
        return DepthConfig(**fields)
