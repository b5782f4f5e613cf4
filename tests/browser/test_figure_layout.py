"""Figures on a phone (390 x 844) and a laptop (1366 x 768), as drawn: no Plotly mode bar,
every title drawn whole inside its figure, and every legend below the plot area: never over
the data, nor beside it squeezing the plot into a strip."""

from __future__ import annotations

import pytest

from .conftest import wait_until

# per figure: its plot area (Plotly's drag rectangles), its legend and its title, in page px
BOXES = """() => [...document.querySelectorAll('.figures figure.fig')].map((f) => {
  const box = (el) => { if (!el) return null; const r = el.getBoundingClientRect();
    return [r.left, r.top, r.right, r.bottom]; };
  const plot = f.querySelector('.plot');
  return {
    name: f.dataset.figure,
    drawn: !!plot._fullLayout,
    plot: box(plot),
    areas: [...f.querySelectorAll('.nsewdrag')].map(box),
    legend: box(f.querySelector('g.legend')),
    title: box(f.querySelector('.gtitle')),
    modebar: f.querySelectorAll('.modebar').length,
  };
})"""

VIEWS = [
    "/explore?truncation=10&keep_prob=0.4&draws=7",
    "/explore?cell=lstm",
    "/compare",
    "/cliff",
    "/eigen",
    "/network?bidirectional=true",
]


def _overlap(a, b) -> bool:
    return a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1


@pytest.mark.parametrize("size", [(390, 844), (1366, 768)])
@pytest.mark.parametrize("path", VIEWS)
def test_titles_fit_and_legends_stay_off_the_data(make_page, path, size):
    p = make_page(*size)
    page = p.open(path)
    wait_until(
        page,
        lambda: all(f["drawn"] and f["title"] for f in page.evaluate(BOXES)),
        30,
        "every figure drawn with its title",
    )
    figures = page.evaluate(BOXES)
    assert len(figures) >= 2
    for f in figures:
        assert f["modebar"] == 0, f["name"]
        left, _, right, _ = f["plot"]
        title = f["title"]
        assert left - 1 <= title[0] and title[2] <= right + 1, (f["name"], title, f["plot"])
        if f["legend"]:
            for area in f["areas"]:
                assert not _overlap(f["legend"], area), (f["name"], f["legend"], area)
                # below the data, not beside it squeezing the plot to a strip on a phone
                assert f["legend"][1] >= area[3] - 1, (f["name"], "legend not below", area)
            assert f["legend"][2] <= right + 1, (f["name"], "legend cut at the right")
    assert p.errors == []
