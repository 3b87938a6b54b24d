"""Placeholders such as ``<finding>`` show literally: in the chapters' markdown and in the widgets' HTML strings
they are in backticks or escaped (``&lt;finding&gt;``); left bare, the book, JupyterLab and Voilà take them for
an HTML tag and show nothing."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import jupytext
import pytest

from corrrelax_lib.book.build import notebook_sources
from corrrelax_lib.paths import repository_root

ROOT = repository_root()
WIDGET_MODULES = sorted((ROOT / "corrrelax_lib" / "widgets").glob("*.py"))

# The HTML elements that the chapters and widgets may write as tags; any other <word> is a placeholder.
HTML_ELEMENTS = frozenset({
    "a", "abbr", "b", "br", "code", "del", "details", "div", "em", "figcaption", "figure", "hr", "i", "img", "kbd",
    "li", "mark", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "summary", "sup", "table", "tbody", "td",
    "th", "thead", "tr", "u", "ul",
})
CODE = re.compile(r"(`+).+?\1", re.DOTALL)  # code spans and fenced blocks, which show their text as it is
TAG = re.compile(r"</?([A-Za-z][\w-]*)(?=[\s/>])[^<>]*>")  # not autolinks such as <https://…>


def placeholders(text: str) -> list[str]:
    """The ``<word …>`` tags of markdown or HTML ``text``, outside code, whose word is no HTML element."""
    return [match.group(0) for match in TAG.finditer(CODE.sub("", text))
            if match.group(1).lower() not in HTML_ELEMENTS]


def chapter_markdown(source: Path) -> list[str]:
    """A chapter's markdown: its markdown cells, figure captions and the string literals passed to ``Markdown``."""
    texts = []
    for cell in jupytext.read(source).cells:
        if cell.cell_type == "markdown":
            texts.append(cell.source)
            continue
        texts.append(cell.metadata.get("mystnb", {}).get("figure", {}).get("caption", ""))
        if cell.cell_type == "code" and not cell.source.startswith(("%", "!")):
            calls = [node for node in ast.walk(ast.parse(cell.source)) if isinstance(node, ast.Call)
                     and isinstance(node.func, ast.Name) and node.func.id == "Markdown"]
            texts += [node.value for call in calls for node in ast.walk(call)
                      if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    return texts


def string_literals(module: Path) -> list[str]:
    """The string literals of a module (f-strings' literal parts included), docstrings left out."""
    tree = ast.parse(module.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_placeholders_finds_bare_tags_only():
    assert placeholders('labelled "<finding> (candidate)" and <x y="1">') == ["<finding>", '<x y="1">']
    assert placeholders("labelled `<finding> (candidate)`, ``a <b> c``, &lt;finding&gt;") == []
    assert placeholders("```\ncorrrelax explain --profile <profile>\n```") == []
    assert placeholders("<b>Window</b> <i>none</i><br/> <https://example.org> 1 < 2 > 0") == []


@pytest.mark.parametrize("source", notebook_sources(ROOT), ids=lambda path: path.stem)
def test_chapter_markdown_shows_its_placeholders(source):
    found = [tag for text in chapter_markdown(source) for tag in placeholders(text)]
    assert not found, (f"{source.name}: {found} would render as HTML tags and vanish; put them in backticks or "
                       "write &lt; and &gt; (or add a real HTML element to HTML_ELEMENTS)")


@pytest.mark.parametrize("module", WIDGET_MODULES, ids=lambda path: path.stem)
def test_widget_html_shows_its_placeholders(module):
    found = [tag for text in string_literals(module) for tag in placeholders(text)]
    assert not found, f"{module.name}: {found} would render as HTML tags and vanish; escape them (html.escape)"
