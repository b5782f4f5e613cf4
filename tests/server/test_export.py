"""`bpttlab export`: a self-contained folder, its grid, and its size limit."""

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

from bpttlab.server import cli
from bpttlab.server.catalog import VIEWS
from bpttlab.server.pages import PLOTLY_FILE, PLOTLY_PATH
from bpttlab.server.settings import Settings
from bpttlab.server.static_export import (
    MAX_BYTES,
    ExportError,
    VaryError,
    _axes,
    default_vary,
    export,
)


def load_data(out: Path) -> dict:
    """data.js as the page reads it, each {"$ref": i} replaced by the shared trace it names."""
    text = (out / "data.js").read_text()
    head, shared, points = re.fullmatch(
        r"window\.BPTTLAB_EXPORT = (.*);\n"
        r"window\.BPTTLAB_EXPORT\.shared = (\[.*\]);\n"
        r"window\.BPTTLAB_EXPORT\.points = (\{.*\});\n",
        text,
        re.S,
    ).groups()
    shared = json.loads(shared)
    points = json.loads(points)
    for point in points.values():
        for f in point["figures"]:
            data = f["figure"]["data"]
            f["figure"]["data"] = [shared[t["$ref"]] if "$ref" in t else t for t in data]
    return {**json.loads(head), "shared": shared, "points": points}


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
    assert _axes(view, q)["seq_len"] == [5, 10, 20]


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


# -- which controls move: --vary ----------------------------------------------------------------


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        cli.main(argv)
    said = capsys.readouterr()
    return done.value.code, said.out, said.err


def help_lines(capsys) -> dict[str, str]:
    """The export's --help epilog: per view, its line(s) of movable controls."""
    code, out, _ = run_cli(["export", "--help"], capsys)
    assert code == 0
    epilog = out.split("controls that can move (--vary)", 1)[1].split("examples:")[0]
    views = {}
    for block in filter(str.strip, epilog.split("\n\n")[1:]):
        name, rest = " ".join(block.split()).split(":", 1)
        views[name] = rest
    return views


def test_export_help_lists_per_view_the_controls_that_move_and_the_default_ones(capsys):
    views = help_lines(capsys)
    assert list(views) == list(VIEWS)
    for name, view in VIEWS.items():
        listed = dict(re.findall(r"(\w+)(\*?) \(", views[name]))
        controls = [n for n, _ in (*view.main, *view.more)]
        assert set(listed) == set(controls), name  # every control of the page can move
        starred = {n for n, star in listed.items() if star}
        assert starred == set(default_vary(view)), name
        assert {n for n, _ in view.grid} <= starred
    assert "forget_bias (0:1:3:5)" in views["explore"]
    assert "cell (rnn:lstm:gru)" in views["explore"]
    assert "input_size (give values)" in views["explore"]


def test_vary_builds_the_asked_axes_with_every_combination(tmp_path, client):
    done = export("explore", "cell=lstm&seq_len=30", tmp_path, vary="forget_bias,seq_len=20:40")
    data = load_data(tmp_path)
    assert data["fields"] == ["forget_bias", "seq_len"]
    assert done.grid == {"forget_bias": [0.0, 1.0, 3.0, 5.0], "seq_len": [20, 30, 40]}
    keys = {
        f"forget_bias={b}&seq_len={t}" for b in ("0", "1", "3", "5") for t in ("20", "30", "40")
    }
    assert set(data["points"]) == keys and done.points == 12
    for key in ("forget_bias=3&seq_len=40", "forget_bias=0&seq_len=20"):
        params = {"cell": "lstm", **dict(part.split("=") for part in key.split("&"))}
        served = client.get("/api/v1/gradient-flow/figures", params=params).json()
        assert data["points"][key]["figures"] == served["figures"]
    page = (tmp_path / "index.html").read_text()
    assert re.findall(r'<select id="(\w+)"', page) == ["forget_bias", "seq_len"]
    fixed = dict(re.findall(r'<li data-field="(\w+)">.*?<strong>([^<]*)</strong>', page))
    assert fixed["cell"] == "lstm" and fixed["hidden_size"] == "32" and fixed["scale"] == "1"
    assert "forget_bias" not in fixed and "seq_len" not in fixed  # they move
    assert "update_bias" not in fixed and "gru_form" not in fixed  # GRU only: not shown


def test_selects_and_checkboxes_move_over_all_their_options(tmp_path):
    done = export("explore", "seq_len=10&hidden_size=4", tmp_path, vary="cell,peephole")
    assert done.grid == {"cell": ["rnn", "lstm", "gru"], "peephole": [False, True]}
    assert len(load_data(tmp_path)["points"]) == 6
    page = (tmp_path / "index.html").read_text()
    # the cell moves, so the controls of every cell are listed fixed
    assert 'data-field="forget_bias"' in page and 'data-field="update_bias"' in page


def test_combinations_the_query_refuses_are_listed_not_computed(tmp_path, capsys):
    code, out, _ = run_cli(
        ["export", "eigen", "--vary", "matrix,non_normal", "--out", str(tmp_path)], capsys
    )
    assert code == 0
    data = load_data(tmp_path)
    refused = {
        f"matrix={m}&non_normal=true" for m in ("gaussian", "orthogonal", "identity", "pytorch")
    }
    assert set(data["missing"]) == refused
    assert all(why.startswith("non_normal: ") for why in data["missing"].values())
    assert len(data["points"]) == 10 - len(refused)
    assert "4 combinations refused by the query, not computed" in out


