"""The offline export opened from file:// in Chromium, the network refused: each control that
moves redraws every figure with the precomputed values, which are the API's /figures for that
point; on /cliff a click on the surface or the gradient map moves the start."""

import pytest
from fastapi.testclient import TestClient

from bpttlab.server.app import create_app
from bpttlab.server.catalog import VIEWS
from bpttlab.server.static_export import export

from .conftest import Page, wait_until

# what a figure shows: per visible figure its title, caption and traces; per number its value
DRAWN = """() => ({
  point: document.body.dataset.point,
  figures: Array.from(document.querySelectorAll('#figures figure.fig'))
    .filter((f) => !f.hidden)
    .map((f) => {
      const gd = f.querySelector('.plot');
      const title = gd.layout && gd.layout.title ? gd.layout.title.text : null;
      return {
        name: f.id.replace('figure-', ''),
        title: title === undefined ? null : title,
        summary: f.querySelector('figcaption').textContent,
        traces: (gd.data || []).map((t) => ({
          name: t.name === undefined ? null : t.name,
          x: t.x === undefined ? null : t.x,
          y: t.y === undefined ? null : t.y,
          z: t.z === undefined ? null : t.z,
        })),
      };
    }),
  numbers: Array.from(document.querySelectorAll('#numbers > div'))
    .filter((row) => !row.hidden)
    .map((row) => [row.id.replace('number-row-', ''), row.querySelector('dd').textContent]),
  modebars: document.querySelectorAll('.modebar').length,
})"""


@pytest.fixture(scope="module")
def api():
    with TestClient(create_app()) as c:
        yield c


def expected(api, view: str, fixed: dict, moving: dict) -> dict:
    """What the page must draw at the point ``moving``: the API's /figures, in-process."""
    body = api.get(f"{VIEWS[view].api}/figures", params={**fixed, **moving}).json()
    return {
        "point": "&".join(f"{k}={v}" for k, v in moving.items()),
        "figures": [
            {
                "name": f["name"],
                "title": f["figure"]["layout"].get("title", {}).get("text"),
                "summary": f["summary"],
                "traces": [
                    {k: t.get(k) for k in ("name", "x", "y", "z")} for t in f["figure"]["data"]
                ],
            }
            for f in body["figures"]
        ],
        "numbers": [[n["name"], n["value"]] for n in body.get("numbers") or ()],
        "modebars": 0,
    }


@pytest.fixture
def offline(browser):
    contexts = []

    def open_(folder, width=1280, height=900) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        p = Page(context.new_page(), "")  # refuses and lists any request off this machine
        p.page.goto((folder / "index.html").as_uri())
        p.page.wait_for_selector("body[data-ready=true]")
        return p

    yield open_
    for c in contexts:
        c.close()


def shows(page, want: dict, what: str) -> None:
    """Wait, with a deadline, until the page draws exactly ``want``; fail with the diff."""
    seen = {}

    def same() -> bool:
        seen["now"] = page.evaluate(DRAWN)
        return seen["now"] == want

    try:
        wait_until(page, same, timeout=20, what=what)
    except AssertionError:
        assert seen["now"] == want, what
        raise


def test_each_moving_control_redraws_with_the_apis_figures(tmp_path, offline, api):
    fixed = {"cell": "lstm", "hidden_size": "8"}
    export(
        "explore",
        "cell=lstm&hidden_size=8&seq_len=30",
        tmp_path,
        vary="forget_bias=0:3,seq_len=20:30",
    )
    p = offline(tmp_path)
    page = p.page
    text = " ".join(page.locator("#controls").inner_text().split())
    assert "These controls move" in text and "Fixed at these values" in text
    assert "Cell (cell) = lstm" in text and "Hidden size (hidden_size) = 8" in text
    shows(page, expected(api, "explore", fixed, {"forget_bias": "0", "seq_len": "30"}), "first")
    page.get_by_label("Forget-gate bias").select_option("3")
    shows(page, expected(api, "explore", fixed, {"forget_bias": "3", "seq_len": "30"}), "bias")
    page.get_by_label("Sequence length").select_option("20")
    shows(page, expected(api, "explore", fixed, {"forget_bias": "3", "seq_len": "20"}), "T")
    assert p.errors == [] and p.foreign == []


