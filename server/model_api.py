"""Your own model, /api/v1/models: upload a state_dict file (and inputs), read back what was
inferred from it, analyse it as a job with progress.

    POST   /api/v1/models                    the file as the body (application/octet-stream;
                                             ?format= safetensors | npz | json, else sniffed;
                                             ?nonlinearity= for an nn.RNN) -> 201 {sha256,
                                             bytes, format, architecture, url}; 200 when the
                                             store has it already
    GET    /api/v1/models/{sha}              the architecture (404 once the store evicted it)
    POST   /api/v1/models/{sha}/inputs       a .npy (T, d) or (B, T, d) -> {sha256, shape}
    POST   /api/v1/models/{sha}/analysis     {seq_len, loss, seed, nonlinearity, inputs,
                                             sequence, probes, mode} -> 202 {id, ...}, or 200
                                             with the result when this request ran before
    GET    /api/v1/models/{sha}/analysis/{id}         its state (the result once ended)
    GET    /api/v1/models/{sha}/analysis/{id}/events  Server-Sent Events: started,
                                             progress {stage, fraction}, result or failure
    DELETE /api/v1/models/{sha}/analysis/{id}         cancel

The body is streamed to a temporary file in the store (server/model_store.py), never held
whole; over ``model_max_bytes`` (by Content-Length or while streaming) the rest of the body
is read and dropped (up to DRAIN_FACTOR times the limit) before the 413, so that a client
that sends its whole body before reading the answer (Python's urllib) receives it. Every
refusal is a 4xx in the app's error shape naming the tensor or field, the expected and the
actual value, or the limit. Nothing in a file is executed (engine.model_io reads no pickle).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from functools import partial
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import ClientDisconnect

from ..engine.model_io import (
    FORMATS,
    ArchitectureError,
    ModelFileError,
    infer_architecture,
    load_model,
    read_inputs,
    read_tensors,
)
from ..engine.network import LOSSES, MAX_LAYERS, NetworkConfig
from . import model_worker
from .errors import ErrorBody, error_item, error_response
from .jobs import Job, JobManager, Policy, QueueFull
from .model_report import choose_mode
from .model_store import Entry, ModelStore, Upload
from .serialize import JSONResponse
from .train_api import job_events

# the sizes a model and its analysis may have on this server
MAX_HIDDEN = 1024
MAX_LAYERS_MODEL = MAX_LAYERS  # 8, engine.network's
MAX_SEQ_LEN = 1000
MAX_BATCH = 64
MAX_PROBES = 256
DEFAULT_SEQ_LEN = 100
DRAIN_FACTOR = 4  # an over-limit body is read (and dropped) up to this many times the limit
MODES = ("auto", "exact", "matrix_free")

router = APIRouter(prefix="/api/v1/models", tags=["your model"],
                   default_response_class=JSONResponse)  # fmt: skip


# -- the app's store and analyses ----------------------------------------------------------


def store_of(request: Request) -> ModelStore:
    state = request.app.state
    if getattr(state, "model_store", None) is None:
        s = state.settings
        state.model_store = ModelStore(s.model_store_dir or None, s.model_store_bytes)
    return state.model_store


def analyses_of(request: Request) -> JobManager:
    state = request.app.state
    if getattr(state, "analyses", None) is None:
        s = state.settings
        policy = Policy(s.model_workers, s.model_queue, s.model_max_seconds, s.model_grace,
                        s.model_cache)  # fmt: skip
        state.analyses = JobManager(s, policy=policy, run=model_worker.run_analysis,
                                    key=analysis_key)  # fmt: skip
    return state.analyses


Store = Annotated[ModelStore, Depends(store_of)]
Analyses = Annotated[JobManager, Depends(analyses_of)]


# -- refusals --------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """expected / actual as JSON: shapes as lists, anything else as words."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return str(value)


def _type_of(error: Exception) -> str:
    """ModelFileError subclasses as snake case: TensorShapeError -> tensor_shape."""
    name = type(error).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() or "model_file"


