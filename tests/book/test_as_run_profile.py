"""The `as-run` profile builds the chapters it changes: the classifier (04), the maps (05) and the pointing game (07)
execute under it, after the `tiny` build in which chapter 13 trained and explained the as-run study.

Each chapter runs into a temporary folder (the book's own chapters stay the `tiny` ones) and records its numbers in
the as-run study's results; chapter 07's Table 4 under `as-run` must equal the as-run column of chapter 13.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from corrrelax_lib.book.execute import execute_notebook
from corrrelax_lib.book.results import Number, load_results
from corrrelax_lib.config import config_as_dict
from corrrelax_lib.metrics.pointing_game import TABLE4_CRITERIA
from corrrelax_lib.paths import repository_root
from corrrelax_lib.pipeline.study import Study

CHAPTERS = ("04_classifier", "05_correlax_maps", "07_pointing_game")
ChapterNumbers = dict[tuple[str, str], Number]  # (item, quantity) -> ours


@pytest.fixture(scope="module")
def as_run_results(built_html: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, ChapterNumbers]:
    """Every chapter of :data:`CHAPTERS` executed under `as-run`; the as-run study's results, by chapter."""
    study = Study.open("as-run")
    root = repository_root()
    output_dir = tmp_path_factory.mktemp("as-run-chapters")
    for chapter in CHAPTERS:
        (study.results_dir / f"{chapter}.json").unlink(missing_ok=True)
        execute_notebook(root / "notebooks" / f"{chapter}.py", output_dir / f"{chapter}.ipynb",
                         {"profile": "as-run", "overrides": {}}, settings=config_as_dict(study.config),
                         cwd=root / "notebooks", library_root=root / "corrrelax_lib", force=True)
    return {chapter: {(entry.item, entry.quantity): entry.ours for entry in entries}
            for chapter, entries in load_results(study.results_dir).items()}


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_records_its_numbers_under_the_as_run_profile(as_run_results, chapter):
    entries = as_run_results[chapter]
    numbers = [value for value in entries.values() if isinstance(value, (int, float))]
    assert numbers and all(math.isfinite(value) for value in numbers)


def test_chapter_07_under_as_run_gives_chapter_13s_as_run_table_4(as_run_results):
    as_run_mean = as_run_results["07_pointing_game"][("Table 4", f"Weighted mean: {TABLE4_CRITERIA[0]}")]
    tiny = {(entry.item, entry.quantity): entry.ours
            for entry in load_results(Study.open("tiny").results_dir)["13_paper_as_run"]}
    assert as_run_mean == pytest.approx(tiny[("as run", "Table 4 weighted mean (≥ 25%), as run")], abs=1e-4)
