"""The JSON API, /api/v1: the same numbers the pages plot. Each view of the registry gets its
data endpoint and its figures endpoint here (``router``, called by create_app)."""

# no `from __future__ import annotations`: the handlers' annotations name each view's query
# model, which FastAPI must see as an object, not as a name to look up in this module

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from .responses import CacheableRoute, cached_response, how_long
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


class Estimate(BaseModel):
    """How long the figures of a query are expected to take, said before any work."""

    seconds: float = Field(
        description="Expected seconds to compute the figures of this query (0 when they are "
        "kept in the server's cache), from the cost and this server's recent timings."
    )
    cost: float = Field(description="The estimated cost, in the budget's units.")
    cached: bool = Field(description="The figures of this query are kept: answered at once.")


ESTIMATE_DESCRIPTION = (
    "Validated as the figures endpoint is (422 naming the field and the limit), but computes "
    "nothing: the estimate of how long `{path}/figures` will take for this query, from its "
    "cost estimate (the formula a budget refusal names) and the seconds per cost unit this "
    "server has measured. Pages show it while they wait for an answer over a second. Not "
    "cacheable: it follows the server's timings."
)


def _endpoints(view: View) -> tuple[Callable, Callable, Callable]:
    query = Annotated[view.query, Query()]

    def data(request: Request, q: query) -> Response:
        return cached_response(request, q, lambda: view.payload(view.compute(q), q))

    def figures(request: Request, q: query) -> Response:
        return cached_response(request, q, lambda: _figures(view, q, view.build(q)))

    def estimate(response: Response, q: query) -> Estimate:
        response.headers["Cache-Control"] = "no-store"
        return Estimate(**how_long(q, f"{view.api}/figures"))

    return data, figures, estimate


def router(views: Registry) -> APIRouter:
    """/api/v1/health, then each view's data endpoint and figures endpoint."""
    api = APIRouter(prefix=PREFIX, default_response_class=JSONResponse, route_class=CacheableRoute)
    api.add_api_route("/health", health, methods=["GET"], summary="Liveness check", tags=["meta"])
    for view in views.values():
        data, figures, estimate = _endpoints(view)
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
        api.add_api_route(
            f"{path}/estimate",
            estimate,
            methods=["GET"],
            name=f"{view.route_name}_estimate",
            summary=f"How long the {docs.tag} figures will take",
            description=ESTIMATE_DESCRIPTION.format(path=view.api),
            tags=[docs.tag],
            response_model=Estimate,
        )
    return api
