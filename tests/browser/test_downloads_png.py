"""Figure images for slides: PNG at 2x or 3x of 1200 x 675 and SVG, named
<view>-<figure>-<short config>, with the figure's title and a configuration footnote drawn in
the image; drawn from a copy, so the page's figure is left as it was. No Plotly mode bar."""

from __future__ import annotations

import html
import re
import struct

import pytest

from .conftest import wait_until

WIDTH, HEIGHT = 1200, 675


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the PNG's IHDR chunk, the first after the signature."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def drawn(page, name: str) -> bool:
    return page.evaluate(
        "(n) => { const p = document.getElementById(`plot-${n}`);"
        " return !!(p && p.data && p._fullLayout); }",
        name,
    )


def download(page, tmp_path, name: str, export: str) -> tuple[str, bytes]:
    button = page.locator(f"#figure-{name} button[data-export='{export}']")
    with page.expect_download(timeout=30000) as info:
        button.click()
    d = info.value
    path = tmp_path / d.suggested_filename
    d.save_as(path)
    return d.suggested_filename, path.read_bytes()


def page_state(page, name: str) -> dict:
    return page.evaluate(
        "(n) => { const p = document.getElementById(`plot-${n}`); return {"
        " height: p.layout.height, notes: (p.layout.annotations || []).length,"
        " width: p._fullLayout.width, stages: document.body.children.length }; }",
        name,
    )


@pytest.mark.parametrize(
    ("path", "parts"),
    [
        ("/explore?seq_len=40&forget_bias=3&cell=lstm", {"seq_len40", "forget_bias3", "celllstm"}),
        ("/explore", {"default"}),
    ],
)
def test_png_download_at_the_chosen_scale_and_named_by_the_configuration(
    make_page, tmp_path, path, parts
):
    p = make_page(1366, 768)
    page = p.open(path)
    wait_until(page, lambda: drawn(page, "profile"), 20, "the profile drawn")
    assert page.locator(".modebar").count() == 0  # no Plotly mode bar anywhere
    before = page_state(page, "profile")
    query = page.evaluate("document.getElementById('controls').dataset.query")
    expected = "explore-profile-" + (
        "-".join(k + v for k, v in (pair.split("=") for pair in query.split("&")))
        if query
        else "default"
    )
    assert set(expected.removeprefix("explore-profile-").split("-")) == parts

    name, data = download(page, tmp_path, "profile", "png")  # the default scale, 2x
    assert name == expected + ".png"
    assert re.fullmatch(r"[A-Za-z0-9_.-]+", name)
    assert png_size(data) == (2 * WIDTH, 2 * HEIGHT)

    page.locator("#figure-profile select[data-export-scale]").select_option("3")
    name, data = download(page, tmp_path, "profile", "png")
    assert name == expected + ".png"
    assert png_size(data) == (3 * WIDTH, 3 * HEIGHT)

    # the page's figure is untouched and the off-screen drawing is gone
    assert page_state(page, "profile") == before
    assert p.errors == [] and p.foreign == []


def _svg_text(svg: str) -> str:
    """The text the SVG draws, tspans joined, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", svg))


def test_svg_download_holds_the_title_and_the_footnote(make_page, tmp_path):
    p = make_page(1366, 768)
    page = p.open("/eigen?seq_len=30")
    wait_until(page, lambda: drawn(page, "regions"), 20, "the regions figure drawn")
    title = page.evaluate("document.getElementById('plot-power').layout.title.text")

    # the configuration's label, as the page keeps it on the form
    page.evaluate("document.getElementById('controls').dataset.label = 'W 3 x 3, T = 30 & more'")
    name, data = download(page, tmp_path, "power", "svg")
    assert name == "eigen-power-seq_len30.svg"
    svg = data.decode("utf-8")
    assert svg.lstrip().startswith("<svg") and "</svg>" in svg
    text = _svg_text(svg)
    # the title as drawn: its pieces between the <sub>/<sup> tags, in order
    pieces = [html.unescape(s) for s in re.split(r"<[^>]+>", title) if s.strip()]
    assert len(pieces) > 1
    at = 0
    for piece in pieces:
        at = text.index(piece, at)
    assert "W 3 x 3, T = 30 & more" in text

    # without a label: the view and its query
    page.evaluate("delete document.getElementById('controls').dataset.label")
    _, data = download(page, tmp_path, "power", "svg")
    assert "eigen: seq_len=30" in _svg_text(data.decode("utf-8"))
    assert p.errors == [] and p.foreign == []
