"""Per-figure CSV / JSON / data table: the plotted numbers, checked against the JSON API."""

import csv
import io
import re

import pytest

from bpttlab.server.tables import MAX_ROWS

from .conftest import strict_json


def download_csv(client, path, params):
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    return rows[0], [[float(v) if v else None for v in row] for row in rows[1:]]


def download_json(client, path, params):
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    body = strict_json(r.text)
    return {c["name"]: c["values"] for c in body["columns"]}, body


PARAMS = {"seq_len": "150", "scale": "1.3", "clip": "norm"}


def test_explore_profile_csv_and_json_hold_the_apis_numbers(client):
    api = client.get("/api/v1/gradient-flow", params=PARAMS).json()
    header, rows = download_csv(client, "/api/v1/gradient-flow/figures/profile.csv", PARAMS)
    assert header[1:] == ["spectral norm", "Frobenius norm", "Pascanu bound"]
    columns = list(zip(*rows, strict=True))
    assert list(columns[0]) == api["distance"]
    assert list(columns[1]) == api["log10_norm"]["spectral"]
    assert list(columns[2]) == api["log10_norm"]["frobenius"]
    assert list(columns[3]) == api["log10_bound"]
    named, body = download_json(client, "/api/v1/gradient-flow/figures/profile.json", PARAMS)
    assert body["query"] == "seq_len=150&scale=1.3&clip=norm"
    assert named["spectral norm"] == api["log10_norm"]["spectral"]
    assert named[header[0]] == api["distance"]


def test_explore_contributions_keep_null_for_exact_zeros(client):
    params = {"nonlinearity": "relu", "scale": "0", "seq_len": "5"}
    api = client.get("/api/v1/gradient-flow", params=params).json()
    named, _ = download_json(client, "/api/v1/gradient-flow/figures/contributions.json", params)
    assert named["unclipped"] == api["gradient"]["log10_contribution"]
    assert None in named["unclipped"]


def test_compare_sensitivity_holds_each_cells_relative_profile(client):
    params = {"seq_len": "60", "forget_bias": "2"}
    api = client.get("/api/v1/compare", params=params).json()
    named, _ = download_json(client, "/api/v1/compare/figures/sensitivity.json", params)
    for cell, label in (("rnn", "RNN"), ("lstm", "LSTM"), ("gru", "GRU")):
        assert named[label] == api["cells"][cell]["log10_relative"]
    header, rows = download_csv(client, "/api/v1/compare/figures/sensitivity.csv", params)
    assert [r[0] for r in rows] == api["distance"]


def test_cliff_loss_holds_the_three_descents(client):
    params = {"steps": "25", "start_w": "6", "start_b": "-3"}
    api = client.get("/api/v1/cliff", params=params).json()
    named, _ = download_json(client, "/api/v1/cliff/figures/loss.json", params)
    assert named["unclipped"] == api["descent"]["none"]["loss"]
    assert named["clipped by norm"] == api["descent"]["norm"]["loss"]
    assert named["clipped by value"] == api["descent"]["value"]["loss"]


def test_cliff_surface_csv_is_the_grid_cell_by_cell(client):
    params = {"resolution": "7"}
    api = client.get("/api/v1/cliff", params=params).json()
    r = client.get("/api/v1/cliff/figures/surface.csv", params=params).text
    header, *rows = list(csv.reader(io.StringIO(r)))
    assert header == ["trace", "w", "b", "z"]
    cells = [row for row in rows if row[0] == "loss"]
    assert len(cells) == 49
    for _, w, b, z in cells:
        i, j = api["w"].index(float(w)), api["b"].index(float(b))
        assert float(z) == pytest.approx(api["loss"][j][i], abs=5e-7)  # the figure rounds to 6


def test_eigen_power_holds_the_norms_of_w_to_the_l(client):
    params = {"seq_len": "30", "non_normal": "true", "radius1": "0.5"}
    api = client.get("/api/v1/eigen", params=params).json()
    named, _ = download_json(client, "/api/v1/eigen/figures/power.json", params)
    assert named["\u2016W^l\u2016"] == api["log10_power_norm"]
    assert named["distance l"] == api["distance"]


def test_unknown_figure_and_bad_query_are_refused_in_the_error_shape(client):
    r = client.get("/api/v1/gradient-flow/figures/nope.csv")
    assert r.status_code == 404
    item = strict_json(r.text)["errors"][0]
    assert item["field"] == "figure" and "profile" in item["limit"]["allowed"]
    r = client.get("/api/v1/gradient-flow/figures/profile.xlsx")
    assert r.status_code == 404 and strict_json(r.text)["errors"][0]["field"] == "format"
    r = client.get("/api/v1/gradient-flow/figures/profile.csv", params={"seq_len": "5000"})
    assert r.status_code == 422
    item = strict_json(r.text)["errors"][0]
    assert item["field"] == "seq_len" and item["limit"] == {"le": 1000}


def test_the_data_table_shows_every_kth_row_of_a_long_series(client):
    r = client.get("/api/v1/gradient-flow/figures/profile.html", params={"seq_len": "1000"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    rows = re.findall(r"<tr><th scope=\"row\">([^<]*)</th>", r.text)
    assert len(rows) <= MAX_ROWS + 1
    assert rows[0] == "0" and rows[-1] == "1000" and rows[1] == "11"
    assert "Every 11th of 1001 rows shown" in r.text and "The CSV has every number" in r.text
    short = client.get("/api/v1/gradient-flow/figures/profile.html", params={"seq_len": "20"})
    assert len(re.findall(r"<tr><th scope=\"row\">", short.text)) == 21
    assert "CSV has every number" not in short.text


def test_the_data_table_summarises_heatmaps(client):
    r = client.get("/api/v1/cliff/figures/gradient.html")
    assert "Heatmaps" in r.text and "121 x 121" in r.text
    # the heatmap's cells are not listed; the start point (a scatter trace) is
    assert len(re.findall(r"<tr><th scope=\"row\">", r.text)) == 2


def test_pages_render_each_figures_table_and_download_links(page_client):
    r = page_client.get("/explore", params={"seq_len": "8"})
    for f in r.context["figures"]:
        assert f'href="/api/v1/gradient-flow/figures/{f["name"]}.csv?seq_len=8"' in r.text
        assert f'href="/api/v1/gradient-flow/figures/{f["name"]}.json?seq_len=8"' in r.text
    assert r.text.count('<details class="data-table" data-query="seq_len=8">') == len(
        r.context["figures"]
    )
