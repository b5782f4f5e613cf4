"""The training API, /api/v1/train: start a job, follow it as Server-Sent Events, read its
state or result, cancel it (server/jobs.py keeps the jobs, server/train_worker.py runs them).

    POST   /api/v1/train              config (+ sweep) as JSON -> 202 {id, status, ...};
                                      200 with the result when it is cached; 503 + Retry-After
                                      when the queue is full
    GET    /api/v1/train/{id}         the job's state, and its result once it has ended
    GET    /api/v1/train/{id}/events  text/event-stream: every event from the first (or after
                                      Last-Event-ID), the last one `result` or `failure`
    DELETE /api/v1/train/{id}         cancel
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import typing
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, Field, create_model

from ..engine.training import CELLS, TrainConfig
from .errors import ErrorBody, error_item, error_response
from .figures.training import training_figures
from .jobs import Job, JobManager, QueueFull, training_view
from .serialize import JSONResponse

MAX_SWEEP_RUNS = 12
MAX_SWEEP_LENGTHS = 8
POLL_SECONDS = 0.1


def _config_model() -> type[BaseModel]:
    """TrainConfig's fields with their types and defaults; the engine checks the bounds."""
    hints = typing.get_type_hints(TrainConfig)
    fields: dict[str, Any] = {
        f.name: (hints[f.name], f.default) for f in dataclasses.fields(TrainConfig)
    }
    return create_model("TrainConfigBody", __config__=ConfigDict(extra="forbid"), **fields)


ConfigBody = _config_model()


class SweepBody(BaseModel):
    """Every cell at every dependency length, with the rest of the configuration."""

    model_config = ConfigDict(extra="forbid")
    cells: list[str] = Field(min_length=1, max_length=len(CELLS))
    lengths: list[int] = Field(min_length=1, max_length=MAX_SWEEP_LENGTHS)


class TrainBody(ConfigBody):  # type: ignore[misc, valid-type]
    sweep: SweepBody | None = None


def _refuse(field: str, message: str, limit: dict | None = None, value=None) -> JSONResponse:
    return error_response(422, [error_item(field, message, "value_error", limit, value)])


def _limit(message: str) -> dict:
    """The bound in the engine's message: "x must be in 4..256" -> {ge: 4, le: 256};
    "must be one of [...]" -> {choices: [...]}."""
    if m := re.search(r"in (-?[\d.e+]+)\.\.(-?[\d.e+]+)$", message):
        return {"ge": float(m[1]) if "." in m[1] else int(m[1]), "le": int(m[2])}
    if m := re.search(r"one of \[(.*)\]$", message):
        return {"choices": [c.strip(" '") for c in m[1].split(",")]}
    return {}


def _request(body: TrainBody, settings) -> dict | JSONResponse:
    """The job request, or the 422 naming the field and its limit."""
    config = body.model_dump(exclude={"sweep"})
    try:
        TrainConfig(**config)
    except ValueError as e:
        name = str(e).split(" ", 1)[0]
        field = name if name in config else "body"
        return _refuse(field, str(e), _limit(str(e)), config.get(name))
    if config["steps"] > settings.train_max_steps:
        limit = settings.train_max_steps
        return _refuse("steps", f"steps must be <= {limit} on this server", {"le": limit})
    sweep = None
    if body.sweep is not None:
        problem = sweep_problem(config, body.sweep.cells, body.sweep.lengths)
        if problem is not None:
            field, message, limit, value = problem
            return _refuse("sweep" if field == "sweep" else f"sweep.{field}", message, limit, value)
        sweep = body.sweep.model_dump()
    return {"config": config, "sweep": sweep, "max_seconds": settings.train_max_seconds}


def sweep_problem(
    config: dict, cells: list[str], lengths: list[int]
) -> tuple[str, str, dict | None, Any] | None:
    """What is wrong with a sweep of ``cells`` x ``lengths`` on top of ``config`` (a valid
    TrainConfig's fields), as (field: cells | lengths | sweep, message, limit, value), or None.
    The API and the /train page say the same."""
    if not cells:
        return "cells", "choose at least one cell", {"choices": list(CELLS)}, None
    if not lengths:
        return "lengths", "give at least one length", None, None
    for cell in cells:
        if cell not in CELLS:
            return "cells", f"cells must be among {list(CELLS)}", {"choices": list(CELLS)}, cell
    for i, value in enumerate(cells):
        if value in cells[:i]:
            return "cells", f"each cell once: {value} is listed twice", None, value
    if len(lengths) > MAX_SWEEP_LENGTHS:
        message = f"at most {MAX_SWEEP_LENGTHS} lengths (here {len(lengths)})"
        return "lengths", message, {"le": MAX_SWEEP_LENGTHS}, None
    for i, value in enumerate(lengths):
        if value in lengths[:i]:
            return "lengths", f"each length once: {value} is listed twice", None, value
    runs = len(cells) * len(lengths)
    if runs > MAX_SWEEP_RUNS:
        message = (
            f"at most {MAX_SWEEP_RUNS} runs: {len(cells)} cells x {len(lengths)} lengths = {runs}"
        )
        return "sweep", message, {"le": MAX_SWEEP_RUNS}, None
    for value in lengths:
        for cell in cells:  # the memory bound depends on the cell's gate rows
            try:
                TrainConfig(**{**config, "cell": cell, "length": value})
            except ValueError as e:
                return "lengths", f"L = {value}: {e}", _limit(str(e)), value
    return None


