"""Embeds: ``/embed/<view>?<the view's query>&controls=none|compact|full&figures=a,b`` and
oEmbed 1.0 (``/oembed?url=<view URL>&format=json``), for every view of the app's registry
(``app.state.views``).

The framing policy (CSP frame-ancestors: any origin, or BPTTLAB_FRAME_ANCESTORS, for
``/embed/``; this origin only elsewhere) is set by server/security.py, not here.
"""

from __future__ import annotations

from html import escape
from typing import Annotated
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from .controls import lenient
from .errors import error_item, error_response
from .pages import templates
from .responses import CacheableRoute
from .serialize import JSONResponse
from .views import EmbedParams, View, base_url, page_context, split_embed

router = APIRouter(route_class=CacheableRoute)
OEMBED_WIDTH, OEMBED_HEIGHT = 720, 900  # the iframe's size before it reports its own height
MAX_SIZE = 10_000


@router.get("/embed/{name}", include_in_schema=False, response_class=HTMLResponse)
def embed(name: str, request: Request) -> HTMLResponse:
    view = request.app.state.views.get(name)
    if view is None:
        raise HTTPException(404)
    context = page_context(view, request.query_params, embed=True)
    return templates(request).TemplateResponse(request, "embed.html", context)


def _hosts(request: Request) -> set[str]:
    """The hosts this server answers for: the request's, and BPTTLAB_PUBLIC_URL's."""
    hosts = {request.url.netloc.lower()}
    public = request.app.state.settings.public_url
    if public:
        hosts.add(urlsplit(public).netloc.lower())
    return hosts


def _view_of(url: str, request: Request) -> tuple[View, str] | None:
    """The view a URL of this server shows (page or embed), and its canonical embed query."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.netloc.lower() not in _hosts(request):
        return None
    path = parts.path.removeprefix("/embed")
    views = request.app.state.views
    view = views.get(path.strip("/")) if path.startswith("/") else None
    if view is None:
        return None
    view_params, embed_params = split_embed(dict(parse_qsl(parts.query)))
    q, _ = lenient(view.query, view_params)
    e, _ = lenient(EmbedParams, embed_params)
    return view, "&".join(s for s in (q.query_string(), e.query_string()) if s)


def _not_found(url: str, request: Request) -> JSONResponse:
    views = list(request.app.state.views)
    item = error_item(
        "url", "not the address of a view of this server", "not_found", {"views": views}, url
    )
    return error_response(404, [item])


@router.get(
    "/oembed",
    tags=["embed"],
    summary="oEmbed 1.0: the iframe HTML for a view URL of this server",
    description=(
        "`url` is a view of this server (`/explore?...`, or an embed `/embed/explore?...` "
        "with `controls` and `figures`). Returns a `rich` response whose `html` is the iframe "
        "and the script that sizes it. Other hosts or paths: 404; `format` other than `json`: "
        "501."
    ),
)
def oembed(
    request: Request,
    url: Annotated[str, Query(max_length=4000, description="the view's address")],
    # the schema lists json only (what a client should send); anything else is answered
    # 501, as the oEmbed spec asks of a provider that does not implement a format
    format: Annotated[
        str, Query(max_length=20, description="only `json`", json_schema_extra={"enum": ["json"]})
    ] = "json",
    maxwidth: Annotated[int | None, Query(ge=1, le=MAX_SIZE)] = None,
    maxheight: Annotated[int | None, Query(ge=1, le=MAX_SIZE)] = None,
) -> JSONResponse:
    if format != "json":
        item = error_item(
            "format", "only json is implemented", "not_implemented", {"allowed": ["json"]}, format
        )
        return error_response(501, [item])
    found = _view_of(url, request)
    if found is None:
        return _not_found(url, request)
    view, query = found
    base = base_url(request)
    width = min(OEMBED_WIDTH, maxwidth or OEMBED_WIDTH)
    height = min(OEMBED_HEIGHT, maxheight or OEMBED_HEIGHT)
    src = f"{base}/embed/{view.name}" + (f"?{query}" if query else "")
    title = f"{view.title} · BPTT Lab"
    html = (
        f'<iframe src="{escape(src)}" title="{escape(title)}" width="{width}" height="{height}" '
        f'style="border:0;width:100%;max-width:{width}px" loading="lazy"></iframe>'
        f'<script src="{escape(base)}/static/js/embed-host.js" async></script>'
    )
    return JSONResponse(
        {
            "version": "1.0",
            "type": "rich",
            "title": title,
            "provider_name": "BPTT Lab",
            "provider_url": f"{base}/",
            "html": html,
            "width": width,
            "height": height,
        }
    )
