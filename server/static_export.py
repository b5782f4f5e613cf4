"""``bpttlab export <view> --query "<query>" --out DIR``: a folder that shows the view with no
server and no network (file:// or any static host).

The figures are computed here, through the view's own ``build`` (the server's path), for a
small grid: each field of ``View.grid`` takes its listed teaching values and the chosen one,
every other field keeps the chosen value. The folder holds index.html, data.js (the figures of
every grid point, assigned to a global, so no fetch() is needed from file://), export.js, the
stylesheet and the Plotly bundle the server serves. When it would exceed ``max_bytes`` the grid
is shrunk, dropping the value farthest from the chosen one on the longest axis; when even the
chosen point alone is too large the export fails.
"""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import ValidationError

from . import pages
from .catalog import VIEWS
from .compute import Runtime, check_cost, using
from .errors import validation_items
from .schemas import query_value
from .settings import Settings, get_settings
from .views import Registry, View

MAX_BYTES = 10 * 2**20


class ExportError(Exception):
    pass


@dataclass(frozen=True)
class Export:
    out: Path
    grid: dict[str, list]
    points: int
    bytes: int


def _validated(view: View, params: dict):
    try:
        return view.query.model_validate(params)
    except ValidationError as exc:
        first = validation_items(exc.errors())[0]
        raise ExportError(f"{first['field']}: {first['message']}") from None


def _axes(view: View, q) -> dict[str, list]:
    """Per grid field: the teaching values valid with the rest of the query, and the chosen."""
    chosen = q.model_dump()
    axes = {}
    for name, values in view.grid:
        ok = []
        for v in sorted({*values, chosen[name]}):
            try:
                view.query.model_validate({**chosen, name: v})
            except ValidationError:
                continue
            ok.append(v)
        axes[name] = ok
    return axes


def _key(point: dict) -> str:
    return "&".join(f"{k}={query_value(v)}" for k, v in point.items())


def _shrink(axes: dict[str, list], chosen: dict) -> bool:
    """Drop the value farthest from the chosen one on the longest axis; False when none can."""
    name = max(axes, key=lambda n: len(axes[n]), default=None)
    if name is None or len(axes[name]) < 2:
        return False
    far = max((v for v in axes[name] if v != chosen[name]), key=lambda v: abs(v - chosen[name]))
    axes[name].remove(far)
    return True


def export(
    name: str,
    query: str,
    out: Path,
    max_bytes: int = MAX_BYTES,
    settings: Settings | None = None,
    views: Registry = VIEWS,
) -> Export:
    """Export view ``name`` of ``views`` under ``query`` into ``out``, computing within the
    cost budget of ``settings`` (the environment's by default), as a server would."""
    settings = settings or get_settings()
    view = views.get(name)
    if view is None:
        raise ExportError(f"no view {name!r}; views: {', '.join(views)}")
    with using(Runtime.of(settings)):
        return _export(view, query, out, max_bytes, settings)


def _built(view: View, q) -> dict[str, list]:
    check_cost(q)
    return view.build(q)


def _export(view: View, query: str, out: Path, max_bytes: int, settings: Settings) -> Export:
    q = _validated(view, dict(parse_qsl(query.lstrip("?"), keep_blank_values=True)))
    chosen = q.model_dump()
    axes = _axes(view, q)
    computed: dict[str, str] = {}  # key -> JSON of that point's figures and numbers
    assets = _assets(settings)
    fixed = sum(path.stat().st_size for path in assets.values())
    while True:
        points = [
            dict(zip(axes, values, strict=True)) for values in itertools.product(*axes.values())
        ]
        for point in points:
            key = _key(point)
            if key not in computed:
                built = _built(view, _validated(view, {**chosen, **point}))
                computed[key] = json.dumps(built, allow_nan=False, separators=(",", ":"))
        data = _data_js(view, q, axes, {_key(p): computed[_key(p)] for p in points})
        first = computed[_key({n: chosen[n] for n in axes})]
        page = _index_html(view, q, axes, first, settings)
        size = fixed + len(data.encode()) + len(page.encode())
        if size <= max_bytes:
            break
        if not _shrink(axes, chosen):
            raise ExportError(
                f"the export of this query takes {size / 2**20:.1f} MB even with one grid "
                f"point, over the limit of {max_bytes / 2**20:.1f} MB"
            )
    out.mkdir(parents=True, exist_ok=True)
    for target, source in assets.items():
        shutil.copyfile(source, out / target)
    (out / "data.js").write_text(data, encoding="utf-8")
    (out / "index.html").write_text(page, encoding="utf-8")
    return Export(out=out, grid=axes, points=len(points), bytes=size)


def _assets(settings: Settings) -> dict[str, Path]:
    static = settings.static_dir
    return {
        Path(pages.PLOTLY_PATH).name: pages.PLOTLY_FILE,
        "export.js": static / "js" / "export.js",
        "site.css": static / "css" / "site.css",
    }


def _data_js(view: View, q, axes: dict[str, list], points: dict[str, str]) -> str:
    head = json.dumps({"view": view.name, "query": q.query_string(), "fields": list(axes)})
    body = ",\n".join(f"{json.dumps(key)}:{value}" for key, value in points.items())
    return f"window.BPTTLAB_EXPORT = {head};\nwindow.BPTTLAB_EXPORT.points = {{\n{body}\n}};\n"


def _index_html(view: View, q, axes: dict[str, list], first: str, settings: Settings) -> str:
    env = Environment(
        loader=FileSystemLoader(settings.templates_dir), autoescape=select_autoescape()
    )
    chosen = q.model_dump()
    fields = view.query.model_fields
    grid = [
        {
            "name": name,
            "label": fields[name].title or name,
            "options": [(query_value(v), v == chosen[name]) for v in values],
        }
        for name, values in axes.items()
    ]
    built = json.loads(first)
    return env.get_template("export.html").render(
        view=view,
        query=q.query_string(),
        grid=grid,
        figures=built["figures"],
        numbers=built.get("numbers"),
        plotly=Path(pages.PLOTLY_PATH).name,
    )
