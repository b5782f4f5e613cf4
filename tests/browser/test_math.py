"""Math as a reader sees it: every page with equations has them typeset by the vendored KaTeX
(HTML plus MathML), with no raw TeX, dollar or backtick left in its text, no CSP violation, no
console error, and no display equation wider than a phone's screen; math added after load is
typeset too; without scripts the TeX source is the text."""

import pytest

from .conftest import wait_until

pytestmark = pytest.mark.browser

MATH_PAGES = [
    "/",
    "/explore",
    "/explore?cell=lstm",
    "/explore?cell=gru",
    "/explore?truncation=20&keep_prob=0.5",
    "/compare",
    "/cliff",
    "/eigen",
    "/embed/explore?controls=full",
    "/embed/eigen?controls=full",
]

# (all .tex elements, those holding KaTeX's output, .katex, .katex-mathml math)
COUNTS = """(() => {
  const tex = [...document.querySelectorAll('.tex')];
  const done = tex.filter((e) => ["katex", "katex-display"]
    .some((c) => e.firstElementChild?.classList.contains(c)));
  return [tex.length, done.length, document.querySelectorAll('.katex').length,
          document.querySelectorAll('.katex-mathml math').length];
})()"""


def open_page(p, path):
    """A view waits for its first draw; the home page, which has no figures, for its load."""
    if path == "/":
        p.page.goto(p.base + path)
        return p.page
    return p.open(path)


def typeset(page):
    tex, done, _, _ = page.evaluate(COUNTS)
    return tex > 0 and tex == done


@pytest.mark.parametrize("width,height", [(1366, 768), (390, 844)])
@pytest.mark.parametrize("path", MATH_PAGES)
def test_math_is_typeset_with_no_raw_tex_or_backtick_left(make_page, path, width, height):
    p = make_page(width, height)
    page = open_page(p, path)
    wait_until(page, lambda: typeset(page), what=f"every .tex typeset on {path}")
    tex, done, katex, mathml = page.evaluate(COUNTS)
    assert katex >= tex > 0
    assert mathml == katex  # screen readers get MathML for every formula
    text = page.evaluate("document.body.innerText")
    assert "`" not in text
    assert "$" not in text
    # no TeX command visible: KaTeX's output holds no backslash, its TeX source is in data-tex
    assert "\\" not in text, text[max(0, text.find("\\") - 80) : text.find("\\") + 80]
    assert page.evaluate("[...document.querySelectorAll('.katex-error')].length") == 0
    # a display equation never widens the page: one wider than the screen scrolls by itself
    too_wide = page.evaluate(
        "[...document.querySelectorAll('.tex.display')]"
        ".filter((e) => e.getClientRects().length"
        " && e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)"
        ".map((e) => e.dataset.tex)"
    )
    assert too_wide == []
    assert p.csp_violations() == []
    assert p.foreign == []
    assert p.errors == []


LATE = r"\frac{\partial L}{\partial W_{hh}}"


def test_math_added_after_load_is_typeset(make_page):
    """Content that appears later (a caption, a help text) is typeset when it appears."""
    p = make_page()
    page = p.open("/explore")
    wait_until(page, lambda: typeset(page), what="the page's math")
    page.evaluate(
        "(tex) => { const p = document.createElement('p'); p.id = 'late';"
        " p.innerHTML = '<span class=\"tex\"></span>'; p.firstChild.textContent = tex;"
        " document.querySelector('main').append(p); }",
        LATE,
    )
    wait_until(
        page,
        lambda: page.evaluate("!!document.querySelector('#late .tex > .katex')"),
        what="the late equation typeset",
    )
    late = page.locator("#late .tex")
    assert late.get_attribute("data-tex") == LATE
    assert late.locator("annotation").text_content() == LATE
    assert p.errors == [] and p.csp_violations() == []


def test_the_cell_equations_follow_the_cell_control(make_page):
    """Choosing a cell shows that cell's equations, typeset, and hides the others."""
    p = make_page()
    page = p.open("/explore")
    wait_until(page, lambda: typeset(page), what="the page's math")

    def shown():
        return page.evaluate(
            "[...document.querySelectorAll('.equation')].filter((e) => !e.hidden)"
            ".map((e) => [e.dataset.cells, e.querySelectorAll('.katex').length])"
        )

    assert [c for c, _ in shown()] == ["rnn"]
    page.select_option("#cell", "lstm")
    wait_until(page, lambda: [c for c, _ in shown()] == ["lstm"], what="the LSTM's equations")
    ((_, formulas),) = shown()
    assert formulas > 0
    assert p.errors == [] and p.csp_violations() == []


def test_without_scripts_the_tex_source_is_the_text(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server + "/explore")
        bound = page.locator("#bound").inner_text()
        assert "\\lVert W_{hh} \\rVert^{l}" in bound
        assert page.locator(".katex").count() == 0
    finally:
        context.close()