def test_the_grid_shrinks_to_the_limit_and_says_what_it_dropped(tmp_path, capsys):
    full = export("explore", "seq_len=50", tmp_path / "full", vary="seq_len,scale")
    limit = full.bytes - (full.bytes - PLOTLY_FILE.stat().st_size) // 3
    code, out, _ = run_cli(
        ["export", "explore", "--query", "seq_len=50", "--out", str(tmp_path / "small")]
        + ["--max-mb", f"{limit / 2**20:.6f}"],
        capsys,
    )
    assert code == 0
    data = load_data(tmp_path / "small")
    said = re.search(r"to fit in [\d.]+ MB, dropped: (.*)", out).group(1)
    dropped = {
        name: values.split(", ")
        for name, values in (part.split(" ", 1) for part in said.split("; "))
    }
    assert dropped  # something was dropped, and exactly what is no longer there
    assert "400" in dropped.get("seq_len", [])  # the value farthest from the chosen 50 first
    kept = {
        name: {key.split("&")[i].split("=")[1] for key in data["points"]}
        for i, name in enumerate(data["fields"])
    }
    full_data = load_data(tmp_path / "full")
    every = {
        name: {key.split("&")[i].split("=")[1] for key in full_data["points"]}
        for i, name in enumerate(full_data["fields"])
    }
    for name in every:
        assert kept[name] == every[name] - set(dropped.get(name, [])), name
    assert len(data["points"]) == len(kept["seq_len"]) * len(kept["scale"])  # every combination
    assert folder_size(tmp_path / "small") <= limit


@pytest.mark.parametrize(
    ("vary", "field", "says"),
    [
        ("forget_bias,colour", "colour", "no such control in explore"),
        ("include", "include", "not a control that can vary"),
        ("seq_len=0:100", "seq_len", "greater than or equal to 1"),
        ("seq_len=ten", "seq_len", "valid integer"),
        ("seq_len=", "seq_len", "empty value"),
        ("seq_len=50::100", "seq_len", "empty value"),
        ("input_size", "input_size", "give them"),
        ("cell=rnn:elman", "cell", "'rnn', 'lstm' or 'gru'"),
        ("seq_len,seq_len=5", "seq_len", "given twice"),
        ("hidden_size=256:512", "hidden_size", "less than or equal to 256"),
    ],
)
def test_a_bad_vary_is_a_usage_error_naming_the_field(tmp_path, capsys, vary, field, says):
    code, out, err = run_cli(
        ["export", "explore", "--vary", vary, "--out", str(tmp_path / "x")], capsys
    )
    assert code == 2
    assert f"--vary {field}: " in err and says in err
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "x").exists()


def test_a_vary_value_over_the_cost_budget_names_the_field(tmp_path):
    settings = Settings(cost_budget=1e8)  # hidden_size 64: seq_len 100 fits, 200 does not
    with pytest.raises(VaryError, match=r"--vary seq_len: the value '1000' is refused \(seq_len: "):
        export("explore", "hidden_size=64", tmp_path, settings=settings, vary="seq_len=100:1000")
    done = export("explore", "hidden_size=64", tmp_path, settings=settings, vary="seq_len")
    # the teaching values over the budget are left out, and why is said
    assert [v for v, _ in done.left_out["seq_len"]] == [200, 400]
    assert all(why.startswith("seq_len: ") for _, why in done.left_out["seq_len"])
    assert done.grid["seq_len"] == [25, 50, 100]


# -- the offline /cliff -------------------------------------------------------------------------

SMALL_CLIFF = "resolution=11&steps=20"


def test_the_cliff_export_precomputes_starts_over_the_map_for_the_click(tmp_path):
    done = export("cliff", SMALL_CLIFF, tmp_path, vary="clip_threshold=1")
    # the start point moves even when not asked: the surface invites a click
    assert list(done.grid) == ["clip_threshold", "start_w", "start_b"]
    assert done.grid["start_w"] == [1.0, 2.8, 4.6, 5.0, 6.4, 8.2, 10.0]  # 6 over w_min..w_max
    assert done.grid["start_b"] == [-7.0, -4.2, -3.0, -1.4, 1.4, 4.2, 7.0]  # and the chosen
    data = load_data(tmp_path)
    assert data["click"] == {"figures": ["surface", "gradient"], "x": "start_w", "y": "start_b"}
    assert len(data["points"]) == 49
    # the loss surface, the same for every start, is stored once
    surfaces = [p["figures"][0]["figure"]["data"][0] for p in data["points"].values()]
    assert all(s == surfaces[0] for s in surfaces)
    assert (tmp_path / "data.js").read_text().count('"colorscale":"Cividis"') == 1
    page = (tmp_path / "index.html").read_text()
    note = " ".join(re.search(r'id="click-note">(.*?)</p>', page, re.S).group(1).split())
    assert "nearest of the 49 precomputed starts" in note
    assert "Start w one of 1, 2.8, 4.6, 5, 6.4, 8.2, 10" in note


def test_given_starts_are_the_cliffs_starts(tmp_path):
    done = export("cliff", SMALL_CLIFF, tmp_path, vary="start_w=2:8,start_b=0")
    assert done.grid == {"start_w": [2.0, 5.0, 8.0], "start_b": [-3.0, 0.0]}
