"""HTML pages. The state of a view is its URL query, under the API's parameter names."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from . import tables
from .catalog import GRU_CLAIM, LSTM_CLAIM
from .mathtext import help_text
from .responses import CacheableRoute
from .settings import ROOT, Settings
from .views import Registry, View, oembed_url, page_context

# Third-party files, from the npm registry into static/vendor/, served at /vendor/ under names
# that carry their version (see README, "Vendored files"). Plotly's cartesian bundle has every
# trace type the figures draw (scatter, bar, heatmap) and, unlike the full bundle, no eval.
PLOTLY_VERSION = "4.1.1"
PLOTLY_PATH = f"/vendor/plotly-cartesian-{PLOTLY_VERSION}.min.js"
PLOTLY_FILE = ROOT / "static" / PLOTLY_PATH.lstrip("/")  # what the static export copies
SWAGGER_UI_PATH = "/vendor/swagger-ui-5.35.0"
# KaTeX typesets the pages' math (templates/_math.html, static/js/math.js); its stylesheet is
# trimmed to the woff2 fonts it ships with (see README, "Vendored files")
KATEX_PATH = "/vendor/katex-0.19.1"


class VendorFiles(StaticFiles):
    """Files whose name holds their version never change: cached for a year, immutable."""

    def file_response(self, *args, **kwargs):
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def make_templates(settings: Settings) -> Jinja2Templates:
    """The app's templates (``app.state.templates``), from its settings' templates_dir."""
    t = Jinja2Templates(directory=settings.templates_dir)
    t.env.globals["plotly_path"] = PLOTLY_PATH
    t.env.globals["oembed_url"] = oembed_url
    t.env.globals["katex_path"] = KATEX_PATH
    t.env.filters["help_text"] = help_text
    t.env.globals["figure_table"] = lambda f: tables.table(tables.figure_data(f))
    return t


def templates(request: Request) -> Jinja2Templates:
    return request.app.state.templates


def index(request: Request) -> HTMLResponse:
    """The home page: the lectures' argument as a path of claims, each linking a preset."""
    context = {"page": "index", "lstm_claim": LSTM_CLAIM, "gru_claim": GRU_CLAIM}
    return templates(request).TemplateResponse(request, "index.html", context)


def docs(request: Request) -> HTMLResponse:
    """The API described by /openapi.json, in Swagger UI started by a script of ours."""
    return templates(request).TemplateResponse(
        request,
        "docs.html",
        {"openapi_url": request.app.openapi_url, "swagger_ui": SWAGGER_UI_PATH},
    )


def _page(view: View) -> Callable[[Request], HTMLResponse]:
    def page(request: Request) -> HTMLResponse:
        context = page_context(view, request.query_params)
        return templates(request).TemplateResponse(request, view.template, context)

    return page


def router(views: Registry) -> APIRouter:
    """The index, a page per view of the registry, and the API docs."""
    pages = APIRouter(
        include_in_schema=False, default_response_class=HTMLResponse, route_class=CacheableRoute
    )
    pages.add_api_route("/", index, methods=["GET"])
    for view in views.values():
        pages.add_api_route(f"/{view.name}", _page(view), methods=["GET"], name=view.name)
    pages.add_api_route("/docs", docs, methods=["GET"])
    return pages
