"""The built book, shared by every test that reads it (built once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corrrelax_lib.book.build import build_book


@pytest.fixture(scope="session")
def built_html() -> Path:
    """``book/_build/html`` after the whole `tiny` build: papermill runs every notebook, then Jupyter Book."""
    index = build_book("tiny")
    assert index.is_file()
    return index.parent
