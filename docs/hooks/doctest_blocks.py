"""MkDocs hook: the docstrings' doctest examples shown as Python sessions.

Keras-style docstrings put their runnable examples (`>>> ...` lines and the
output after them) in the text, not in a fenced block. This Markdown
preprocessor wraps each such run of lines, up to the next blank line, in a
```pycon fence, so that the API reference shows them as code (outside fenced
blocks only). It is registered before mkdocstrings reads the Markdown
configuration, so it applies to the docstrings and the pages alike.
"""

import re

import mkdocs.plugins
from markdown import Extension
from markdown.preprocessors import Preprocessor

_FENCE = re.compile(r"^\s*(```|~~~)")


class _DoctestBlocks(Preprocessor):
    def run(self, lines):
        out, in_fence, in_doctest = [], False, False
        for line in lines:
            if in_doctest and not line.strip():
                out += ["```", line]
                in_doctest = False
                continue
            if not in_doctest and _FENCE.match(line):
                in_fence = not in_fence
            elif not in_fence and not in_doctest and line.lstrip().startswith(">>> "):
                indent = line[: len(line) - len(line.lstrip())]
                out += ["", indent + "```pycon"]
                in_doctest = True
            out.append(line)
        if in_doctest:
            out.append("```")
        return out


class DoctestBlocksExtension(Extension):
    def extendMarkdown(self, md):
        md.preprocessors.register(_DoctestBlocks(md), "doctest_blocks", 40)


@mkdocs.plugins.event_priority(100)
def on_config(config, **kwargs):
    config.markdown_extensions.append(DoctestBlocksExtension())
    return config
