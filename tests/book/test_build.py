"""End to end: papermill runs every notebook on `tiny` and Jupyter Book builds the HTML."""

from __future__ import annotations

import re

import pytest

from corrrelax_lib.book.build import build_book

pytestmark = pytest.mark.book


@pytest.fixture(scope="module")
def built_html():
    index = build_book("tiny")
    assert index.is_file()
    return index.parent


def page(html_dir, name: str) -> str:
    return (html_dir / "chapters" / f"{name}.html").read_text()


def test_figure_1_and_2_are_rendered_figures_with_images(built_html):
    html = page(built_html, "01_preprocessing")
    for number in (1, 2):
        match = re.search(rf"<figure[^>]*>.*?<img[^>]+src=\"([^\"]+)\".*?Figure {number} \|.*?</figure>", html, re.S)
        assert match, f"Figure {number} missing"
        assert (built_html / "chapters" / match.group(1)).is_file()


def test_table_1_is_an_html_table_with_the_papers_column(built_html):
    html = page(built_html, "02_dataset")
    table = re.search(r"<table[^>]*>.*?Table 1 \|.*?</table>", html, re.S)
    assert table, "Table 1 missing"
    assert "paper (VinDr-Mammo)" in table.group(0) and "14589" in table.group(0)


def test_pages_say_the_data_are_synthetic(built_html):
    for name in ("01_preprocessing", "02_dataset"):
        assert "SYNTHETIC phantom mammograms" in page(built_html, name)


def test_status_page_lists_computed_numbers(built_html):
    html = (built_html / "reproduction_status.html").read_text()
    assert "Table 1" in html and "989" in html
