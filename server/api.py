"""The JSON API, /api/v1: the same numbers the pages plot. Each view of the registry gets its
data endpoint and its figures endpoint here (``router``, called by create_app)."""

# no `from __future__ import annotations`: the handlers' annotations name each view's query
# model, which FastAPI must see as an object, not as a name to look up in this module

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from .responses import CacheableRoute, cached_response
from .serialize import JSONResponse
from .views import Registry, View

PREFIX = "/api/v1"


async def health(response: Response) -> dict[str, str]:
    """On the event loop: it computes nothing, and answers while every worker thread is busy."""
    from . import __version__

    response.headers["Cache-Control"] = "no-store"
    return {"status": "ok", "version": __version__}


def _figures(view: View, q, built: dict[str, list]) -> dict[str, Any]:
    """The body of a /figures endpoint: the configuration, its query string, its one-line
    label (view.label), the figures."""
    body = {
        "config": q.model_dump(),
        "query": q.query_string(),
        "label": view.label(q),
        "figures": built["figures"],
    }
    return body if built.get("numbers") is None else {**body, "numbers": built["numbers"]}


def _endpoints(view: View) -> tuple[Callable, Callable]:
    query = Annotated[view.query, Query()]

    def data(request: Request, q: query) -> Response:
        return cached_response(request, q, lambda: view.payload(view.compute(q), q))

    def figures(request: Request, q: query) -> Response:
        return cached_response(request, q, lambda: _figures(view, q, view.build(q)))

    return data, figures


def router(views: Registry) -> APIRouter:
    """/api/v1/health, then each view's data endpoint and figures endpoint."""
    api = APIRouter(prefix=PREFIX, default_response_class=JSONResponse, route_class=CacheableRoute)
    api.add_api_route("/health", health, methods=["GET"], summary="Liveness check", tags=["meta"])
    for view in views.values():
        data, figures = _endpoints(view)
        path, docs = view.api.removeprefix(PREFIX), view.docs
        api.add_api_route(
            path,
            data,
            methods=["GET"],
            name=view.route_name,
            summary=docs.summary,
            description=docs.description,
            tags=[docs.tag],
        )
        api.add_api_route(
            f"{path}/figures",
            figures,
            methods=["GET"],
            name=f"{view.route_name}_figures",
            summary=docs.figures_summary,
            description=docs.figures_description,
            tags=[docs.tag],
        )
    return api
