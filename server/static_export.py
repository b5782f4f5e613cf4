"""``bpttlab export <view> --query "<query>" [--vary a,b=1:2:3] --out DIR``: a folder that shows
the view with no server and no network (file:// or any static host).

The figures are computed here, through the view's own ``build`` (the server's path), for every
combination of the values of the controls that move (the axes): by default the fields of
``View.grid``, or those asked for with ``--vary``. A field moves over the values given to it
(``seq_len=50:100:200``), else its grid or teaching values (``View.grid``, ``View.values``),
else all its options (a select or a checkbox); the chosen value is always one of them. Every
other field keeps the chosen value. A view whose figures invite a click (``CLICKS``: /cliff's
start point) also moves the two fields the click sets, over an even grid of the figure's axes,
and the offline page snaps a click to the nearest precomputed value of each.

The folder holds index.html, data.js (the figures of every point, assigned to a global, so no
fetch() is needed from file://; a trace that many points share, such as /cliff's loss surface,
is stored once), export.js, the stylesheet and the Plotly bundle the server serves. When it
would exceed ``max_bytes`` the grid is shrunk, on the longest axis: an even grid gets one value
fewer, other axes lose the value farthest from the chosen one. When even the chosen point alone
is too large the export fails.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ValidationError

from . import pages
from .catalog import VIEWS
from .compute import Runtime, check_cost, using
from .errors import validation_items
from .limits import OverBudget
from .schemas import query_value
from .settings import Settings, get_settings
from .views import Registry, View

MAX_BYTES = 10 * 2**20
SHARED_MIN = 1024  # a trace of this many bytes or more is stored once, however many points show it
CHECK_EVERY = 8  # points computed between two estimates of the final size


class ExportError(Exception):
    """An export that cannot be made (exit code 1)."""


class VaryError(ExportError):
    """A bad ``--vary``: an unknown field, one that cannot move, a bad value (exit code 2)."""


@dataclass(frozen=True)
class Click:
    """Figures on which a click sets two controls (on the server's page, static/js/cliff.js).
    Offline, the two fields move over ``points`` values evenly spaced across the figures' axes
    (the range is two fields of the query each), unless given, and a click snaps each to its
    nearest precomputed value."""

    figures: tuple[str, ...]
    x: str
    x_range: tuple[str, str]
    y: str
    y_range: tuple[str, str]
    points: int = 6


CLICKS = {
    "cliff": Click(
        ("surface", "gradient"), "start_w", ("w_min", "w_max"), "start_b", ("b_min", "b_max")
    )
}


@dataclass
class Axis:
    """A control that moves: its values (the chosen one among them), where they came from
    (given, grid, teaching, options, even), the count of an even grid, and the values left out
    because the query refuses them next to the chosen ones, with the reason."""

    name: str
    values: list
    source: str
    count: int = 0
    left_out: list[tuple[Any, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Export:
    out: Path
    grid: dict[str, list]
    points: int
    bytes: int
    dropped: dict[str, list] = field(default_factory=dict)  # to fit the size limit
    left_out: dict[str, list[tuple[Any, str]]] = field(default_factory=dict)  # refused values
    missing: dict[str, str] = field(default_factory=dict)  # combinations refused, and why


# -- which controls can move ------------------------------------------------------------------


def _controls(view: View) -> list[str]:
    """The fields that are controls of the view's page, in the page's order."""
    return [name for name, _ in (*view.main, *view.more)]


def _options(view: View, name: str) -> tuple | None:
    """All the values of a select or a checkbox field; None for the other kinds."""
    annotation = view.query.model_fields[name].annotation
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    if annotation is bool:
        return (False, True)
    return None


def _numeric(view: View, name: str) -> bool:
    return view.query.model_fields[name].annotation in (int, float)


def default_values(view: View, name: str) -> tuple | None:
    """The values a field moves over when none are given: grid, teaching values, options."""
    listed = dict(view.values) | dict(view.grid)
    if name in listed:
        return tuple(listed[name])
    return _options(view, name)


def movable(view: View) -> list[tuple[str, str]]:
    """Each control that can move, with the values it takes unless given: its grid or
    teaching values, a select's or a checkbox's options, the click's even grid across a
    figure's axis, or 'give values' (a number with no teaching values)."""
    click = CLICKS.get(view.name)
    moves = []
    for name in _controls(view):
        if click and name in (click.x, click.y):
            ends = click.x_range if name == click.x else click.y_range
            moves.append(
                (name, f"always; {click.points} even values over {ends[0]}..{ends[1]}, or given")
            )
        elif (values := default_values(view, name)) is not None:
            moves.append((name, ":".join(query_value(v) for v in values)))
        elif _numeric(view, name):
            moves.append((name, "give values"))
    return moves


def default_vary(view: View) -> list[str]:
    """The fields an export moves unless told: the view's grid, and the click's two fields."""
    names = [name for name, _ in view.grid]
    click = CLICKS.get(view.name)
    return names + [n for n in ((click.x, click.y) if click else ()) if n not in names]


# -- --vary -------------------------------------------------------------------------------------


def parse_vary(view: View, text: str | None) -> list[tuple[str, list[str] | None]]:
    """``"forget_bias,seq_len=50:100:200"`` -> [("forget_bias", None), ("seq_len", [...])];
    a VaryError names the field that is unknown, cannot move or is given twice."""
    if text is None:
        return [(name, None) for name in default_vary(view)]
    asked: list[tuple[str, list[str] | None]] = []
    can = [name for name, _ in movable(view)]
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, equals, values = (part.strip() for part in item.partition("="))
        if name not in view.query.model_fields:
            raise VaryError(
                f"--vary {name}: no such control in {view.name}; it can vary: {', '.join(can)}"
            )
        if name not in can:
            raise VaryError(
                f"--vary {name}: not a control that can vary (a select, a checkbox or a number "
                f"of the page); {view.name} can vary: {', '.join(can)}"
            )
        if name in (n for n, _ in asked):
            raise VaryError(f"--vary {name}: given twice")
        given = [v.strip() for v in values.split(":")] if equals else None
        if given is not None and (not given or any(v == "" for v in given)):
            raise VaryError(
                f"--vary {name}: an empty value in {values!r}; write values as "
                f"{name}=a:b:c (e.g. {name}={':'.join(_example(view, name))})"
            )
        asked.append((name, given))
    if not asked:
        raise VaryError("--vary: no field named; e.g. --vary " + ",".join(default_vary(view)))
    return asked


def _example(view: View, name: str) -> list[str]:
    values = default_values(view, name)
    return [query_value(v) for v in values[:3]] if values else ["1", "2", "3"]


# -- axes ---------------------------------------------------------------------------------------


def _refusal(view: View, params: dict) -> str | None:
    """Why the query model or the cost budget refuses params ('field: message'), or None."""
    try:
        q = view.query.model_validate(params)
        check_cost(q)
    except ValidationError as exc:
        first = validation_items(exc.errors())[0]
        return f"{first['field']}: {first['message']}"
    except OverBudget as exc:
        return f"{exc.item['field']}: {exc.item['message']}"
    return None


def _typed(view: View, chosen: dict, name: str, value: Any) -> Any:
    return getattr(view.query.model_validate({**chosen, name: value}), name)


def _even(lo: float, hi: float, count: int) -> list[float]:
    """count values evenly over [lo, hi], to 3 significant digits."""
    if count < 2:
        return [lo]
    return [float(f"{lo + (hi - lo) * i / (count - 1):.3g}") for i in range(count)]


def _ordered(view: View, name: str, values: Iterable) -> list:
    options = _options(view, name)
    unique = list(dict.fromkeys(values))
    if options is not None:
        return [v for v in options if v in unique]
    return sorted(unique)


def _axis(view: View, chosen: dict, name: str, given: list[str] | None, count: int = 0) -> Axis:
    """The values field ``name`` moves over, the chosen one among them. Given values the
    query refuses are a VaryError; default ones are left out, with the reason."""
    click = CLICKS.get(view.name)
    if given is not None:
        source, candidates = "given", given
    elif click and name in (click.x, click.y):
        lo, hi = click.x_range if name == click.x else click.y_range
        count = count or click.points
        source, candidates = "even", _even(chosen[lo], chosen[hi], count)
    else:
        source = "grid" if name in dict(view.grid) else "teaching"
        candidates = default_values(view, name)
        if candidates is None:
            raise VaryError(
                f"--vary {name}: a number with no default values to move over; give them, "
                f"e.g. --vary '{name}=a:b:c'"
            )
        if _options(view, name) is not None and name not in dict(view.values) | dict(view.grid):
            source = "options"
    ok, left_out = [], []
    for value in candidates:
        why = _refusal(view, {**chosen, name: value})
        if why is None:
            ok.append(_typed(view, chosen, name, value))
        elif given is not None:
            raise VaryError(f"--vary {name}: the value {value!r} is refused ({why})")
        else:
            left_out.append((value, why))
    return Axis(name, _ordered(view, name, [*ok, chosen[name]]), source, count, left_out)


def _axes(view: View, q: BaseModel, vary: str | None = None) -> dict[str, list]:
    """Per moving field, its values (see _axis), within the environment's cost budget."""
    chosen = q.model_dump()
    with using(Runtime.of(get_settings())):
        return {a.name: a.values for a in _make_axes(view, chosen, parse_vary(view, vary))}


def _make_axes(view: View, chosen: dict, asked) -> list[Axis]:
    axes = [_axis(view, chosen, name, given) for name, given in asked]
    click = CLICKS.get(view.name)
    for name in (click.x, click.y) if click else ():
        if name not in (a.name for a in axes):  # the figures invite a click: it must work
            axes.append(_axis(view, chosen, name, None))
    return axes


def _shrink(view: View, axes: list[Axis], chosen: dict) -> bool:
    """One value fewer on the longest axis (an even grid is re-spaced, other axes lose the
    value farthest from the chosen one); False when every axis is down to the chosen value."""
    longest = max(axes, key=lambda a: len(a.values), default=None)
    if longest is None or len(longest.values) < 2:
        return False
    i = axes.index(longest)
    if longest.source == "even" and longest.count > 2:
        axes[i] = _axis(view, chosen, longest.name, None, longest.count - 1)
        if len(axes[i].values) < len(longest.values):
            return True
    here = chosen[longest.name]
    others = [v for v in longest.values if v != here]
    if _numeric(view, longest.name):
        far = max(others, key=lambda v: abs(v - here))
    else:
        far = others[-1]
    axes[i] = Axis(
        longest.name,
        [v for v in longest.values if v != far],
        "dropped" if longest.source == "even" else longest.source,
        longest.count,
        longest.left_out,
    )
    return True


# -- the points and their size ----------------------------------------------------------------


def _key(point: dict) -> str:
    return "&".join(f"{k}={query_value(v)}" for k, v in point.items())


class Store:
    """The computed points, each trace of SHARED_MIN bytes or more stored once and referred to
    as {"$ref": i}; sizes are kept so that the size of any grid is a sum."""

    def __init__(self) -> None:
        self.traces: dict[str, int] = {}  # JSON -> index
        self.sizes: list[int] = []
        self.points: dict[str, dict] = {}  # key -> built, with refs
        self.refs: dict[str, set[int]] = {}
        self.bytes: dict[str, int] = {}
        self.missing: dict[str, str] = {}

    def add(self, key: str, built: dict) -> None:
        refs: set[int] = set()
        figures = []
        for f in built["figures"]:
            data = []
            for trace in f["figure"]["data"]:
                text = json.dumps(trace, allow_nan=False, separators=(",", ":"))
                if len(text) < SHARED_MIN:
                    data.append(trace)
                    continue
                i = self.traces.setdefault(text, len(self.traces))
                if i == len(self.sizes):
                    self.sizes.append(len(text.encode()) + 2)
                refs.add(i)
                data.append({"$ref": i})
            figures.append({**f, "figure": {**f["figure"], "data": data}})
        point = {**built, "figures": figures}
        self.points[key] = point
        self.refs[key] = refs
        self.bytes[key] = len(_dumps(point).encode()) + len(json.dumps(key)) + 3

    def size(self, keys: Iterable[str]) -> int:
        keys = [k for k in keys if k in self.points]
        used = set().union(*(self.refs[k] for k in keys)) if keys else set()
        return sum(self.bytes[k] for k in keys) + sum(self.sizes[i] for i in used)

    def data(self, keys: list[str]) -> tuple[list[str], dict[str, dict]]:
        """The shared traces the points of ``keys`` use, renumbered, and those points."""
        keys = [k for k in keys if k in self.points]
        used = sorted(set().union(*(self.refs[k] for k in keys)) if keys else set())
        number = {old: new for new, old in enumerate(used)}
        texts = {i: t for t, i in self.traces.items()}

        def renumbered(trace: dict) -> dict:
            return {"$ref": number[trace["$ref"]]} if set(trace) == {"$ref"} else trace

        points = {
            k: {
                **self.points[k],
                "figures": [
                    {
                        **f,
                        "figure": {
                            **f["figure"],
                            "data": [renumbered(t) for t in f["figure"]["data"]],
                        },
                    }
                    for f in self.points[k]["figures"]
                ],
            }
            for k in keys
        }
        return [texts[i] for i in used], points


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


# -- export -------------------------------------------------------------------------------------


def export(
    name: str,
    query: str,
    out: Path,
    max_bytes: int = MAX_BYTES,
    settings: Settings | None = None,
    views: Registry = VIEWS,
    vary: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Export:
    """Export view ``name`` of ``views`` under ``query`` into ``out``, moving the controls
    ``vary`` names (the view's grid when None), computing within the cost budget of
    ``settings`` (the environment's by default), as a server would; ``progress(done, total)``
    is called after each point computed."""
    settings = settings or get_settings()
    view = views.get(name)
    if view is None:
        raise ExportError(f"no view {name!r}; views: {', '.join(views)}")
    with using(Runtime.of(settings)):
        return _export(view, query, out, max_bytes, settings, vary, progress)


def _validated(view: View, params: dict):
    try:
        return view.query.model_validate(params)
    except ValidationError as exc:
        first = validation_items(exc.errors())[0]
        raise ExportError(f"{first['field']}: {first['message']}") from None


def _export(
    view: View,
    query: str,
    out: Path,
    max_bytes: int,
    settings: Settings,
    vary: str | None,
    progress: Callable[[int, int], None] | None = None,
) -> Export:
    q = _validated(view, dict(parse_qsl(query.lstrip("?"), keep_blank_values=True)))
    try:
        check_cost(q)
    except OverBudget as exc:
        raise ExportError(f"{exc.item['field']}: {exc.item['message']}") from None
    chosen = q.model_dump()
    axes = _make_axes(view, chosen, parse_vary(view, vary))
    first = {a.name: chosen[a.name] for a in axes}
    original = {a.name: list(a.values) for a in axes}
    assets = _assets(settings)
    fixed = sum(path.stat().st_size for path in assets.values())
    store = Store()
    store.add(_key(first), view.build(q))

    while True:
        points = [
            dict(zip((a.name for a in axes), values, strict=True))
            for values in itertools.product(*(a.values for a in axes))
        ]
        keys = [_key(p) for p in points]
        if _compute(view, chosen, store, keys, points, max_bytes - fixed, progress):
            shared, stored = store.data(keys)
            missing = {k: store.missing[k] for k in keys if k in store.missing}
            data = _data_js(view, q, axes, shared, stored, missing)
            html = _index_html(view, q, axes, store, keys, settings)
            size = fixed + len(data.encode()) + len(html.encode())
            if size <= max_bytes:
                break
        else:
            size = fixed + store.size(keys)
        if not _shrink(view, axes, chosen):
            raise ExportError(
                f"the export of this query takes {size / 2**20:.1f} MB even with one grid "
                f"point, over the limit of {max_bytes / 2**20:.1f} MB"
            )
    out.mkdir(parents=True, exist_ok=True)
    for target, source in assets.items():
        shutil.copyfile(source, out / target)
    (out / "data.js").write_text(data, encoding="utf-8")
    (out / "index.html").write_text(html, encoding="utf-8")
    grid = {a.name: a.values for a in axes}
    return Export(
        out=out,
        grid=grid,
        points=len(stored),
        bytes=size,
        dropped={
            n: [v for v in original[n] if v not in grid[n]] for n in grid if original[n] != grid[n]
        },
        left_out={a.name: a.left_out for a in axes if a.left_out},
        missing=missing,
    )


def _compute(
    view: View,
    chosen: dict,
    store: Store,
    keys: list[str],
    points: list[dict],
    room: int,
    progress: Callable[[int, int], None] | None = None,
) -> bool:
    """Compute the points of ``keys`` not in ``store`` yet (a combination the query refuses
    is noted as missing, with the reason), in a shuffled order so that those computed first
    are a fair sample. From a quarter of them on, every CHECK_EVERY points, the final size is
    estimated: the points left at the mean size of those this call computed. That overcounts
    the traces later points will share (by up to about half on /cliff, whose unclipped runs
    are the same for every threshold), so only an estimate over twice ``room`` stops the pass
    (False, leaving the rest); the exact size is checked after."""
    todo = [
        (k, p)
        for k, p in zip(keys, points, strict=True)
        if k not in store.points and k not in store.missing
    ]
    random.Random(0).shuffle(todo)
    start = store.size(keys)
    first_check = max(CHECK_EVERY, len(todo) // 4)
    for done, (key, point) in enumerate(todo, start=1):
        params = {**chosen, **point}
        why = _refusal(view, params)
        if why is None:
            store.add(key, view.build(view.query.model_validate(params)))
        else:
            store.missing[key] = why
        if progress:
            progress(done, len(todo))
        if done >= first_check and done % CHECK_EVERY == 0:
            now = store.size(keys)
            if now + (now - start) / done * (len(todo) - done) > 2 * room:
                return False
    return store.size(keys) <= room


def _assets(settings: Settings) -> dict[str, Path]:
    static = settings.static_dir
    return {
        Path(pages.PLOTLY_PATH).name: pages.PLOTLY_FILE,
        "export.js": static / "js" / "export.js",
        "site.css": static / "css" / "site.css",
    }


def _click(view: View) -> dict | None:
    click = CLICKS.get(view.name)
    if click is None:
        return None
    return {"figures": list(click.figures), "x": click.x, "y": click.y}


def _data_js(
    view: View, q, axes: list[Axis], shared: list[str], points: dict[str, dict], missing: dict
) -> str:
    head = _dumps(
        {
            "view": view.name,
            "query": q.query_string(),
            "fields": [a.name for a in axes],
            "click": _click(view),
            "missing": missing,
        }
    )
    traces = ",\n".join(shared)
    body = ",\n".join(f"{json.dumps(key)}:{_dumps(value)}" for key, value in points.items())
    return (
        f"window.BPTTLAB_EXPORT = {head};\n"
        f"window.BPTTLAB_EXPORT.shared = [\n{traces}\n];\n"
        f"window.BPTTLAB_EXPORT.points = {{\n{body}\n}};\n"
    )


def _applies(view: View, name: str, chosen: dict, moving: set[str]) -> bool:
    """Whether control ``name`` applies with the chosen values (forget_bias: an LSTM): a
    control listed for some values of a select applies when that select has one of them or
    moves."""
    cells = dict((*view.main, *view.more)).get(name, ())
    if not cells:
        return True
    for selector in _controls(view):
        options = _options(view, selector)
        if options and set(cells) <= set(options):
            return selector in moving or chosen[selector] in cells
    return True


def fixed_values(view: View, chosen: dict, moving: set[str]) -> list[dict[str, str]]:
    """The controls that do not move and apply, with their values as the page shows them."""
    fields = view.query.model_fields
    return [
        {"name": name, "label": fields[name].title or name, "value": query_value(chosen[name])}
        for name in _controls(view)
        if name not in moving and _applies(view, name, chosen, moving)
    ]


def _index_html(
    view: View, q, axes: list[Axis], store: Store, keys: list[str], settings: Settings
) -> str:
    env = Environment(
        loader=FileSystemLoader(settings.templates_dir), autoescape=select_autoescape()
    )
    chosen = q.model_dump()
    fields = view.query.model_fields
    grid = [
        {
            "name": a.name,
            "label": fields[a.name].title or a.name,
            "options": [(query_value(v), v == chosen[a.name]) for v in a.values],
        }
        for a in axes
    ]
    # every figure and number any point has, in the order the points list them; the page
    # shows those of the point drawn
    figures: dict[str, dict] = {}
    numbers: dict[str, dict] = {}
    first = store.points[_key({a.name: chosen[a.name] for a in axes})]
    for point in [first, *(store.points[k] for k in keys if k in store.points)]:
        for f in point["figures"]:
            figures.setdefault(f["name"], f)
        for n in point.get("numbers") or ():
            numbers.setdefault(n["name"], n)
    shown = {f["name"] for f in first["figures"]}
    said = {n["name"] for n in first.get("numbers") or ()}
    click = CLICKS.get(view.name)
    click_values = None
    if click:
        values = {a.name: a.values for a in axes}
        click_values = {
            "x": (fields[click.x].title, ", ".join(query_value(v) for v in values[click.x])),
            "y": (fields[click.y].title, ", ".join(query_value(v) for v in values[click.y])),
            "count": len(values[click.x]) * len(values[click.y]),
        }
    return env.get_template("export.html").render(
        view=view,
        query=q.query_string(),
        grid=grid,
        fixed=fixed_values(view, chosen, {a.name for a in axes}),
        figures=[{**f, "shown": f["name"] in shown} for f in figures.values()],
        numbers=[{**n, "shown": n["name"] in said} for n in numbers.values()],
        points=len(keys),
        click=click_values,
        plotly=Path(pages.PLOTLY_PATH).name,
    )
