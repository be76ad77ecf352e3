"""MkDocs hook: the pages' LaTeX formulas as MathML, at build time.

`pymdownx.arithmatex` (generic mode) marks `$...$` and `$$...$$` in the
Markdown and in the docstrings as `<span class="arithmatex">\\(...\\)</span>`
and `<div class="arithmatex">\\[...\\]</div>`; this hook replaces each by the
MathML that `latex2mathml` makes of it, which browsers render natively.
The site needs no MathJax or KaTeX script and no web fonts: it works offline.
"""

import html
import re

from latex2mathml.converter import convert

_MATH = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">(?:\\\((?P<inline>.*?)\\\)|\\\[(?P<display>.*?)\\\])</(?P=tag)>',
    re.DOTALL,
)


def _mathml(match):
    display = match.group("display") is not None
    latex = html.unescape(match.group("display") if display else match.group("inline"))
    mathml = convert(latex.strip(), display="block" if display else "inline")
    return f'<div class="math">{mathml}</div>' if display else mathml


def on_page_content(html_text, **kwargs):
    return _MATH.sub(_mathml, html_text)
