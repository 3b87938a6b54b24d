"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from corrrelax_lib.pipeline.study import Study


@pytest.fixture(scope="session")
def tiny_data_root() -> Path:
    """The `tiny` profile's phantom dataset, generated once where the book build also uses it."""
    return Study.open("tiny").prepare_data()
