"""Accessibility: axe-core finds no serious or critical violation on any page, embed or /docs,
and the keyboard reaches Share from the first control through our own controls only.

axe-core comes from the npm registry, installed by ``make axe`` (a step of ``make test``) into
``.cache/axe/`` at the version the Makefile pins. How it gets into the page: the pages' CSP
allows scripts from our origin only (no inline script, no eval), so ``add_script_tag(content=)``
would be refused. Playwright instead answers a same-origin address that the server does not
have (``AXE_PATH``) with the file, and the page loads it as an ordinary ``<script src>``: the
page's CSP is untouched (no ``bypass_csp``) and every test checks that it recorded no
violation while axe loaded and ran.
"""

import re
from pathlib import Path

import pytest

from bpttlab.server.static_export import export

from .conftest import wait_until

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
AXE_FILE = ROOT / ".cache" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_PATH = "/__axe-core__/axe.min.js"  # answered by the test, never by the server
BLOCKING = ("serious", "critical")
LAPTOP, PHONE = (1366, 768), (390, 844)
VIEWS = ("explore", "compare", "cliff", "eigen", "network", "depth")
# Swagger UI 5.35 logs this as an error for any deep link whose operation id has an
# underscore (all of FastAPI's do) and opens the operation all the same.
SWAGGER_DEEP_LINK_NOTICE = "Deprecated: escaping deep link whitespace with `_`"


