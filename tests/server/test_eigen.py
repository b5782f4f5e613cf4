"""/eigen and /api/v1/eigen: the expansion against the direct product, transient growth."""

import numpy as np
import plotly.graph_objects as go
import pytest

from .conftest import strict_json

NON_NORMAL = {
    "radius1": 0.5,
    "radius2": 0.5,
    "angle2": 0,
    "radius3": 0.5,
    "angle3": 0,
    "non_normal": "true",
}


def test_expansion_matches_the_direct_product(client):
    body = strict_json(client.get("/api/v1/eigen", params={"seq_len": 60}).text)
    assert body["max_relative_difference"] < 1e-10
    np.testing.assert_allclose(body["log10_expansion"], body["log10_direct"], atol=1e-10)
    # and the direct product is what the returned matrix does to a unit g_0
    w = np.array(body["matrix"])
    log10_w60 = np.log10(np.linalg.norm(np.linalg.matrix_power(w, 60), 2))
    assert body["log10_power_norm"][60] == pytest.approx(log10_w60, rel=1e-9)
    lam = np.abs(np.array(body["eigenvalues"]["real"]) + 1j * np.array(body["eigenvalues"]["imag"]))
    np.testing.assert_allclose(sorted(lam), sorted([1.05, 0.9, 0.9, 0.6, 0.6]), rtol=1e-12)


def test_non_normal_w_grows_before_it_decays(client):
    body = strict_json(client.get("/api/v1/eigen", params=NON_NORMAL).text)
    # a Jordan-like W: computed eigenvalues of a defective matrix move by ~eps^(1/3)
    assert body["spectral_radius"] == pytest.approx(0.5, rel=1e-4)
    power = np.array(body["log10_power_norm"])
    assert power[1] > 0 and power[2] > 0  # ||W^l|| > 1 for small l
    assert power[-1] < 0
    figures = client.get("/api/v1/eigen/figures", params=NON_NORMAL).json()
    [transient] = [n for n in figures["numbers"] if n["name"] == "transient"]
    assert transient["value"].startswith("yes")


def test_huge_and_tiny_powers_stay_finite(client):
    for scale in (3, 0.1):
        body = strict_json(
            client.get(
                "/api/v1/eigen", params={"matrix": "identity", "scale": scale, "seq_len": 1000}
            ).text
        )
        assert body["log10_direct"][1000] == pytest.approx(1000 * np.log10(scale), rel=1e-12)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"non_normal": "true", "matrix": "gaussian"}, "non_normal"),
        ({"radius1": 11}, "radius1"),
        ({"angle2": 4}, "angle2"),
        ({"matrix": "random"}, "matrix"),
        ({"seq_len": 1001}, "seq_len"),
        ({"radii": "1,2"}, "radii"),
    ],
)
def test_bad_input(client, params, field):
    r = client.get("/api/v1/eigen", params=params)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field


@pytest.mark.parametrize("params", [{}, NON_NORMAL, {"matrix": "pytorch", "hidden_size": 40}])
def test_figures_are_valid(client, params):
    body = strict_json(client.get("/api/v1/eigen/figures", params=params).text)
    assert [f["name"] for f in body["figures"]] == [
        "components",
        "power",
        "eigenvalues",
        "derivatives",
        "regions",
    ]
    for f in body["figures"]:
        go.Figure(f["figure"])


def test_eigen_page(page_client):
    r = page_client.get("/eigen", params={"radius1": 0.7})
    assert r.template.name == "eigen.html"
    assert r.context["query"].radius1 == 0.7
    for _, href in r.context["presets"]:
        assert page_client.get(href).status_code == 200
