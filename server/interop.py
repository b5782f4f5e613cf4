"""PyTorch interop: run the experiment on the user's own tensors, and export a PyTorch script.

``POST /api/v1/gradient-flow`` takes the query's fields as JSON plus ``weights``, tensors
under PyTorch's state_dict names; ``GET /api/v1/gradient-flow/pytorch`` returns a script
that rebuilds the configuration in PyTorch and checks BPTT Lab's numbers with autograd.
Bodies over MAX_BODY_BYTES are refused (413) before they are read whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from ..engine import GradientFlowResult, gradient_flow
from ..engine.gradient_flow import TensorShapeError, given_problem
from . import serialize, torch_script
from .compute import check_cost, in_slot, run_gradient_flow
from .errors import error_item, error_response
from .responses import CacheableRoute, cached_response
from .schemas import MAX_BODY_BYTES, GradientFlowBody, GradientFlowQuery
from .serialize import JSONResponse


def _too_large() -> JSONResponse:
    message = f"the request body exceeds {MAX_BODY_BYTES} bytes"
    item = error_item("body", message, "body_too_large", {"max_bytes": MAX_BODY_BYTES})
    return error_response(413, [item])


class _BoundedBody(CacheableRoute):
    """Reads a request body only up to MAX_BODY_BYTES (Content-Length or the stream itself);
    GET responses are cacheable (CacheableRoute), POST ones are not."""

    def get_route_handler(self) -> Callable:
        handler = super().get_route_handler()

        async def bounded(request: Request) -> Response:
            if request.method in ("POST", "PUT", "PATCH"):
                declared = request.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                    return _too_large()
                chunks, size = [], 0
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        return _too_large()
                    chunks.append(chunk)
                request._body = b"".join(chunks)  # what request.body() returns from now on
            return await handler(request)

        return bounded


router = APIRouter(prefix="/api/v1", default_response_class=JSONResponse, route_class=_BoundedBody)


def _tensor_error(e: TensorShapeError) -> JSONResponse:
    kind = "missing" if e.got is None else "tensor_unused" if e.expected is None else "tensor_shape"
    limit = {} if e.expected is None else {"shape": list(e.expected)}
    return error_response(422, [error_item(f"weights.{e.name}", e.message, kind, limit)])


def _run(body: GradientFlowBody) -> GradientFlowResult:
    config = body.to_config()
    return gradient_flow(config, problem=given_problem(config, body.tensors()))


@router.post(
    "/gradient-flow",
    summary="The gradient-flow experiment on your own tensors (PyTorch state_dict names)",
    tags=["gradient flow", "pytorch"],
    responses={413: {"description": f"The body exceeds {MAX_BODY_BYTES} bytes (16 MiB)."}},
    description=(
        "The same configuration as the GET, as a JSON object (same fields, bounds and "
        "defaults), plus optional `weights`: `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` "
        "of one cell (all four or none; `peephole` (3, n) too for a peephole LSTM), `inputs` "
        "(T, d), `h0` (n), `c0` (n, lstm only), `target` (n), as nested lists. Rows: n for rnn, "
        "4n for lstm (i|f|g|o), 3n for gru (r|z|n). What is not given is drawn from `seed` "
        "exactly as the GET draws it, so the tensors of `include=weights` posted back give the "
        "same numbers. Entries must be finite with |x| <= 1e6; a wrong shape is a 422 naming "
        f"the tensor and the expected shape; bodies over {MAX_BODY_BYTES} bytes (16 MiB) get a "
        "413. The response is the GET's."
    ),
)
def gradient_flow_post(body: GradientFlowBody) -> Any:
    check_cost(body)
    try:
        result = in_slot(lambda: _run(body))
    except TensorShapeError as e:
        return _tensor_error(e)
    return serialize.gradient_flow_payload(result, body.includes)


@router.get(
    "/gradient-flow/pytorch",
    summary="A runnable PyTorch script that rebuilds the configuration and checks its numbers",
    tags=["gradient flow", "pytorch"],
    response_class=Response,
    responses={200: {"content": {"text/x-python": {}}}},
    description=(
        "A Python script with the exact weights, inputs and initial state (repr() floats) "
        "that rebuilds the cell with torch.nn.RNNCell / LSTMCell / GRUCell (by hand where "
        "PyTorch has no such cell: sigmoid and identity RNNs, peephole LSTM, lecture GRU), "
        "runs it in float64 and prints log10 ||dh_T/dh_(T-l)|| (spectral, Frobenius) from "
        "torch.autograd next to BPTT Lab's, with the largest difference."
    ),
)
def gradient_flow_pytorch(request: Request, q: Annotated[GradientFlowQuery, Query()]) -> Response:
    disposition = f'inline; filename="{torch_script.script_name(q)}"'
    return cached_response(
        request,
        q,
        lambda: torch_script.script(q, run_gradient_flow(q)),
        media_type="text/x-python",
        headers={"Content-Disposition": disposition},
    )