def file_error(error: ModelFileError, where: str = "file", name: str = "") -> JSONResponse:
    """A refused file: 422 naming the tensor (``file.weight_hh_l0``), the expected and the
    actual value; 413 when it is the size that is over the limit. name : the temporary
    file's name, said "the file" in the message."""
    field = f"{where}.{error.tensor}" if error.tensor and error.tensor != where else where
    actual = _plain(error.actual)
    if name and isinstance(actual, str):
        actual = actual.replace(name, "the file")
    limit = {"expected": _plain(error.expected), "actual": actual}
    message = str(error).replace(name, "the file") if name else str(error)
    status = 413 if "over the limit" in message else 422
    item = error_item(field, message, _type_of(error), limit)
    return error_response(status, [item])


def _refuse(field: str, message: str, type_: str, limit: dict | None = None, value=None,
            status: int = 422) -> JSONResponse:  # fmt: skip
    return error_response(status, [error_item(field, message, type_, limit, value)])


def _too_large(limit: int, size: int | None) -> JSONResponse:
    said = f" ({size} bytes)" if size is not None else ""
    message = f"the file{said} is over the limit of {limit} bytes ({limit / 2**20:g} MiB)"
    item = error_item("body", message, "body_too_large", {"max_bytes": limit}, size)
    return error_response(413, [item], headers={"Connection": "close"})


def _gone(sha: str, kind: str = "model") -> JSONResponse:
    message = (
        f"this server has no {kind} {sha}: it was never uploaded, or the store has evicted it "
        "(least recently used first): upload the file again"
    )
    return _refuse(kind if kind == "inputs" else "sha", message, "not_found", status=404)


# -- receiving a body ------------------------------------------------------------------------


async def drain(chunks: AsyncIterator[bytes], read: int, cap: int) -> None:
    """Read and drop what is left of a refused body, up to ``cap`` bytes in all: a client
    that writes its whole body before it reads (urllib) then receives the answer instead of
    a connection reset."""
    try:
        async for chunk in chunks:
            read += len(chunk)
            if read > cap:
                return
    except ClientDisconnect:
        return


async def receive(request: Request, store: ModelStore, limit: int) -> Upload | JSONResponse:
    """The body in a temporary file of the store, or the 413 (body drained) / 400."""
    declared = request.headers.get("content-length", "")
    chunks = request.stream()
    if declared.isdigit() and int(declared) > limit:
        await drain(chunks, 0, DRAIN_FACTOR * limit)
        return _too_large(limit, int(declared))
    upload = store.receive()
    try:
        async for chunk in chunks:
            if upload.size + len(chunk) > limit:
                upload.discard()
                await drain(chunks, upload.size + len(chunk), DRAIN_FACTOR * limit)
                return _too_large(limit, None)
            upload.write(chunk)
    except ClientDisconnect:
        upload.discard()
        return _refuse("body", "the upload was interrupted before its end", "incomplete",
                       status=400)  # fmt: skip
    except BaseException:
        upload.discard()
        raise
    if upload.size == 0:
        upload.discard()
        return _refuse("body", "the body is empty: send the file's bytes", "empty", status=400)
    upload.flush()  # readable from the file (fsynced in a worker thread, by _on_disk)
    return upload


def sniff(head: bytes) -> str | None:
    """The format from the first bytes: a zip archive (npz), safetensors (an 8-byte length,
    then its JSON header), JSON (an object)."""
    if head[:4] == b"PK\x03\x04":
        return "npz"
    if len(head) >= 9 and head[8:9] == b"{":
        return "safetensors"
    if head.lstrip()[:1] == b"{":
        return "json"
    return None


# -- validation (in a thread: reading a file is CPU work) ------------------------------------


def check_limits(tensors: dict) -> None:
    """Sizes beyond this server's limits, refused before the weights are converted."""
    arch = infer_architecture(tensors)
    if arch.hidden_size > MAX_HIDDEN:
        name = arch.prefix + "weight_hh_l0"
        raise ArchitectureError(
            f"{name}: hidden_size {arch.hidden_size} is over this server's limit of {MAX_HIDDEN}",
            tensor=name, expected=f"hidden_size <= {MAX_HIDDEN}", actual=arch.hidden_size,
        )  # fmt: skip
    if arch.num_layers > MAX_LAYERS_MODEL:
        name = f"{arch.prefix}weight_hh_l{arch.num_layers - 1}"
        raise ArchitectureError(
            f"{arch.num_layers} layers: at most {MAX_LAYERS_MODEL}", tensor=name,
            expected=f"num_layers <= {MAX_LAYERS_MODEL}", actual=arch.num_layers,
        )  # fmt: skip


