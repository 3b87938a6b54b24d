"""Notebook sources: jupytext text, one `parameters` cell, every chapter in the table of contents."""

from __future__ import annotations

import subprocess

import jupytext
import pytest
import yaml

from corrrelax_lib.book import execute
from corrrelax_lib.book.build import notebook_sources
from corrrelax_lib.book.execute import declared_parameters, notebook_cache_key
from corrrelax_lib.paths import repository_root

ROOT = repository_root()
SOURCES = notebook_sources(ROOT)


def test_there_are_chapters():
    assert [p.stem for p in SOURCES][:2] == ["01_preprocessing", "02_dataset"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_the_parameters_cell_holds_the_profile_and_overrides_only(source):
    """No copied defaults that could drift from the profile: the chapter opens the study of ``profile``."""
    notebook = jupytext.read(source)
    assert declared_parameters(notebook) == {"profile", "overrides"}
    [cell] = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    values: dict = {}
    exec(cell.source, {}, values)  # the cell is two assignments of literals
    assert values == {"profile": "tiny", "overrides": {}}
    assert "Study.open(profile, overrides)" in source.read_text()


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


def test_cache_key_changes_with_the_manifests_the_profiles_and_the_package_versions(tmp_path, monkeypatch):
    library, manifests, profiles = tmp_path / "lib", tmp_path / "data_manifests", tmp_path / "book" / "profiles"
    for folder in (library, manifests, profiles):
        folder.mkdir(parents=True)
    (manifests / "vindr-mammo.yml").write_text("paper_table1: {}\n")
    (profiles / "as-run.yml").write_text("extends: tiny\n")
    source = SOURCES[0]
    key = notebook_cache_key(source, {"seed": 0}, library)
    (manifests / "vindr-mammo.yml").write_text("paper_table1: {Mass: 1}\n")
    edited = notebook_cache_key(source, {"seed": 0}, library)
    assert edited != key
    (profiles / "as-run.yml").write_text("extends: tiny\ndata: {test_images: 8}\n")  # another profile than the study's
    profile_edited = notebook_cache_key(source, {"seed": 0}, library)
    assert profile_edited != edited
    monkeypatch.setattr(execute, "locked_requirements", lambda: ["torch==0.0.1"])
    assert notebook_cache_key(source, {"seed": 0}, library) != profile_edited
