"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from corrrelax_lib.book.profiles import load_profile
from corrrelax_lib.data.sources import prepare_dataset
from corrrelax_lib.paths import repository_root


@pytest.fixture(scope="session")
def tiny_data_root() -> Path:
    """The `tiny` profile's phantom dataset, generated once where the book build also uses it."""
    profile = load_profile("tiny")
    return prepare_dataset(profile.dataset, profile.data_root, repository_root(), workers=2)
