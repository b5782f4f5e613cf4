"""The JSON API, /api/v1: the same numbers the pages plot."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from . import figures, serialize
from .compute import run_compare, run_gradient_flow
from .schemas import CompareQuery, GradientFlowQuery
from .serialize import JSONResponse

router = APIRouter(prefix="/api/v1", default_response_class=JSONResponse)
Q = Annotated[GradientFlowQuery, Query()]
C = Annotated[CompareQuery, Query()]


@router.get("/health", summary="Liveness check", tags=["meta"])
def health() -> dict[str, str]:
    from . import __version__

    return {"status": "ok", "version": __version__}


@router.get(
    "/gradient-flow",
    summary="Jacobian norms, spectra, the BPTT gradient and clipping for one configuration",
    tags=["gradient flow"],
    description=(
        "Draws the cell's weights, inputs, h0 and target from `seed`, runs the cell for "
        "`seq_len` steps and returns, for every distance l = 0..T, log10 ||dh_T/dh_(T-l)|| "
        "(spectral and Frobenius), Pascanu's bound, the spectrum of W_hh, the BPTT gradient "
        "of L = 1/2 ||h_T - y||^2 with its per-step terms, the clipping result and a summary. "
        "Magnitudes are log10 values; `null` in a log10 list means the value is exactly 0."
    ),
)
def gradient_flow(q: Q) -> dict[str, Any]:
    return serialize.gradient_flow_payload(run_gradient_flow(q), q.includes)


@router.get(
    "/gradient-flow/figures",
    summary="The Plotly figures of the explorer for one configuration",
    tags=["gradient flow"],
    description=(
        "The figures /explore draws (Plotly data + layout), each with a one-sentence "
        "summary, and the canonical query string of the configuration."
    ),
)
def gradient_flow_figures(q: Q) -> dict[str, Any]:
    result = run_gradient_flow(q)
    return {
        "config": q.model_dump(),
        "query": q.query_string(),
        "figures": figures.gradient_flow_figures(result),
    }


@router.get(
    "/compare",
    summary="RNN, LSTM and GRU on the same inputs: input sensitivity and memory horizons",
    tags=["compare"],
    description=(
        "Runs the three cells with one configuration (same seed, scale, inputs x_t, h0 and "
        "target; one weight block per gate) and returns, for each, log10 ||dh_T/dx_(T-l)|| "
        "for l = 0..T-1, the same relative to l = 0, and the memory horizon: the first l at "
        "which the sensitivity falls below 1e-3 of its value at l = 0 (null if never)."
    ),
)
def compare(q: C) -> dict[str, Any]:
    return serialize.compare_payload(run_compare(q))


@router.get(
    "/compare/figures",
    summary="The Plotly figures of /compare",
    tags=["compare"],
)
def compare_figures(q: C) -> dict[str, Any]:
    result = run_compare(q)
    return {
        "config": q.model_dump(),
        "query": q.query_string(),
        "figures": figures.compare_figures(result),
        "numbers": figures.compare_numbers(result),
    }
