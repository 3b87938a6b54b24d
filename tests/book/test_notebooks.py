"""Notebook sources: jupytext text, one `parameters` cell, every chapter in the table of contents."""

from __future__ import annotations

import subprocess

import jupytext
import pytest
import yaml

from corrrelax_lib.book.build import notebook_sources
from corrrelax_lib.book.execute import declared_parameters, notebook_cache_key
from corrrelax_lib.book.profiles import load_profile
from corrrelax_lib.paths import repository_root

ROOT = repository_root()
SOURCES = notebook_sources(ROOT)


def test_there_are_chapters():
    assert [p.stem for p in SOURCES][:2] == ["01_preprocessing", "02_dataset"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_one_parameters_cell_whose_names_the_profiles_provide(source):
    declared = declared_parameters(jupytext.read(source))
    provided = set(load_profile("tiny").notebook_parameters())
    assert declared and declared <= provided, declared - provided


def test_every_chapter_is_in_the_table_of_contents():
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text())
    files = {chapter["file"] for part in toc["parts"] for chapter in part["chapters"]}
    assert {f"chapters/{p.stem}" for p in SOURCES} <= files


def test_no_executed_notebooks_are_committed():
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert tracked.stdout == ""


def test_cache_key_changes_with_parameters_and_library(tmp_path):
    library = tmp_path / "lib"
    library.mkdir()
    (library / "a.py").write_text("x = 1\n")
    source = SOURCES[0]
    key = notebook_cache_key(source, {"seed": 0}, library)
    assert key == notebook_cache_key(source, {"seed": 0}, library)
    assert key != notebook_cache_key(source, {"seed": 1}, library)
    (library / "a.py").write_text("x = 2\n")
    assert key != notebook_cache_key(source, {"seed": 0}, library)
