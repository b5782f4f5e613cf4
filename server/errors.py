"""One error shape for every 4xx (and the 500 that should never happen):

    {"status": 422, "message": "seq_len: Input should be less than or equal to 1000",
     "errors": [{"field": "seq_len", "message": "...", "type": "less_than_equal",
                 "limit": {"le": 1000}, "input": "5000"}]}

``field`` is the dotted path of the offending parameter (``weights.weight_hh`` in a body),
``limit`` the bound or the allowed choices that were violated.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from ..engine.depth import DepthOverflowError
from .serialize import JSONResponse

log = logging.getLogger("bpttlab")
_LOCATIONS = {"query", "body", "path", "header", "cookie"}
_MAX_ECHO = 200


class ErrorItem(BaseModel):
    field: str = Field(description="Dotted path of the parameter, e.g. `seq_len`.")
    message: str
    type: str = Field(description="pydantic's error type, e.g. `less_than_equal`.")
    limit: dict[str, Any] = Field(description="The bound or choices violated, e.g. `{le: 1000}`.")
    input: bool | int | float | str | None = Field(
        None, description="The offending value (at most 200 characters), when worth echoing."
    )


class ErrorBody(BaseModel):
    """The one error shape (documented in OpenAPI for every operation's 422)."""

    status: int
    message: str = Field(description="`field: message` of the first error.")
    errors: list[ErrorItem]


# for include_router: replaces FastAPI's default 422 schema, which is not what we send
RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {
        "model": ErrorBody,
        "description": "Invalid input: each error names the field and the bound",
    }
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    return str(value)


def field_of(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if not (isinstance(p, str) and p in _LOCATIONS)]
    return ".".join(parts) or "request"


def error_item(field: str, message: str, type_: str, limit: dict | None = None, value=None):
    item = {"field": field, "message": message, "type": type_, "limit": limit or {}}
    if value is not None:
        text = _jsonable(value)
        if isinstance(text, str) and len(text) > _MAX_ECHO:
            text = text[:_MAX_ECHO] + "..."
        item["input"] = text
    return item


def validation_items(errors: list[dict]) -> list[dict]:
    items = []
    for e in errors:
        ctx = {k: _jsonable(v) for k, v in (e.get("ctx") or {}).items() if k != "error"}
        message = e["msg"].removeprefix("Value error, ")
        value = e.get("input")
        if isinstance(value, dict | list):
            value = None  # a whole body or tensor: not worth echoing
        # a body that is not JSON at all: pydantic's loc holds the character position
        field = "body" if e["type"] == "json_invalid" else field_of(e["loc"])
        if e["type"] == "cross_field":  # a combination of fields, reported on the one named
            field = str(ctx.pop("field"))
            value = None
        items.append(error_item(field, message, e["type"], ctx, value))
    return items


def error_response(status: int, items: list[dict], headers: dict | None = None) -> JSONResponse:
    first = items[0] if items else None
    message = f"{first['field']}: {first['message']}" if first else "error"
    return JSONResponse(
        {"status": status, "message": message, "errors": items}, status_code=status, headers=headers
    )


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    return error_response(422, validation_items(exc.errors()))


async def _http(request: Request, exc: HTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    item = error_item("request", detail, "http_error")
    if exc.status_code == 404:
        item = error_item("path", f"no such resource: {request.url.path[:_MAX_ECHO]}", "not_found")
    return error_response(exc.status_code, [item], headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s", request.url.path)
    return error_response(500, [error_item("request", "internal error", "internal")])


async def _depth_overflow(request: Request, exc: DepthOverflowError) -> JSONResponse:
    # /depth: activations beyond float64 (relu or identity with large weights)
    return error_response(422, [error_item("gain", str(exc), "overflow", {})])


def install(app: FastAPI) -> None:
    app.add_exception_handler(DepthOverflowError, _depth_overflow)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
