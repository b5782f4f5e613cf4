"""The view registry: an app's views are the registry it is made with (server/catalog.py's by
default), nothing registers itself on import, and one entry gives a view its page, embed,
data and figures endpoints and downloads. Page tests assert the template and its context."""

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from bpttlab.server import catalog, pages
from bpttlab.server.app import create_app
from bpttlab.server.schemas import EigenQuery
from bpttlab.server.settings import Settings
from bpttlab.server.views import Registry

# the linear case again, under another name and address: a view added by one entry
TWIN = replace(catalog.EIGEN, name="eigen-twin", title="Eigen twin", api="/api/v1/eigen-twin")


@pytest.fixture(scope="module")
def twin_client():
    views = Registry([catalog.EIGEN, TWIN])
    with TestClient(create_app(Settings(gzip=False), views=views)) as c:
        yield c


def test_the_catalog_lists_the_views_in_order():
    assert list(catalog.VIEWS) == ["explore", "compare", "cliff", "eigen", "network", "depth"]
    assert [v.route_name for v in catalog.VIEWS.values()] == [
        "gradient_flow",
        "compare",
        "cliff",
        "eigen",
        "network",
        "depth",
    ]


def test_importing_pages_registers_nothing():
    """Routes come from the registry they are built from, not from a module's import."""
    paths = [r.path for r in pages.router(Registry([])).routes]
    assert paths == ["/", "/docs"]
    paths = [r.path for r in pages.router(Registry([TWIN])).routes]
    assert paths == ["/", "/eigen-twin", "/docs"]


def test_an_added_view_gets_its_page_with_its_template_and_context(twin_client):
    r = twin_client.get("/eigen-twin", params={"seq_len": 12})
    assert r.status_code == 200
    assert r.template.name == "eigen.html"
    assert r.context["view"] is TWIN and r.context["page"] == "eigen-twin"
    assert r.context["action"] == "/eigen-twin" and r.context["api"] == "/api/v1/eigen-twin"
    assert r.context["query"] == EigenQuery(seq_len=12)
    assert [f["name"] for f in r.context["figures"]] == [
        "components",
        "power",
        "eigenvalues",
        "derivatives",
        "regions",
    ]
    assert r.context["presets"] == catalog.EIGEN_PRESETS


def test_an_added_view_gets_its_embed_endpoints_and_downloads(twin_client):
    r = twin_client.get("/embed/eigen-twin", params={"figures": "power", "seq_len": 12})
    assert r.status_code == 200 and r.template.name == "embed.html"
    assert [f["name"] for f in r.context["figures"]] == ["power"]
    data = twin_client.get("/api/v1/eigen-twin", params={"seq_len": 12})
    assert data.status_code == 200
    assert data.content == twin_client.get("/api/v1/eigen", params={"seq_len": 12}).content
    made = twin_client.get("/api/v1/eigen-twin/figures", params={"seq_len": 12}).json()
    assert [f["name"] for f in made["figures"]][:2] == ["components", "power"]
    csv = twin_client.get("/api/v1/eigen-twin/figures/power.csv", params={"seq_len": 12})
    assert csv.status_code == 200 and csv.text.startswith("distance l,")
    oembed = twin_client.get("/oembed", params={"url": "http://testserver/eigen-twin"})
    assert oembed.status_code == 200


def test_an_app_serves_only_the_views_of_its_registry(twin_client):
    for path in ("/explore", "/embed/compare", "/api/v1/cliff", "/api/v1/compare/figures"):
        assert twin_client.get(path).status_code == 404, path
    assert twin_client.get("/oembed", params={"url": "http://testserver/cliff"}).status_code == 404
    schema = twin_client.get("/openapi.json").json()
    assert "/api/v1/eigen-twin/figures" in schema["paths"]
    assert "/api/v1/cliff" not in schema["paths"]
    operation = schema["paths"]["/api/v1/eigen-twin/figures"]["get"]
    assert operation["operationId"] == "eigen_twin_figures_api_v1_eigen_twin_figures_get"
    assert operation["tags"] == ["eigen"]


def test_the_registry_refuses_a_second_view_of_a_name_and_reserved_fields():
    with pytest.raises(ValueError, match="two views are named eigen"):
        Registry([catalog.EIGEN, catalog.EIGEN])
    from pydantic import create_model

    clashing = create_model("Clashing", figures=(str, ""))
    with pytest.raises(ValueError, match="reserved for embeds"):
        Registry([replace(catalog.EIGEN, query=clashing)])


def test_the_app_reads_its_settings_from_its_state():
    """One place: the settings given to create_app (not the environment) decide the oEmbed
    host, and they are app.state.settings."""
    settings = Settings(public_url="https://lab.example.edu", gzip=False)
    with TestClient(create_app(settings)) as c:
        assert c.app.state.settings is settings
        body = c.get("/oembed", params={"url": "https://lab.example.edu/eigen?seq_len=5"}).json()
        assert 'src="https://lab.example.edu/embed/eigen?seq_len=5"' in body["html"]
        page = c.get("/eigen", params={"seq_len": 5})
        assert "https://lab.example.edu/oembed?" in page.text
