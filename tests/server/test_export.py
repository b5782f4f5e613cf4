"""`bpttlab export`: a self-contained folder, its grid, and its size limit."""

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from bpttlab.server import cli
from bpttlab.server.catalog import VIEWS
from bpttlab.server.pages import PLOTLY_FILE, PLOTLY_PATH
from bpttlab.server.static_export import MAX_BYTES, ExportError, _axes, export


def load_data(out: Path) -> dict:
    text = (out / "data.js").read_text()
    head, points = re.fullmatch(
        r"window\.BPTTLAB_EXPORT = (.*);\nwindow\.BPTTLAB_EXPORT\.points = (\{.*\});\n",
        text,
        re.S,
    ).groups()
    return {**json.loads(head), "points": json.loads(points)}


def folder_size(out: Path) -> int:
    return sum(p.stat().st_size for p in out.iterdir())


def test_export_writes_a_folder_that_needs_nothing_else(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        cli.main(["export", "explore", "--query", "seq_len=77&scale=1.2", "--out", str(tmp_path)])
    assert done.value.code == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"index.html", "data.js", "export.js", "site.css", Path(PLOTLY_PATH).name}
    assert (tmp_path / Path(PLOTLY_PATH).name).read_bytes() == PLOTLY_FILE.read_bytes()
    page = (tmp_path / "index.html").read_text()
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert (tmp_path / url).is_file(), url  # every asset is local, by a relative path
    size = folder_size(tmp_path)
    assert size <= MAX_BYTES
    said = capsys.readouterr().out
    assert f"{size / 2**20:.2f} MB" in said
    data = load_data(tmp_path)
    assert data["fields"] == ["seq_len", "scale"]
    seq_lens = [25, 50, 77, 100, 200, 400]
    scales = [0.5, 0.9, 1, 1.1, 1.2, 1.5]
    assert len(data["points"]) == len(seq_lens) * len(scales)
    assert 'value="77" selected' in page and 'value="1.2" selected' in page


def test_exported_figures_are_the_servers_figures_of_each_grid_point(tmp_path, client):
    export("eigen", "matrix=gaussian&hidden_size=6", tmp_path)
    data = load_data(tmp_path)
    key = "radius1=0.9&seq_len=25"
    assert key in data["points"]
    served = client.get(
        "/api/v1/eigen/figures",
        params={"matrix": "gaussian", "hidden_size": 6, "radius1": 0.9, "seq_len": 25},
    ).json()
    assert data["points"][key]["figures"] == served["figures"]
    assert data["points"][key]["numbers"] == served["numbers"]


def test_grid_values_the_query_model_refuses_are_left_out():
    view = replace(VIEWS["cliff"], grid=(("seq_len", (5, 20, 400)),))
    q = view.query(w_max=50, seq_len=10)  # with |w| up to 50, seq_len 400 is refused
    assert _axes(view, q) == {"seq_len": [5, 10, 20]}


def test_an_export_over_the_limit_shrinks_its_grid(tmp_path):
    fixed = sum(p.stat().st_size for p in [PLOTLY_FILE])
    full = export("explore", "seq_len=50", tmp_path / "full")
    limit = fixed + (full.bytes - fixed) // 3
    small = export("explore", "seq_len=50", tmp_path / "small", max_bytes=limit)
    assert small.points < full.points
    assert small.bytes <= limit and folder_size(tmp_path / "small") == small.bytes
    assert 50 in small.grid["seq_len"] and 1.0 in small.grid["scale"]  # the chosen point stays


def test_an_export_that_cannot_fit_fails_and_says_so(tmp_path, capsys):
    with pytest.raises(ExportError, match="over the limit of 1.0 MB"):
        export("compare", "", tmp_path, max_bytes=2**20)
    with pytest.raises(SystemExit) as done:
        cli.main(["export", "compare", "--out", str(tmp_path), "--max-mb", "1"])
    assert done.value.code == 1
    assert "over the limit" in capsys.readouterr().err


def test_a_bad_query_fails_naming_the_field(tmp_path):
    with pytest.raises(ExportError, match="seq_len"):
        export("explore", "seq_len=0", tmp_path)


def test_every_view_has_an_export_grid():
    for view in VIEWS.values():
        assert view.grid, view.name
        for name, _ in view.grid:
            assert name in view.query.model_fields