def model_meta(path, fmt: str, nonlinearity: str | None, max_bytes: int) -> dict:
    """Read the file whole (tensors, limits, architecture, every tensor's shape, dtype and
    values): what the store keeps beside it. A ModelFileError when anything is wrong."""
    tensors, fmt = read_tensors(path, format=fmt, max_bytes=max_bytes)
    check_limits(tensors)
    del tensors
    model = load_model(path, format=fmt, nonlinearity=nonlinearity, max_bytes=max_bytes)
    summary = model.summary()
    return {"kind": "model", "format": fmt, "bytes": path.stat().st_size, "summary": summary}


def inputs_meta(path, input_size: int, max_bytes: int) -> dict:
    if path.stat().st_size > max_bytes:  # the upload's bound already holds; kept for clarity
        raise ModelFileError(f"over the limit of {max_bytes} bytes", tensor="inputs")
    x = read_inputs(path, input_size, max_steps=MAX_SEQ_LEN, max_batch=MAX_BATCH)
    return {"kind": "inputs", "bytes": path.stat().st_size, "shape": list(x.shape)}


def _on_disk(upload: Upload, read, *args) -> dict:
    """In a worker thread: fsync the received file (the bytes are on disk before they are
    read and renamed into the store), then read it."""
    upload.close()
    return read(upload.path, *args)


def page_url(sha: str, **query: Any) -> str:
    rest = {k: v for k, v in query.items() if v is not None}
    return "/model?" + urlencode({"model": sha, **rest})


def _model_body(entry: Entry, summary: dict | None = None) -> dict:
    summary = summary or entry.meta["summary"]
    return {
        "sha256": entry.sha256,
        "bytes": entry.meta["bytes"],
        "format": entry.meta["format"],
        "architecture": summary,
        "url": page_url(entry.sha256, nonlinearity=summary.get("nonlinearity")),
    }


# -- routes ----------------------------------------------------------------------------------

_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "",
    status_code=201,
    summary="Upload a state_dict of torch.nn.RNN / LSTM / GRU (.safetensors, .npz or JSON)",
    openapi_extra=_UPLOAD_DOC,
    responses={
        200: {"description": "The store has this file already (same SHA-256)"},
        413: {"model": ErrorBody, "description": "The file is over `model_max_bytes`"},
    },
)
async def upload_model(
    request: Request, store: Store,
    format: Annotated[Literal["safetensors", "npz", "json"] | None, Query()] = None,
    nonlinearity: Annotated[Literal["tanh", "relu"] | None, Query()] = None,
) -> Any:  # fmt: skip
    """The raw file as the body. The architecture is read from PyTorch's names and shapes
    (`weight_ih_l0`, `weight_hh_l1_reverse`, ...) and returned for confirmation; an nn.RNN
    needs `nonlinearity` (its state_dict does not record it). The file is stored by its
    SHA-256 only once it has been read without error; `url` opens it in /model."""
    settings = request.app.state.settings
    received = await receive(request, store, settings.model_max_bytes)
    if isinstance(received, JSONResponse):
        return received
    upload = received
    try:
        with open(upload.path, "rb") as f:
            fmt = format or sniff(f.read(16))
        if fmt is None:
            upload.discard()
            message = (
                f"the format is not recognised from the first bytes: give ?format= one of "
                f"{list(FORMATS)} (a pickle, torch.save's .pt, is never loaded)"
            )
            return _refuse("format", message, "format", {"choices": list(FORMATS)})
        existing = store.get(upload.sha256, "model")
        if existing is not None:
            upload.discard()
            read = partial(_summary, existing, nonlinearity, settings.model_max_bytes)
            summary = await anyio.to_thread.run_sync(read)
            if isinstance(summary, JSONResponse):
                return summary
            return JSONResponse(_model_body(existing, summary), status_code=200)
        read = partial(_on_disk, upload, model_meta, fmt, nonlinearity, settings.model_max_bytes)
        try:
            meta = await anyio.to_thread.run_sync(read)
        except ModelFileError as e:
            upload.discard()
            return file_error(e, name=upload.path.name)
        entry = await anyio.to_thread.run_sync(store.commit, upload, "model", meta)
    except BaseException:
        upload.discard()
        raise
    return JSONResponse(_model_body(entry), status_code=201)


