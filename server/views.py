"""The registry of views. A view registered here once gets, with no further code: its page
(``/<name>``), its embed (``/embed/<name>``), oEmbed, per-figure CSV / JSON / data tables
(``<api>/figures/<figure>.csv``) and ``bpttlab export <name>``.

A view's state is its query model: every field is a control of the page, so the URL query is
the whole state. ``controls`` and ``figures`` are reserved for embeds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .compute import affordable
from .controls import Control, control, lenient
from .settings import get_settings

Controls = tuple[tuple[str, tuple[str, ...]], ...]  # (field, the selector values it applies to)


class EmbedParams(BaseModel):
    """The embed's own query parameters, next to the view's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    controls: Annotated[
        Literal["none", "compact", "full"],
        Field(description="none: figures only; compact: the main controls; full: all of them"),
    ] = "compact"
    figures: Annotated[
        str, Field(max_length=500, description="comma list of figure names; empty: all")
    ] = ""

    @property
    def names(self) -> list[str]:
        return [n.strip() for n in self.figures.split(",") if n.strip()]

    def query_string(self) -> str:
        from urllib.parse import urlencode

        pairs = [
            (k, v) for k, v in self.model_dump().items() if v != type(self).model_fields[k].default
        ]
        return urlencode(pairs, safe=",")


EMBED_FIELDS = frozenset(EmbedParams.model_fields)


@dataclass(frozen=True)
class View:
    """One view. ``build`` turns a validated query into ``{"figures": [...], "numbers": [...]}``
    (figures as server/figures.py builds them); ``grid`` lists, per field, the values the
    static export precomputes besides the chosen one."""

    name: str
    title: str
    template: str
    query: type[BaseModel]
    api: str
    build: Callable[[Any], dict[str, list]]
    main: Controls
    more: Controls = ()
    grid: tuple[tuple[str, tuple], ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)

    def controls(self, values: dict[str, Any]) -> tuple[list[Control], list[Control]]:
        def made(items: Controls) -> list[Control]:
            return [control(self.query, name, values[name], cells) for name, cells in items]

        return made(self.main), made(self.more)


VIEWS: dict[str, View] = {}


def register(view: View) -> View:
    clash = EMBED_FIELDS & set(view.query.model_fields)
    if clash:
        raise ValueError(f"view {view.name}: {sorted(clash)} are reserved for embeds")
    VIEWS[view.name] = view
    return view


def split_embed(params: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A query's view parameters and its embed parameters."""
    view = {k: v for k, v in params.items() if k not in EMBED_FIELDS}
    return view, {k: v for k, v in params.items() if k in EMBED_FIELDS}


def base_url(request) -> str:
    """The address this server is reached at: BPTTLAB_PUBLIC_URL when set (behind a proxy),
    else the scheme and host of the request."""
    return get_settings().public_url.rstrip("/") or str(request.base_url).rstrip("/")


def oembed_url(request, query: str) -> str:
    """The oEmbed discovery address of the page being served, for its canonical query
    (defaults left out), so that equal views carry equal pages (and equal ETags)."""
    from urllib.parse import urlencode

    base = base_url(request)
    page = base + request.url.path + (f"?{query}" if query else "")
    return f"{base}/oembed?" + urlencode({"url": page, "format": "json"})


def _pick(figures: list[dict], names: list[str]) -> tuple[list[dict], list[dict]]:
    """The figures named (all when none is), and a problem for each unknown name."""
    allowed = [f["name"] for f in figures]
    unknown = [n for n in names if n not in allowed]
    problems = [
        {
            "field": "figures",
            "message": f"no figure {n!r} in this view; it has: {', '.join(allowed)}",
            "type": "unknown_figure",
            "limit": {"allowed": allowed},
            "input": n,
        }
        for n in unknown
    ]
    chosen = [f for f in figures if f["name"] in names]
    return chosen or figures, problems


def page_context(view: View, params: Mapping[str, str], embed: bool = False) -> dict[str, Any]:
    """What a view's page (or its embed) renders: the lenient query, its controls, figures."""
    view_params, embed_params = split_embed(params) if embed else (dict(params), {})
    q, problems = affordable(*lenient(view.query, view_params))
    e, embed_problems = lenient(EmbedParams, embed_params)
    built = view.build(q)
    shown, figure_problems = _pick(built["figures"], e.names)
    main, more = view.controls(q.model_dump())
    return {
        **view.context,
        "page": view.name,
        "view": view,
        "query": q,
        "qs": q.query_string(),
        "canonical_qs": "&".join(
            part for part in (q.query_string(), e.query_string() if embed else "") if part
        ),
        "embed": e if embed else None,
        "problems": problems + embed_problems + figure_problems,
        "main_controls": main,
        "more_controls": more,
        "figures": shown,
        "numbers": built.get("numbers"),
        "action": f"/embed/{view.name}" if embed else f"/{view.name}",
        "api": view.api,
    }