def test_figures_that_come_and_go_with_a_moving_select_are_shown_and_hidden(tmp_path, offline, api):
    fixed = {"hidden_size": "4", "seq_len": "12"}
    export("explore", "hidden_size=4&seq_len=12", tmp_path, vary="cell")
    p = offline(tmp_path)
    page = p.page
    shows(page, expected(api, "explore", fixed, {"cell": "rnn"}), "rnn")
    page.get_by_label("Cell").select_option("lstm")  # the LSTM adds its gates' figure
    shows(page, expected(api, "explore", fixed, {"cell": "lstm"}), "lstm")
    assert page.locator("#figure-gates").is_visible()
    page.get_by_label("Cell").select_option("rnn")
    shows(page, expected(api, "explore", fixed, {"cell": "rnn"}), "rnn again")
    assert page.locator("#figure-gates").is_hidden()
    assert p.errors == [] and p.foreign == []


def click_at(page, figure: str, w: float, b: float) -> None:
    """Click the map of ``figure`` at (w, b); its axes span the query's w and b ranges."""
    box = page.locator(f"#plot-{figure} .nsewdrag").first.bounding_box()
    x = box["x"] + box["width"] * (w - 1) / (10 - 1)
    y = box["y"] + box["height"] * (7 - b) / (7 - -7)
    page.mouse.click(x, y)


def test_a_click_on_the_offline_cliff_moves_the_start_to_the_nearest_precomputed(
    tmp_path, offline, api
):
    fixed = {"resolution": "11", "steps": "20"}
    export("cliff", "resolution=11&steps=20", tmp_path, vary="clip_threshold=0.5:1")
    p = offline(tmp_path)
    page = p.page
    note = page.locator("#click-note")
    assert note.is_visible() and "Click on the loss surface" in note.inner_text()
    start = {"clip_threshold": "1", "start_w": "5", "start_b": "-3"}
    shows(page, expected(api, "cliff", fixed, start), "first")
    # the starts are 1, 2.8, 4.6, 5, 6.4, 8.2, 10 in w and -7, -4.2, -3, -1.4, 1.4, 4.2, 7 in b
    click_at(page, "surface", 7.9, 1.9)
    moved = {"clip_threshold": "1", "start_w": "8.2", "start_b": "1.4"}
    shows(page, expected(api, "cliff", fixed, moved), "clicked the surface")
    assert page.get_by_label("Start w").input_value() == "8.2"
    click_at(page, "gradient", 2.2, -6.2)
    moved = {"clip_threshold": "1", "start_w": "2.8", "start_b": "-7"}
    shows(page, expected(api, "cliff", fixed, moved), "clicked the gradient map")
    page.get_by_label("Clipping threshold").select_option("0.5")
    moved = {"clip_threshold": "0.5", "start_w": "2.8", "start_b": "-7"}
    shows(page, expected(api, "cliff", fixed, moved), "threshold")
    assert p.errors == [] and p.foreign == []


def test_a_combination_not_computed_says_why_instead_of_showing_other_figures(
    tmp_path, offline, api
):
    export("eigen", "seq_len=10", tmp_path, vary="matrix=eigenvalues:gaussian,non_normal")
    p = offline(tmp_path)
    page = p.page
    page.get_by_label("Non-normal").select_option("true")
    fixed = {"seq_len": "10"}
    shows(page, expected(api, "eigen", fixed, {"matrix": "eigenvalues", "non_normal": "true"}), "")
    page.get_by_label("Matrix").select_option("gaussian")  # non_normal needs eigenvalues
    missing = page.locator("#missing")
    wait_until(page, missing.is_visible, what="the missing note")
    assert "not computed: non_normal: needs matrix=eigenvalues" in missing.inner_text()
    assert page.locator("#figures").is_hidden() and page.locator("#numbers").is_hidden()
    page.get_by_label("Non-normal").select_option("false")
    shows(page, expected(api, "eigen", fixed, {"matrix": "gaussian", "non_normal": "false"}), "")
    assert missing.is_hidden()
    assert p.errors == [] and p.foreign == []