def jobs_of(request: Request) -> JobManager:
    state = request.app.state
    if getattr(state, "jobs", None) is None:
        state.jobs = JobManager(state.settings)
    return state.jobs


Jobs = Annotated[JobManager, Depends(jobs_of)]


def _not_found(job_id: str) -> JSONResponse:
    return error_response(
        404, [error_item("id", f"no training job {job_id} on this server", "not_found")]
    )


def _links(job: Job) -> dict:
    return {"state": f"/api/v1/train/{job.id}", "events": f"/api/v1/train/{job.id}/events"}


_404 = {404: {"model": ErrorBody, "description": "No such job on this server process"}}
router = APIRouter(prefix="/api/v1/train", tags=["training"], default_response_class=JSONResponse)


@router.post(
    "",
    status_code=202,
    summary="Start a training run or a sweep",
    responses={
        200: {"description": "This configuration's result, from the cache (`cached: true`)"},
        503: {"model": ErrorBody, "description": "The queue is full: retry after Retry-After"},
    },
)
def start(body: TrainBody, request: Request, jobs: Jobs) -> Any:
    """Returns the job's id at once (202), or its result when this configuration has run
    before (200, `cached: true`: the engine is deterministic). 503 with Retry-After when every
    worker is busy and the queue is full."""
    made = _request(body, request.app.state.settings)
    if isinstance(made, JSONResponse):
        return made
    try:
        job = jobs.submit(made)
    except QueueFull as full:
        item = error_item("queue", "every training worker is busy and the queue is full", "full")
        return error_response(503, [item], headers={"Retry-After": str(full.retry_after)})
    body_out = {**job.state(), **_links(job)}
    return JSONResponse(body_out, status_code=200 if job.cached else 202)


@router.get(
    "/{job_id}", summary="A training job's state, and its result once it has ended", responses=_404
)
def state(job_id: str, jobs: Jobs) -> Any:
    job = jobs.get(job_id)
    return _not_found(job_id) if job is None else {**job.state(), **_links(job)}


@router.delete("/{job_id}", summary="Cancel a training job", responses=_404)
def cancel(job_id: str, jobs: Jobs) -> Any:
    job = jobs.cancel(job_id)
    return _not_found(job_id) if job is None else {**job.state(), **_links(job)}


@router.get(
    "/{job_id}/figures",
    summary="A training job's figures so far (Plotly), drawn from its events or its result",
    responses=_404,
)
def job_figures(job_id: str, jobs: Jobs) -> Any:
    job = jobs.get(job_id)
    if job is None:
        return _not_found(job_id)
    state = job.state()
    return {
        "id": job.id,
        "status": state["status"],
        "step": state["step"],
        "steps": state["steps"],
        "run": state["run"],
        "runs": state["runs"],
        "figures": training_figures(training_view(job)),
    }


def _job(job_id: str, jobs: Jobs) -> Job:
    from starlette.exceptions import HTTPException

    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no training job {job_id} on this server")
    return job


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    summary="A training job's events as Server-Sent Events",
    responses=_404,
)
async def events(
    job: Annotated[Job, Depends(_job)],
    jobs: Jobs,
    last_event_id: Annotated[str | None, Header()] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Every event of the job in order (`started`, `progress`..., then `result` or
    `failure`), each with its index as id; a reconnecting EventSource resumes after its
    Last-Event-ID. The stream ends after the last event."""
    async for event in job_events(job, jobs, last_event_id):
        yield event


async def job_events(
    job: Job, jobs: JobManager, last_event_id: str | None
) -> AsyncIterator[ServerSentEvent]:
    """A job's events as Server-Sent Events (training's and the model analyses'): every
    event in order from after ``last_event_id``, each with its index as id, until the job
    has ended and all are sent; each poll tells the manager a client is still listening."""
    i = int(last_event_id) + 1 if last_event_id and last_event_id.isdigit() else 0
    while True:
        while i < len(job.events):
            event = job.events[i]
            yield ServerSentEvent(data=event, event=event["type"], id=str(i))
            i += 1
        if job.done and i >= len(job.events):
            return
        jobs.get(job.id)  # a client is still listening
        await asyncio.sleep(POLL_SECONDS)