def _summary(entry: Entry, nonlinearity: str | None, max_bytes: int) -> dict | JSONResponse:
    """The stored summary, or (an nn.RNN asked with another nonlinearity) a new one, read
    from the file (CPU work: call it from a worker thread)."""
    summary = entry.meta["summary"]
    if summary["cell"] != "rnn" or nonlinearity in (None, summary["nonlinearity"]):
        if summary["cell"] != "rnn" and nonlinearity not in (None, "tanh"):
            message = f"nonlinearity applies to nn.RNN only; this is {summary['torch_class']}"
            return _refuse("nonlinearity", message, "value_error", {"choices": [None]},
                           nonlinearity)  # fmt: skip
        return summary
    try:
        return load_model(entry.path, format=entry.meta["format"], nonlinearity=nonlinearity,
                          max_bytes=max_bytes).summary()  # fmt: skip
    except ModelFileError as e:
        return file_error(e)


@router.get("/{sha}", summary="An uploaded model's architecture, as inferred from its file",
            responses={404: {"model": ErrorBody, "description": "Not in the store"}})  # fmt: skip
def get_model(
    request: Request, sha: str, store: Store,
    nonlinearity: Annotated[Literal["tanh", "relu"] | None, Query()] = None,
) -> Any:  # fmt: skip
    entry = store.get(sha, "model")
    if entry is None:
        return _gone(sha)
    summary = _summary(entry, nonlinearity, request.app.state.settings.model_max_bytes)
    if isinstance(summary, JSONResponse):
        return summary
    return _model_body(entry, summary)


@router.post(
    "/{sha}/inputs",
    summary="Upload input sequences for a model: a .npy array (T, d) or (B, T, d)",
    openapi_extra=_UPLOAD_DOC,
    responses={
        404: {"model": ErrorBody, "description": "The model is not in the store"},
        413: {"model": ErrorBody, "description": "The file is over `model_max_bytes`"},
    },
)
async def upload_inputs(request: Request, sha: str, store: Store) -> Any:
    """d must be the model's input_size; at most T = 1000 steps and B = 64 sequences.
    Returns the inputs' own SHA-256, to pass as `inputs` to the analysis."""
    settings = request.app.state.settings
    model = store.get(sha, "model")
    if model is None:
        await drain(request.stream(), 0, DRAIN_FACTOR * settings.model_max_bytes)
        return _gone(sha)
    received = await receive(request, store, settings.model_max_bytes)
    if isinstance(received, JSONResponse):
        return received
    upload = received
    try:
        input_size = model.meta["summary"]["input_size"]
        read = partial(_on_disk, upload, inputs_meta, input_size, settings.model_max_bytes)
        try:
            meta = await anyio.to_thread.run_sync(read)
        except ModelFileError as e:
            upload.discard()
            return file_error(e, "inputs", upload.path.name)
        entry = await anyio.to_thread.run_sync(store.commit, upload, "inputs", meta)
    except BaseException:
        upload.discard()
        raise
    return JSONResponse({"sha256": entry.sha256, "shape": entry.meta["shape"]}, status_code=201)


# -- analyses --------------------------------------------------------------------------------


class AnalysisBody(BaseModel):
    """What to analyse: the problem (seq_len, loss, seed: engine.network's), the inputs (the
    SHA-256 of inputs uploaded for this model, or null: drawn from the seed), which of a
    batch's sequences, and how: `exact` maps, `matrix_free` (Jacobian norms estimated with
    `probes` random directions), or `auto` (exact when its cost fits the server's budget)."""

    model_config = ConfigDict(extra="forbid")
    seq_len: int | None = Field(None, ge=1, le=MAX_SEQ_LEN,
                                description="T; null: 100, or the inputs' T")  # fmt: skip
    loss: Literal["every", "last"] = "every"
    seed: int = Field(0, ge=0, le=2**32 - 1)
    nonlinearity: Literal["tanh", "relu"] | None = None
    inputs: str | None = Field(None, pattern="^[0-9a-f]{64}$")
    sequence: int = Field(0, ge=0, lt=MAX_BATCH)
    probes: int = Field(32, ge=2, le=MAX_PROBES)
    probe_seed: int = Field(0, ge=0, le=2**32 - 1, description="The probes' seed (matrix_free)")
    mode: Literal["auto", "exact", "matrix_free"] = "auto"


