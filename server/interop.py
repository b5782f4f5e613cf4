"""PyTorch interop: run the experiment on the user's own tensors, and export a PyTorch script.

``POST /api/v1/gradient-flow`` takes the query's fields as JSON plus ``weights``, tensors
under PyTorch's state_dict names; ``GET /api/v1/gradient-flow/pytorch`` returns a script
that rebuilds the configuration in PyTorch and checks BPTT Lab's numbers with autograd.
Bodies over MAX_BODY_BYTES are refused (413) without being kept: the rest is read and dropped
(up to model_api.DRAIN_FACTOR times the limit) so that the client receives the 413.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request, Response

from ..engine import GradientFlowResult, gradient_flow
from ..engine.gradient_flow import TensorShapeError, given_problem
from ..engine.network import (
    NetworkConfig,
    NetworkOverflowError,
    NetworkProblem,
    check_weights,
    draw_network_problem,
    parameter_shapes,
)
from ..engine.network_maps import network_maps
from . import serialize, torch_script
from .compute import check_cost, in_slot, run_gradient_flow, run_network
from .errors import error_item, error_response
from .model_api import DRAIN_FACTOR, drain
from .responses import CacheableRoute, cached_response
from .schemas import (
    MAX_BODY_BYTES,
    GradientFlowBody,
    GradientFlowQuery,
    NetworkBody,
    NetworkQuery,
)
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
                # a refused body is drained first, so that the client receives the 413
                declared = request.headers.get("content-length", "")
                cap, stream = DRAIN_FACTOR * MAX_BODY_BYTES, request.stream()
                if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                    await drain(stream, 0, cap)
                    return _too_large()
                chunks, size = [], 0
                async for chunk in stream:
                    size += len(chunk)
                    if size > MAX_BODY_BYTES:
                        await drain(stream, size, cap)
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


# --- networks (/network) -------------------------------------------------------------------


def _network_problem(body: NetworkBody, config: NetworkConfig) -> NetworkProblem | JSONResponse:
    """The body's tensors over the seed's draw, or the 422 naming what does not fit."""
    given, drawn = body.given(), draw_network_problem(config)
    if ("rnn" in given) != ("output" in given):
        missing = "output" if "rnn" in given else "rnn"
        message = "weights.rnn and weights.output come together: give both or neither"
        return error_response(422, [error_item(f"weights.{missing}", message, "missing")])
    weights = drawn.weights
    if "rnn" in given:
        out = given["output"]
        weights = {**given["rnn"], "output.weight": out.weight, "output.bias": out.bias}
        try:
            check_weights(config, weights)
        except ValueError as e:
            shapes = {k: list(v) for k, v in parameter_shapes(config).items()}
            item = error_item("weights.rnn", str(e), "tensor_shape", {"shapes": shapes})
            return error_response(422, [item])
    inputs = given.get("inputs", drawn.inputs)
    expected = (config.seq_len, config.input_size)
    if inputs.shape != expected:
        message = (
            f"inputs must be (seq_len, input_size) = {list(expected)}, not {list(inputs.shape)}"
        )
        item = error_item("weights.inputs", message, "tensor_shape", {"shape": list(expected)})
        return error_response(422, [item])
    targets = np.asarray(given.get("targets", drawn.targets), dtype=int)
    count = config.seq_len if config.loss == "every" else 1
    if targets.shape != (count,) or np.any(targets >= config.vocab_size):
        message = (
            f"targets must be {count} integers in 0..{config.vocab_size - 1} "
            f"({'one per step' if count > 1 else 'loss=last: one'})"
        )
        limit = {"length": count, "le": config.vocab_size - 1}
        return error_response(422, [error_item("weights.targets", message, "targets", limit)])
    states = config.num_layers * config.directions, config.hidden_size
    for name in ("h0", "c0"):
        state = given.get(name)
        if state is None:
            continue
        if name == "c0" and config.cell != "lstm":
            message = "c0 is the LSTM's initial cell state; this network has none"
            return error_response(422, [error_item("weights.c0", message, "tensor_unused")])
        if state.shape != states or np.any(state != 0):
            message = f"{name} must be zeros of shape {list(states)}: the network starts from zero"
            item = error_item(f"weights.{name}", message, "zero_state", {"shape": list(states)})
            return error_response(422, [item])
    return NetworkProblem(weights, inputs, targets)


@router.post(
    "/network",
    summary="The network experiment on your own tensors (the torch module's state_dict)",
    tags=["network", "pytorch"],
    responses={413: {"description": f"The body exceeds {MAX_BODY_BYTES} bytes (16 MiB)."}},
    description=(
        "The same configuration as `GET /api/v1/network`, as a JSON object (same fields, "
        "bounds and defaults), plus optional `weights` in the shape `include=weights` "
        "returns: `rnn` (the state_dict of the equivalent torch.nn.RNN/LSTM/GRU, exactly "
        "PyTorch's names and shapes, e.g. `weight_ih_l0` (G n, d), `weight_hh_l1_reverse` "
        "(G n, n)) with `output` {`weight` (V, D n), `bias` (V,)} (both or neither), "
        "`inputs` (T, d), `targets` (T integers, or 1 for loss=last), and `h0`/`c0` which "
        "must be zeros (L D, n). What is not given is drawn from `seed` as the GET draws it, so "
        "the `weights` of `include=weights` posted back give the same numbers, byte for byte. "
        "Wrong names or shapes are a 422 on `weights.rnn` listing every expected name and "
        "shape (also in `limit.shapes`); a forward pass beyond float64 is a 422 on `weights`."
    ),
)
def network_post(body: NetworkBody) -> Any:
    check_cost(body)
    config = body.to_config()
    problem = _network_problem(body, config)
    if isinstance(problem, JSONResponse):
        return problem
    try:
        maps = in_slot(lambda: network_maps(config, problem))
    except NetworkOverflowError as e:
        return error_response(422, [error_item("weights", str(e), "overflow")])
    return serialize.network_payload(maps, body.includes)


@router.get(
    "/network/pytorch",
    summary="A runnable PyTorch script that rebuilds the network and checks its maps",
    tags=["network", "pytorch"],
    response_class=Response,
    responses={200: {"content": {"text/x-python": {}}}},
    description=(
        "A Python script with the network's exact state_dict, output layer, inputs and "
        "targets (repr() floats) that builds torch.nn.RNN / LSTM / GRU(input_size, "
        "hidden_size, num_layers, bidirectional=...), loads the state_dict, runs it in "
        "float64 from zero states and prints, next to BPTT Lab's, log10 ||dL/dh_t|| of every "
        "layer and direction and log10 ||dy_t/dx_k||_2 of the top layer's halves, from "
        "torch.autograd, with the largest difference. Only what torch.nn expresses: "
        "`nonlinearity` tanh or relu for rnn, `gru_form=pytorch` (else a 422 naming the field)."
    ),
)
def network_pytorch(request: Request, q: Annotated[NetworkQuery, Query()]) -> Response:
    refused = torch_script.network_refusal(q)
    if refused is not None:
        return error_response(422, [refused])
    disposition = f'inline; filename="{torch_script.script_name(q)}"'
    return cached_response(
        request,
        q,
        lambda: torch_script.network_script(q, run_network(q).maps),
        media_type="text/x-python",
        headers={"Content-Disposition": disposition},
    )