def pinned_axe_version() -> str:
    """The version ``make axe`` installs: the Makefile's AXE_VERSION."""
    found = re.search(r"^AXE_VERSION\s*[:?]?=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    assert found, "the Makefile pins no AXE_VERSION"
    return found.group(1)


@pytest.fixture(scope="module")
def axe_source() -> str:
    assert AXE_FILE.is_file(), f"{AXE_FILE} is missing: `make axe` (part of `make test`)"
    return AXE_FILE.read_text(encoding="utf-8")


# axe's results cut down to what a reader needs to find and fix each violation.
RUN_AXE = """async (preload) => {
  const r = await axe.run(document, {resultTypes: ["violations"], preload});
  return {version: axe.version, violations: r.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
  }))};
}"""


def plots_drawn(page) -> bool:
    """Every figure on the page has been drawn by Plotly (its main SVG exists)."""
    return page.evaluate(
        """() => [...document.querySelectorAll(".plot")]
          .every((p) => p.querySelector(".main-svg") !== null)"""
    )


def audit(p, axe_source: str) -> list[dict]:
    """axe-core's violations on the page ``p`` shows, after its figures are drawn."""
    page = p.page
    wait_until(page, lambda: plots_drawn(page), 20, "every figure drawn")
    offline = page.url.startswith("file:")
    if offline:  # the offline export: no server, so no CSP to keep
        page.add_script_tag(content=axe_source)
    else:
        page.route(
            p.base + AXE_PATH,
            lambda route: route.fulfill(body=axe_source, content_type="text/javascript"),
        )
        page.add_script_tag(url=p.base + AXE_PATH)
    # preload: axe fetches the stylesheets (for css-orientation-lock), which file:// refuses
    result = page.evaluate(RUN_AXE, not offline)
    assert result["version"] == pinned_axe_version()
    assert p.csp_violations() == [], "axe must load and run under the page's own CSP"
    assert [e for e in p.errors if not e.startswith(SWAGGER_DEEP_LINK_NOTICE)] == []
    return result["violations"]


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']}")
        for n in v["nodes"][:8]:
            lines.append(f"    {n['target']}")
        if len(v["nodes"]) > 8:
            lines.append(f"    ... and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def assert_no_blocking(path: str, violations: list[dict]) -> None:
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    print(f"\naxe on {path}:\n{describe(violations) or '    no violation'}")
    assert blocking == [], f"axe on {path}: serious or critical violations\n{describe(blocking)}"


PAGES = [
    *(f"/{v}" for v in VIEWS),
    "/explore?cell=lstm",
    "/explore?cell=gru&clip=norm",
    "/compare?cells=rnn,lstm,gru",
    "/explore?seq_len=abc",  # the problems box: an ignored value named in the address
]


def test_axe_finds_no_serious_violation_on_the_home_page(make_page, axe_source):
    p = make_page(*LAPTOP)
    p.page.goto(p.base + "/")
    assert_no_blocking("/", audit(p, axe_source))


@pytest.mark.parametrize("path", PAGES)
def test_axe_finds_no_serious_violation_on_the_pages(make_page, axe_source, path):
    p = make_page(*LAPTOP)
    p.open(path)
    assert_no_blocking(path, audit(p, axe_source))


@pytest.mark.parametrize("view", VIEWS)
def test_axe_finds_no_serious_violation_on_a_phone(make_page, axe_source, view):
    p = make_page(*PHONE)
    p.open(f"/{view}")
    assert_no_blocking(f"/{view} at {PHONE}", audit(p, axe_source))


@pytest.mark.parametrize("controls", ["none", "compact", "full"])
@pytest.mark.parametrize("view", VIEWS)
def test_axe_finds_no_serious_violation_in_the_embeds(make_page, axe_source, view, controls):
    path = f"/embed/{view}?controls={controls}"
    p = make_page(720, 900)
    p.open(path)
    violations = audit(p, axe_source)
    assert_no_blocking(path, violations)
    # moderate, but cheap to keep: an embed names itself to screen readers with an h1
    assert "page-has-heading-one" not in {v["id"] for v in violations}


def test_axe_finds_no_serious_violation_after_the_page_redraws_itself(make_page, axe_source):
    """Figures the page makes after a change (an LSTM's gate heatmaps, from the page's
    <template>) and the controls it shows or hides, as a user gets them."""
    p = make_page(*LAPTOP)
    page = p.open("/explore")
    page.get_by_label("Cell", exact=True).select_option("lstm")
    wait_until(page, lambda: page.locator("#plot-gates .main-svg").count() > 0, 20, "gates")
    assert_no_blocking("/explore, cell changed to lstm", audit(p, axe_source))


def test_axe_finds_no_serious_violation_in_the_open_data_tables_and_share_box(
    make_page, axe_source
):
    """The data tables (the figures' text alternative, rendered by the server's table page)
    and the embed box, opened as a reader would open them."""
    p = make_page(*LAPTOP)
    page = p.open("/explore")
    page.locator("#embed-box > summary").click()
    for summary in page.locator(".data-table > summary").all():
        summary.click()
    wait_until(
        page,
        lambda: page.evaluate(
            """() => [...document.querySelectorAll(".data-table")]
              .every((d) => d.open && d.querySelector("table") !== null)"""
        ),
        10,
        "every data table open with its table",
    )
    assert_no_blocking("/explore with its data tables open", audit(p, axe_source))


def test_axe_finds_no_serious_violation_in_the_offline_export(make_page, axe_source, tmp_path):
    export("explore", "seq_len=50", tmp_path)
    p = make_page(*LAPTOP)
    p.page.goto((tmp_path / "index.html").as_uri())
    p.page.wait_for_selector("body[data-ready=true]")
    assert_no_blocking("bpttlab export explore", audit(p, axe_source))


GRADIENT_FLOW_GET = "#operations-gradient_flow-gradient_flow_api_v1_gradient_flow_get"


def test_axe_finds_no_serious_violation_on_the_api_docs(make_page, axe_source):
    p = make_page(*LAPTOP)
    page = p.open("/docs")
    wait_until(page, lambda: page.locator(".opblock").count() > 0, 20, "Swagger UI's operations")
    assert_no_blocking("/docs", audit(p, axe_source))


def test_axe_finds_no_serious_violation_on_the_api_docs_in_use(make_page, axe_source):
    """/docs as a reader trying the API uses it: an operation opened by its deep link, another
    opened, tried out and executed (its parameters' inputs, the response body)."""
    p = make_page(*LAPTOP)
    page = p.open("/docs#/meta/health_api_v1_health_get")
    wait_until(page, lambda: page.locator(".opblock.is-open").count() == 1, 20, "deep link")
    op = page.locator(GRADIENT_FLOW_GET)
    op.locator(".opblock-summary-control").click()
    wait_until(page, lambda: "gradient_flow_api_v1" in page.evaluate("location.hash"), 10, "hash")
    op.locator(".try-out__btn").click()
    op.locator(".execute").click()
    wait_until(page, lambda: op.locator(".live-responses-table pre").count() > 0, 20, "response")
    assert_no_blocking("/docs, an operation executed", audit(p, axe_source))


# Our own tab stops in DOM order after the first control up to the Share button: every element
# the keyboard can reach (not disabled, not hidden, not in a closed <details>) that is not
# inside a figure's plot (Plotly's markup, not ours). Focuses the first control.
OUR_TAB_STOPS = """() => {
  const share = document.getElementById("share-button");
  const all = [...document.querySelectorAll(
    "a[href], button, input, select, textarea, summary, [tabindex]")];
  const reachable = all.filter((el) => el.tabIndex >= 0 && !el.disabled
    && el.type !== "hidden" && el.checkVisibility({visibilityProperty: true})
    && !el.closest(".plot"));
  const first = reachable.find((el) => el.closest("#controls"));
  first.focus();
  return {
    first: first.id || first.textContent.trim().slice(0, 20) || first.tagName,
    ids: reachable.slice(reachable.indexOf(first) + 1, reachable.indexOf(share) + 1)
      .map((el) => el.id || el.textContent.trim().slice(0, 20) || el.tagName),
  };
}"""
ACTIVE = "() => document.activeElement.id || document.activeElement.tagName"


@pytest.mark.parametrize("view", VIEWS)
def test_the_keyboard_reaches_share_through_our_own_controls_only(make_page, view):
    p = make_page(*LAPTOP)
    page = p.open(f"/{view}")
    wait_until(page, lambda: plots_drawn(page), 20, "every figure drawn")
    ours = page.evaluate(OUR_TAB_STOPS)  # and focuses the first control
    assert page.evaluate(ACTIVE) not in ("BODY", "share-button"), ours["first"]
    presses, visited = 0, []
    while page.evaluate(ACTIVE) != "share-button":
        assert presses < 200, f"Tab never reached Share; visited {visited}"
        page.keyboard.press("Tab")
        presses += 1
        visited.append(page.evaluate(ACTIVE))
    print(f"\n/{view}: {presses} Tab presses to Share, {len(ours['ids'])} tab stops of ours")
    assert presses <= len(ours["ids"]), (
        f"{presses} Tab presses from the first control to Share, but only "
        f"{len(ours['ids'])} tab stops of ours: {ours['ids']}; visited: {visited}"
    )
    assert p.errors == []
