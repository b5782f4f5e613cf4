"""A figure's plotted numbers, for every view of the app's registry: ``<api>/figures/<name>.csv``,
``.json`` and ``.html`` (the page's data table), under the view's query, as its API takes it
(a bad value is a 422 naming the field). The numbers are taken from the same figure dicts the
page draws (server/tables.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from . import tables
from .compute import check_cost
from .errors import error_item, error_response, validation_items
from .pages import templates
from .responses import CacheableRoute
from .serialize import JSONResponse
from .views import Registry, View

FORMATS = ("csv", "json", "html")


def _figure_data(view: View):
    def figure_data(filename: str, request: Request) -> Response:
        name, _, fmt = filename.rpartition(".")
        if fmt not in FORMATS:
            item = error_item(
                "format", f"one of {', '.join(FORMATS)}", "enum", {"allowed": list(FORMATS)}, fmt
            )
            return error_response(404, [item])
        try:
            q = view.query.model_validate(dict(request.query_params))
        except ValidationError as exc:
            return error_response(422, validation_items(exc.errors()))
        check_cost(q)
        figures = view.build(q)["figures"]
        found = [f for f in figures if f["name"] == name]
        if not found:
            allowed = [f["name"] for f in figures]
            item = error_item(
                "figure",
                f"no figure {name!r} in this view; it has: {', '.join(allowed)}",
                "unknown_figure",
                {"allowed": allowed},
                name,
            )
            return error_response(404, [item])
        data = tables.figure_data(found[0])
        if fmt == "csv":
            return Response(
                tables.to_csv(data),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{view.name}-{name}.csv"'},
            )
        if fmt == "json":
            return JSONResponse(
                tables.to_json(data, q.query_string()),
                headers={"Content-Disposition": f'attachment; filename="{view.name}-{name}.json"'},
            )
        return templates(request).TemplateResponse(
            request, "table.html", {"table": tables.table(data)}, media_type="text/html"
        )

    return figure_data


def router(views: Registry) -> APIRouter:
    """``<api>/figures/<figure>.<csv|json|html>`` for each view of the registry."""
    downloads = APIRouter(tags=["figure data"], route_class=CacheableRoute)
    for view in views.values():
        downloads.add_api_route(
            f"{view.api}/figures/{{filename}}",
            _figure_data(view),
            methods=["GET"],
            name=f"{view.name}_figure_data",
            summary=f"One figure of /{view.name} as CSV, JSON or an HTML table",
            description=(
                "`filename` is `<figure>.csv`, `<figure>.json` or `<figure>.html`, the figure "
                "named as in the figures endpoint; the query is the view's."
            ),
            response_class=HTMLResponse,
        )
    return downloads
