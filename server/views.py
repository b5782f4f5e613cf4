"""Views and their registry. A view listed in a ``Registry`` (server/catalog.py lists the
app's) gets, with no further code, once ``create_app`` builds the routes from the registry:
its data endpoint (``<api>``) and figures endpoint (``<api>/figures``), its page
(``/<name>``), its embed (``/embed/<name>``), oEmbed, per-figure CSV / JSON / data tables
(``<api>/figures/<figure>.csv``) and ``bpttlab export <name>``.

A view's state is its query model: every field is a control of the page, so the URL query is
the whole state. ``controls`` and ``figures`` are reserved for embeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from .compute import affordable
from .controls import Control, control, lenient

Controls = tuple[tuple[str, tuple[str, ...]], ...]  # (field, the selector values it applies to)


class EmbedParams(BaseModel):
    """The embed's own query parameters, next to the view's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    controls: Annotated[
        Literal["none", "compact", "full"],
        Field(
            description="none: figures only; compact: the view's (at most) three main "
            "controls; full: all of them"
        ),
    ] = "compact"
    figures: Annotated[
        str, Field(max_length=500, description="comma list of figure names; empty: all")
    ] = ""

    @property
    def names(self) -> list[str]:
        return [n.strip() for n in self.figures.split(",") if n.strip()]

    def query_string(self) -> str:
        pairs = [
            (k, v) for k, v in self.model_dump().items() if v != type(self).model_fields[k].default
        ]
        return urlencode(pairs, safe=",")


EMBED_FIELDS = frozenset(EmbedParams.model_fields)


@dataclass(frozen=True)
class ApiDocs:
    """How OpenAPI describes a view's two endpoints (None: no description)."""

    tag: str
    summary: str
    description: str | None
    figures_summary: str
    figures_description: str | None = None


@dataclass(frozen=True)
class Group:
    """A labelled group of a view's controls: a <fieldset> with its legend on the page or,
    ``more``, a collapsed <details> whose summary is the legend (the rarely used ones)."""

    legend: str
    controls: Controls
    more: bool = False


@dataclass(frozen=True)
class ControlGroup:
    """A group as a page renders it: its legend, its controls, and the cells it applies to
    when every control of it applies to the same ones (the page hides it for the others)."""

    legend: str
    controls: list[Control]
    more: bool
    cells: tuple[str, ...]


@dataclass(frozen=True)
class View:
    """One view. ``compute`` runs the engine for a validated query (server/compute.py),
    ``draw`` turns the result into ``{"figures": [...], "numbers": [...]}`` (server/figures)
    and ``payload`` into the data endpoint's JSON; ``grid`` lists, per field, the values the
    static export precomputes besides the chosen one. ``groups`` are the page's controls in
    labelled groups, ``compact`` the (at most three) controls a compact embed shows, and
    ``label`` the one-line description of a configuration (the phone's summary bar, the PNG
    footnote, the /figures body's ``label``); ``values`` the teaching values of the other numeric
    fields an export may be asked to vary (``--vary``)."""

    name: str
    title: str
    template: str
    query: type[BaseModel]
    api: str
    compute: Callable[[Any], Any]
    draw: Callable[[Any], dict[str, list]]
    payload: Callable[[Any, Any], Any]
    docs: ApiDocs
    groups: tuple[Group, ...]
    label: Callable[[Any], str]
    compact: tuple[str, ...] = ()
    grid: tuple[tuple[str, tuple], ...] = ()
    values: tuple[tuple[str, tuple], ...] = ()
    context: Mapping[str, Any] = field(default_factory=dict)

    @property
    def route_name(self) -> str:
        """The data endpoint's name (its OpenAPI operation), from its path: gradient_flow."""
        return self.api.rsplit("/", 1)[-1].replace("-", "_")

    def build(self, q) -> dict[str, list]:
        """The figures (and numbers) of a validated query, its cost already checked."""
        return self.draw(self.compute(q))

    @property
    def main(self) -> Controls:
        """The controls of the groups always shown, in page order."""
        return tuple(c for g in self.groups if not g.more for c in g.controls)

    @property
    def more(self) -> Controls:
        """The rarely used controls, in the collapsed groups."""
        return tuple(c for g in self.groups if g.more for c in g.controls)

    def controls(self, values: dict[str, Any]) -> tuple[list[Control], list[Control]]:
        def made(items: Controls) -> list[Control]:
            return [control(self.query, name, values[name], cells) for name, cells in items]

        return made(self.main), made(self.more)

    def control_groups(self, values: dict[str, Any]) -> list[ControlGroup]:
        groups = []
        for g in self.groups:
            made = [control(self.query, name, values[name], cells) for name, cells in g.controls]
            shared = {c.cells for c in made}
            cells = shared.pop() if len(shared) == 1 else ()
            groups.append(ControlGroup(g.legend, made, g.more, cells))
        return groups