assert set(LOSSES) == {"every", "last"}


def analysis_key(request: dict) -> str:
    c = request["config"]
    return json.dumps({k: v for k, v in c.items() if not k.endswith("_path")}, sort_keys=True)


def _plan(sha: str, body: AnalysisBody, model: Entry, store: ModelStore, settings
          ) -> dict | JSONResponse:  # fmt: skip
    """The job's request, or the 4xx naming the field."""
    summary = model.meta["summary"]
    nonlinearity = body.nonlinearity
    if summary["cell"] == "rnn":
        nonlinearity = nonlinearity or summary["nonlinearity"]
    elif nonlinearity not in (None, "tanh"):
        message = f"nonlinearity applies to nn.RNN only; this is {summary['torch_class']}"
        return _refuse("nonlinearity", message, "value_error", {"choices": [None]}, nonlinearity)
    else:
        nonlinearity = None
    seq_len = body.seq_len or DEFAULT_SEQ_LEN
    inputs = None
    if body.inputs is not None:
        inputs = store.get(body.inputs, "inputs")
        if inputs is None:
            return _gone(body.inputs, "inputs")
        b, t, d = inputs.meta["shape"]
        n_in = summary["input_size"]
        if d != n_in:
            message = f"these inputs have d = {d}; the model's input_size is {n_in}"
            return _refuse("inputs", message, "tensor_shape", {"expected": n_in}, d)
        if body.seq_len is not None and body.seq_len != t:
            message = f"seq_len {body.seq_len} differs from the inputs' T = {t}: omit it or give it"
            return _refuse("seq_len", message, "value_error", {"expected": t}, body.seq_len)
        if body.sequence >= b:
            message = f"sequence {body.sequence}: the inputs hold B = {b} sequences (0..{b - 1})"
            return _refuse("sequence", message, "value_error", {"le": b - 1}, body.sequence)
        seq_len = t
    elif body.sequence != 0:
        message = "sequence picks one of the uploaded inputs' sequences: without inputs it is 0"
        return _refuse("sequence", message, "value_error", {"le": 0}, body.sequence)
    config = NetworkConfig(
        cell=summary["cell"], nonlinearity=nonlinearity or "tanh",
        hidden_size=summary["hidden_size"], input_size=summary["input_size"], seq_len=seq_len,
        num_layers=summary["num_layers"], bidirectional=summary["bidirectional"],
        loss=body.loss, vocab_size=summary["vocab_size"], seed=body.seed,
    )  # fmt: skip
    fits = choose_mode(config, settings.cost_budget)
    mode = fits if body.mode == "auto" else body.mode
    if mode == "exact" and fits != "exact":
        message = (
            f"the exact maps of this model at T = {seq_len} exceed this server's cost budget of "
            f"{settings.cost_budget:.3g}: use mode matrix_free (or auto), or a shorter seq_len"
        )
        return _refuse("mode", message, "cost_budget", {"choices": ["auto", "matrix_free"]}, mode)
    return {
        "config": {
            "model": sha, "model_path": str(model.path), "model_format": model.meta["format"],
            "inputs": None if inputs is None else inputs.sha256,
            "inputs_path": None if inputs is None else str(inputs.path),
            "nonlinearity": nonlinearity, "seq_len": seq_len, "loss": body.loss,
            "seed": body.seed, "sequence": body.sequence, "probes": body.probes,
            "probe_seed": body.probe_seed, "mode": mode,
        },
        "max_seconds": settings.model_max_seconds,
    }  # fmt: skip


