"""Help texts with markup: the pydantic field descriptions are written for OpenAPI, in
markdown with `code` spans and $...$ for math (TeX). On a page they become ``<code>`` and
``<span class="tex">`` (typeset by static/js/math.js with KaTeX; the TeX stays the text when
scripts do not run). Everything else of the text is escaped: a description is never markup.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

# a `code` span, or $math$ (neither spans a backtick or a dollar)
_SPAN = re.compile(r"`([^`]+)`|\$([^$]+)\$")


def help_text(text: object) -> Markup:
    """``text`` as HTML: `code` -> <code>, $tex$ -> <span class="tex">, the rest escaped."""
    text = "" if text is None else str(text)
    parts: list[Markup] = []
    pos = 0
    for m in _SPAN.finditer(text):
        parts.append(escape(text[pos : m.start()]))
        if m.group(1) is not None:
            parts.append(Markup("<code>{}</code>").format(m.group(1)))
        else:
            parts.append(Markup('<span class="tex">{}</span>').format(m.group(2)))
        pos = m.end()
    parts.append(escape(text[pos:]))
    return Markup("").join(parts)