def compact_shown(view: View, selected: str | None = None) -> list[str]:
    """The compact controls shown when the view's selector (cell, matrix) is ``selected``."""
    cells = dict(view.main + view.more)
    return [n for n in view.compact if not cells[n] or selected in cells[n]]


def _check_groups(view: View) -> None:
    names = [name for name, _ in view.main + view.more]
    if len(set(names)) != len(names):
        raise ValueError(f"view {view.name}: a control is in two groups")
    if not set(view.compact) <= set(names):
        raise ValueError(f"view {view.name}: compact names a field that is not a control")
    selected = {c for _, cells in view.main + view.more for c in cells} or {None}
    if any(len(compact_shown(view, s)) > 3 for s in selected):
        raise ValueError(f"view {view.name}: a compact embed shows at most 3 controls")


class Registry(Mapping[str, View]):
    """The views of an app, by name, in the order their pages and routes are listed."""

    def __init__(self, views: Iterable[View]):
        self._views: dict[str, View] = {}
        for view in views:
            clash = EMBED_FIELDS & set(view.query.model_fields)
            if clash:
                raise ValueError(f"view {view.name}: {sorted(clash)} are reserved for embeds")
            _check_groups(view)
            if view.name in self._views:
                raise ValueError(f"two views are named {view.name}")
            self._views[view.name] = view

    def __getitem__(self, name: str) -> View:
        return self._views[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)


def split_embed(params: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """A query's view parameters and its embed parameters."""
    view = {k: v for k, v in params.items() if k not in EMBED_FIELDS}
    return view, {k: v for k, v in params.items() if k in EMBED_FIELDS}


def base_url(request) -> str:
    """The address this server is reached at: the app's ``public_url`` when set (behind a
    proxy), else the scheme and host of the request."""
    public = request.app.state.settings.public_url
    return public.rstrip("/") or str(request.base_url).rstrip("/")


def oembed_url(request, query: str) -> str:
    """The oEmbed discovery address of the page being served, for its canonical query
    (defaults left out), so that equal views carry equal pages (and equal ETags)."""
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
    """What a view's page (or its embed) renders: the lenient query, its controls, figures.
    The query's cost is checked here, once (over the budget it falls back, see affordable)."""
    view_params, embed_params = split_embed(params) if embed else (dict(params), {})
    q, problems = affordable(*lenient(view.query, view_params))
    e, embed_problems = lenient(EmbedParams, embed_params)
    built = view.build(q)
    shown, figure_problems = _pick(built["figures"], e.names)
    values = q.model_dump()
    main, more = view.controls(values)
    groups = view.control_groups(values)
    by_name = {c.name: c for g in groups for c in g.controls}
    compact = [by_name[n] for n in view.compact] if embed and e.controls == "compact" else []
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
        "groups": groups,
        "compact_controls": compact,
        "label": view.label(q),
        "figures": shown,
        "numbers": built.get("numbers"),
        "action": f"/embed/{view.name}" if embed else f"/{view.name}",
        "api": view.api,
    }
