"""The built book, shared by every test that reads it (built once per session), and the browser that opens it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from corrrelax_lib.book.build import build_book


@pytest.fixture(scope="session")
def built_html() -> Path:
    """``book/_build/html`` after the whole `tiny` build: papermill runs every notebook, then Jupyter Book."""
    index = build_book("tiny")
    assert index.is_file()
    return index.parent


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium; without it the test fails, unless ``CORRRELAX_ALLOW_NO_BROWSER=1`` says skip."""
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CORRRELAX_ALLOW_NO_BROWSER") == "1":
            pytest.skip("chromium is not installed and CORRRELAX_ALLOW_NO_BROWSER=1: no browser check of the book")
        pytest.fail("chromium is not installed: `apt-get install chromium` (as .ci/run does), "
                    "or set CORRRELAX_ALLOW_NO_BROWSER=1 to skip the browser check")
    return path