def _public(job: Job) -> dict:
    """What the API says of an analysis job (without the store's paths)."""
    c = job.request["config"]
    progress = next((e for e in reversed(job.events) if e["type"] == "progress"), {})
    base = f"/api/v1/models/{c['model']}/analysis/{job.id}"
    params = {k: c[k] for k in ("inputs", "nonlinearity", "seq_len", "loss", "seed",
                                "sequence", "probes", "probe_seed", "mode")}  # fmt: skip
    return {
        "id": job.id,
        "status": job.status,
        "cached": job.cached,
        "reason": job.reason,
        "mode": c["mode"],
        "stage": progress.get("stage"),
        "fraction": 1.0 if job.status == "finished" else progress.get("fraction"),
        "elapsed": None if job.started is None else (job.ended or time.time()) - job.started,
        "request": params,
        "url": page_url(c["model"], **{k: v for k, v in params.items() if v or k == "seed"}),
        "state": base,
        "events": base + "/events",
        "result": job.result,
        "failure": next((e["message"] for e in job.events if e["type"] == "failure"), None),
    }


@router.post(
    "/{sha}/analysis",
    status_code=202,
    summary="Analyse an uploaded model (a job: follow its events)",
    responses={
        200: {"description": "This request's result, from the cache (`cached: true`)"},
        404: {"model": ErrorBody, "description": "The model (or the inputs) is not in the store"},
        503: {"model": ErrorBody, "description": "The queue is full: retry after Retry-After"},
    },
)
def start_analysis(
    sha: str, body: AnalysisBody, request: Request, store: Store, analyses: Analyses
) -> Any:
    """The JSON body may be `{}` (every default). 202 with the job's id and its `events`
    (Server-Sent Events); 200 with `result` when this request ran before."""
    model = store.get(sha, "model")
    if model is None:
        return _gone(sha)
    plan = _plan(sha, body, model, store, request.app.state.settings)
    if isinstance(plan, JSONResponse):
        return plan
    try:
        job = analyses.submit(plan)
    except QueueFull as full:
        item = error_item("queue", "every analysis worker is busy and the queue is full", "full")
        return error_response(503, [item], headers={"Retry-After": str(full.retry_after)})
    return JSONResponse(_public(job), status_code=200 if job.cached else 202)


def _job(sha: str, job_id: str, analyses: Analyses) -> Job | None:
    job = analyses.get(job_id)
    return job if job is not None and job.request["config"]["model"] == sha else None


def _no_job(job_id: str) -> JSONResponse:
    return _refuse("id", f"no analysis {job_id} of this model on this server", "not_found",
                   status=404)  # fmt: skip


@router.get("/{sha}/analysis/{job_id}", summary="An analysis' state, and its result once ended",
            responses={404: {"model": ErrorBody, "description": "No such analysis"}})  # fmt: skip
def analysis_state(sha: str, job_id: str, analyses: Analyses) -> Any:
    job = _job(sha, job_id, analyses)
    return _no_job(job_id) if job is None else _public(job)


_NO_JOB = {404: {"model": ErrorBody, "description": "No such analysis"}}


@router.delete("/{sha}/analysis/{job_id}", summary="Cancel an analysis", responses=_NO_JOB)
def cancel_analysis(sha: str, job_id: str, analyses: Analyses) -> Any:
    if _job(sha, job_id, analyses) is None:
        return _no_job(job_id)
    return _public(analyses.cancel(job_id))


def _job_or_404(sha: str, job_id: str, analyses: Analyses) -> Job:
    from starlette.exceptions import HTTPException

    job = _job(sha, job_id, analyses)
    if job is None:
        raise HTTPException(404, f"no analysis {job_id} of this model on this server")
    return job


@router.get(
    "/{sha}/analysis/{job_id}/events",
    response_class=EventSourceResponse,
    summary="An analysis' events as Server-Sent Events",
    responses={404: {"model": ErrorBody, "description": "No such analysis"}},
)
async def analysis_events(
    job: Annotated[Job, Depends(_job_or_404)], analyses: Analyses,
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterator[ServerSentEvent]:  # fmt: skip
    """Every event in order (`started`, `progress` {stage, fraction}..., then `result`
    {status, result: {payload, figures}} or `failure`), each with its index as id; a
    reconnecting EventSource resumes after its Last-Event-ID."""
    async for event in job_events(job, analyses, last_event_id):
        yield event
