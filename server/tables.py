"""A figure's plotted numbers as columns: for CSV and JSON downloads and the page's data tables.

Built from the figure dicts of server/figures, so a download holds exactly what is drawn.
Two shapes:

- wide, when every trace is a line, marker or bar series over the same x: one x column and
  one column per trace (the profile: distance, spectral norm, Frobenius norm, bound);
- long otherwise (heatmaps, paths over a surface): one row per point, with the trace's name,
  x, y and, for heatmaps, z.

Traces that only carry a legend entry (x = [None]) are left out; so are layout shapes (the
horizon line and the like), whose values the figure's summary states. ``null`` / an empty CSV
cell means the figure has no value there (a log10 of exactly zero).

The page's data table shows at most ``MAX_ROWS`` rows: longer series are shown every k-th row
(first and last kept) and a heatmap by its size and range; the CSV has every number.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from typing import Any

from .figures.style import plain_text

MAX_ROWS = 100


@dataclass(frozen=True)
class FigureData:
    name: str
    title: str
    x_title: str
    y_title: str
    shape: str  # "wide" or "long"
    headers: list[str]
    rows: list[list[Any]]
    heatmaps: list[dict[str, Any]]  # per heatmap trace: name, size, z range (for the table)


def _axis_title(layout: dict, axis: str, default: str) -> str:
    title = (layout.get(axis) or {}).get("title") or {}
    text = title.get("text") if isinstance(title, dict) else title
    return plain_text(text) if text else default


def _data_traces(figure: dict) -> list[dict]:
    return [
        t
        for t in figure["data"]
        if "z" in t or any(v is not None for v in (t.get("x") or []) + (t.get("y") or []))
    ]


def _heatmap_summary(t: dict) -> dict[str, Any]:
    values = [v for row in t["z"] for v in row if v is not None]
    return {
        "name": plain_text(t.get("name", "")),
        "size": f"{len(t['z'])} x {len(t['z'][0]) if t['z'] else 0}",
        "min": min(values) if values else None,
        "max": max(values) if values else None,
        "mean": sum(values) / len(values) if values else None,
    }


def figure_data(item: dict[str, Any]) -> FigureData:
    """``item`` is one ``{"name", "title", "summary", "figure"}`` of server/figures."""
    figure = item["figure"]
    layout = figure["layout"]
    x_title = _axis_title(layout, "xaxis", "x")
    y_title = _axis_title(layout, "yaxis", "y")
    traces = _data_traces(figure)
    heatmaps = [t for t in traces if "z" in t]
    common = {"name": item["name"], "title": item["title"], "x_title": x_title, "y_title": y_title}
    xs = [t.get("x") for t in traces]
    if not heatmaps and traces and all(x == xs[0] for x in xs):
        headers = [x_title] + [
            plain_text(t.get("name") or f"trace {i + 1}") for i, t in enumerate(traces)
        ]
        rows = [list(row) for row in zip(xs[0], *(t["y"] for t in traces), strict=True)]
        return FigureData(shape="wide", headers=headers, rows=rows, heatmaps=[], **common)
    rows = []
    for t in traces:
        name = plain_text(t.get("name", ""))
        if "z" in t:
            rows += [
                [name, x, y, z]
                for y, z_row in zip(t["y"], t["z"], strict=True)
                for x, z in zip(t["x"], z_row, strict=True)
            ]
        else:
            rows += [[name, x, y, None] for x, y in zip(t["x"], t["y"], strict=True)]
    headers = ["trace", x_title, y_title, "z"]
    if not heatmaps:
        headers, rows = headers[:3], [r[:3] for r in rows]
    summaries = [_heatmap_summary(t) for t in heatmaps]
    return FigureData(shape="long", headers=headers, rows=rows, heatmaps=summaries, **common)


def _cell(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_csv(d: FigureData) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(d.headers)
    for row in d.rows:
        writer.writerow(["" if v is None else _cell(v) for v in row])
    return out.getvalue()


def to_json(d: FigureData, query: str) -> dict[str, Any]:
    return {
        "figure": d.name,
        "title": d.title,
        "query": query,
        "x_title": d.x_title,
        "y_title": d.y_title,
        "shape": d.shape,
        "columns": [
            {"name": header, "values": [_cell(row[i]) for row in d.rows]}
            for i, header in enumerate(d.headers)
        ],
    }


def _shown_rows(rows: list, limit: int = MAX_ROWS) -> tuple[list, int]:
    """At most ``limit`` rows, every k-th, the first and the last always; and k."""
    n = len(rows)
    if n <= limit:
        return rows, 1
    k = math.ceil((n - 1) / (limit - 1))
    index = list(range(0, n, k))
    if index[-1] != n - 1:
        index.append(n - 1)
    return [rows[i] for i in index], k


def text(value: Any) -> str:
    """A number as a table shows it (6 significant digits); empty for no value."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@dataclass(frozen=True)
class Table:
    caption: str
    headers: list[str]
    rows: list[list[str]]
    note: str
    heatmaps: list[dict[str, str]]


def table(d: FigureData) -> Table:
    """The page's data table: every row up to MAX_ROWS, else every k-th; heatmaps summarised."""
    caption = f"{d.title}: {d.y_title} against {d.x_title}"
    heatmap_names = {h["name"] for h in d.heatmaps}
    rows = [r for r in d.rows if not (heatmap_names and r[0] in heatmap_names)]
    shown, k = _shown_rows(rows)
    notes = []
    if k > 1:
        notes.append(f"Every {k}th of {len(rows)} rows shown (first and last kept).")
    if d.heatmaps:
        notes.append("Heatmaps are summarised by their size and range.")
    if notes:
        notes.append("The CSV has every number.")
    headers = d.headers[:3] if d.heatmaps else d.headers
    return Table(
        caption=caption,
        headers=headers,
        rows=[[text(v) for v in r[: len(headers)]] for r in shown],
        note=" ".join(notes),
        heatmaps=[{k: text(v) for k, v in h.items()} for h in d.heatmaps],
    )
