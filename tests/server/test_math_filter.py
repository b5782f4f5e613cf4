"""The help-text filter: a field description (markdown for OpenAPI, `code` and $TeX$) becomes
escaped HTML with <code> and <span class="tex">; nothing of the description is ever markup."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from bpttlab.server.catalog import VIEWS
from bpttlab.server.mathtext import help_text
from bpttlab.server.schemas import CliffQuery, CompareQuery, EigenQuery, GradientFlowQuery


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("plain words", "plain words"),
        ("`rnn` (nn.RNNCell)", "<code>rnn</code> (nn.RNNCell)"),
        ("$W_{hh}$ scaled", '<span class="tex">W_{hh}</span> scaled'),
        ("`a` or $b$, `c`", '<code>a</code> or <span class="tex">b</span>, <code>c</code>'),
        # escaping: outside spans, inside code and inside TeX
        ("<script>alert(1)</script> & co", "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"),
        ("`x<y && z`", "<code>x&lt;y &amp;&amp; z</code>"),
        ("$|\\lambda| < 1$", '<span class="tex">|\\lambda| &lt; 1</span>'),
        (
            '$"><img src=x onerror=alert(1)>$',
            '<span class="tex">&#34;&gt;&lt;img src=x onerror=alert(1)&gt;</span>',
        ),
        ("a lone ` or $ stays text", "a lone ` or $ stays text"),
        ("", ""),
        (None, ""),
    ],
)
def test_help_text(text, html):
    assert str(help_text(text)) == html


def test_the_filter_marks_its_result_safe_so_jinja_does_not_escape_it_twice():
    assert hasattr(help_text("`a` & b"), "__html__")


class _Text(HTMLParser):
    """The text of an HTML fragment, outside <code> and tex spans, and inside them."""

    def __init__(self) -> None:
        super().__init__()
        self.outside, self.code, self.tex = "", "", ""
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        cls = dict(attrs).get("class")
        self._in.append("code" if tag == "code" else "tex" if cls == "tex" else "other")

    def handle_endtag(self, tag) -> None:
        self._in.pop()

    def handle_data(self, data) -> None:
        where = self._in[-1] if self._in else "outside"
        if where == "code":
            self.code += data
        elif where == "tex":
            self.tex += data
        else:
            self.outside += data


@pytest.mark.parametrize("model", [GradientFlowQuery, CompareQuery, CliffQuery, EigenQuery])
def test_every_description_leaves_no_backtick_or_dollar_as_text(model):
    """Every field's help text pairs its backticks and dollars: on a page none is visible."""
    for name, field in model.model_fields.items():
        parsed = _Text()
        parsed.feed(str(help_text(field.description)))
        assert "`" not in parsed.outside + parsed.code + parsed.tex, name
        assert "$" not in parsed.outside + parsed.tex, name


@pytest.mark.parametrize("view", list(VIEWS))
def test_the_pages_render_help_texts_through_the_filter(page_client, view):
    """The controls' help texts on each view: the descriptions, through the filter."""
    r = page_client.get(f"/{view}")
    assert r.status_code == 200
    controls = r.context["main_controls"] + r.context["more_controls"]
    assert controls
    for c in controls:
        help_html = f'<p class="help" id="{c.name}-help">{help_text(c.description)}</p>'
        assert help_html in r.text, c.name
    assert "`" not in r.text.split("<main", 1)[1].split("</main>", 1)[0]
