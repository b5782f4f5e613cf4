"""The JSON API, /api/v1: the same numbers the pages plot."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from . import figures, serialize
from .compute import run_cliff, run_compare, run_eigen, run_gradient_flow
from .responses import CacheableRoute, cached_response
from .schemas import CliffQuery, CompareQuery, EigenQuery, GradientFlowQuery
from .serialize import JSONResponse

router = APIRouter(
    prefix="/api/v1", default_response_class=JSONResponse, route_class=CacheableRoute
)
Q = Annotated[GradientFlowQuery, Query()]
C = Annotated[CompareQuery, Query()]
K = Annotated[CliffQuery, Query()]
E = Annotated[EigenQuery, Query()]


def _figures(q, made: list[dict], numbers: list[dict] | None = None) -> dict[str, Any]:
    """The body of a /figures endpoint: the configuration, its query string, the figures."""
    body = {"config": q.model_dump(), "query": q.query_string(), "figures": made}
    return body if numbers is None else {**body, "numbers": numbers}


@router.get("/health", summary="Liveness check", tags=["meta"])
async def health(response: Response) -> dict[str, str]:
    """On the event loop: it computes nothing, and answers while every worker thread is busy."""
    from . import __version__

    response.headers["Cache-Control"] = "no-store"
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
def gradient_flow(request: Request, q: Q) -> Response:
    return cached_response(
        request, q, lambda: serialize.gradient_flow_payload(run_gradient_flow(q), q.includes)
    )


@router.get(
    "/gradient-flow/figures",
    summary="The Plotly figures of the explorer for one configuration",
    tags=["gradient flow"],
    description=(
        "The figures /explore draws (Plotly data + layout), each with a one-sentence "
        "summary, and the canonical query string of the configuration."
    ),
)
def gradient_flow_figures(request: Request, q: Q) -> Response:
    return cached_response(
        request, q, lambda: _figures(q, figures.gradient_flow_figures(run_gradient_flow(q)))
    )


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
def compare(request: Request, q: C) -> Response:
    return cached_response(request, q, lambda: serialize.compare_payload(run_compare(q)))


@router.get(
    "/compare/figures",
    summary="The Plotly figures of /compare",
    tags=["compare"],
)
def compare_figures(request: Request, q: C) -> Response:
    def build() -> dict[str, Any]:
        result = run_compare(q)
        return _figures(q, figures.compare_figures(result), figures.compare_numbers(result))

    return cached_response(request, q, build)


@router.get(
    "/cliff",
    summary="Pascanu's cliff: loss surface, gradient magnitude, descent three ways",
    tags=["cliff"],
    description=(
        "The single-unit RNN x_t = w phi(x_(t-1)) + b, x_0 = 0.5, loss E = (phi(x_T) - 0.7)^2 "
        "(Pascanu et al. 2013, Fig. 6). Returns the axes `w` and `b`, `loss` and "
        "`log10_grad_norm` (log10 ||(dE/dw, dE/db)||) as resolution x resolution arrays, rows "
        "over b and columns over w; gradient descent from (start_w, start_b) unclipped, "
        "clipped by norm and by value (PyTorch's semantics), each path with its loss and step "
        "length per iteration and `diverged_at` (null, or the step at which the unclipped run "
        "left |w|, |b| <= 1e6); and the clipping of the gradient at the start point."
    ),
)
def cliff(request: Request, q: K) -> Response:
    return cached_response(
        request, q, lambda: serialize.cliff_payload(*run_cliff(q), q.model_dump())
    )


@router.get("/cliff/figures", summary="The Plotly figures of /cliff", tags=["cliff"])
def cliff_figures(request: Request, q: K) -> Response:
    def build() -> dict[str, Any]:
        surface, paths, geometry = run_cliff(q)
        made = figures.cliff_figures(surface, paths, geometry)
        return _figures(q, made, figures.cliff_numbers(paths, geometry))

    return cached_response(request, q, build)


@router.get(
    "/eigen",
    summary="The linear case: g_l = (W^T)^l g_0 against its eigen-expansion",
    tags=["eigen"],
    description=(
        "Identity nonlinearity: the backpropagated gradient g_l = (W^T)^l g_0 (g_0 a unit "
        "vector from the seed) next to its expansion sum_i c_i lambda_i^l q_i. Returns each "
        "component's log10 |c_i lambda_i^l| ||q_i|| (l x n), the direct and expanded log10 "
        "||g_l||, their relative difference (largest in `max_relative_difference`), "
        "log10 ||W^l||, and whether a W with spectral radius < 1 shows transient growth."
    ),
)
def eigen(request: Request, q: E) -> Response:
    return cached_response(
        request, q, lambda: serialize.eigen_payload(run_eigen(q), q.model_dump())
    )


@router.get("/eigen/figures", summary="The Plotly figures of /eigen", tags=["eigen"])
def eigen_figures(request: Request, q: E) -> Response:
    def build() -> dict[str, Any]:
        result = run_eigen(q)
        return _figures(q, figures.eigen_figures(result), figures.eigen_numbers(result))

    return cached_response(request, q, build)
