"""A study resolves its folders whatever the working directory, and hands out what the chapters read."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from corrrelax_lib.config import ImagePreprocessing
from corrrelax_lib.data.image_store import default_cache_dir
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.paths import ARTIFACTS_ENV_VAR, artifacts_root
from corrrelax_lib.pipeline import study as study_module
from corrrelax_lib.pipeline.study import FINDINGS, PROGRESS_ENV_VAR, Study
from corrrelax_lib.testing.explain_job import synthetic_images
from corrrelax_lib.testing.models import QuadrantMeans
from corrrelax_lib.training.config import study_training_config


def test_folders_do_not_depend_on_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.delenv(ARTIFACTS_ENV_VAR, raising=False)
    monkeypatch.delenv("CORRRELAX_DATA", raising=False)
    here = Study.open("tiny")
    monkeypatch.chdir(tmp_path)
    there = Study.open("tiny")
    assert here.artifacts_dir == there.artifacts_dir == artifacts_root() / "tiny"
    assert there.artifacts_dir.is_absolute() and there.data_root == there.artifacts_dir / "data" / "phantom-tiny"
    assert there.results_dir == there.artifacts_dir / "results"


def test_real_data_come_from_the_profiles_variable_and_never_leak_into_the_phantoms(monkeypatch, tmp_path):
    monkeypatch.setenv("CORRRELAX_DATA", str(tmp_path))
    assert Study.open("full").data_root == tmp_path
    assert Study.open("tiny").data_root != tmp_path
    monkeypatch.delenv("CORRRELAX_DATA")
    full = Study.open("full")
    assert full.data_root == full.artifacts_dir / "data" / "vindr-mammo"  # prepare_data then says what is missing


def test_progress_follows_the_environment(monkeypatch):
    monkeypatch.setenv(PROGRESS_ENV_VAR, "0")
    assert not Study.open("tiny").progress
    monkeypatch.delenv(PROGRESS_ENV_VAR)
    assert Study.open("tiny").progress
    assert not Study.open("tiny", progress=False).progress


def test_the_image_store_is_the_one_training_reads_and_follows_the_preprocessing_section(monkeypatch, tmp_path):
    monkeypatch.setenv(ARTIFACTS_ENV_VAR, str(tmp_path))
    paper = Study.open("tiny")
    store = paper.image_store()
    assert store.preprocessing == ImagePreprocessing.of(paper.config.preprocessing)
    assert store.cache_dir == default_cache_dir(paper.artifacts_dir, store.preprocessing)
    authors = Study.open("tiny", {"preprocessing.apply_voi_lut": True, "preprocessing.clahe_histogram": "8-bit",
                                  "preprocessing.clahe_background": "zero"})
    assert authors.image_store().cache_dir.name == store.cache_dir.name + "-voi-8bit-bg0"
    # What the classifier is trained on (Study.training_config, without the data's sha256 here).
    assert study_training_config(authors.config, "").preprocessing == authors.image_store().preprocessing


@pytest.fixture
def study(monkeypatch, tmp_path) -> Study:
    """The tiny study with a hand-made classifier and four synthetic test images; artifacts in ``tmp_path``."""
    weight = torch.zeros(4, len(LABELS))
    weight[0, LABELS.index(FINDINGS[0])] = 4.0
    run = SimpleNamespace(model=QuadrantMeans(weight, torch.zeros(len(LABELS))), directory=Path("hand-made"))
    rename = {"a": FINDINGS[0], "b": FINDINGS[1]}
    images = [replace(image, boxes_by_label={rename[label]: boxes for label, boxes in image.boxes_by_label.items()})
              for image in synthetic_images()]
    monkeypatch.setenv(ARTIFACTS_ENV_VAR, str(tmp_path))
    monkeypatch.setattr(Study, "test_images", lambda self: images)
    opened = Study.open("tiny", {"correlax.window_size": 16, "correlax.stride": 8, "correlax.n_masks": 16,
                                 "correlax.mask_chunk": 16, "correlax.min_foreground": 0.0})
    opened._classifier_run = run
    return opened


def test_missing_maps_are_computed_once_and_the_command_is_named(study, capsys):
    first = study.correlax_maps()
    said = capsys.readouterr().out
    assert said.startswith("4 of 4 images have no correlax maps in ") and "computing them here" in said
    assert "`corrrelax explain --profile tiny --maps correlax`" in said
    again = study.correlax_maps()
    assert capsys.readouterr().out == "" and sorted(again) == sorted(first) == [f"img{i}" for i in range(4)]
    assert study.correlax_maps(compute=False).keys() == first.keys()


def test_on_device_shares_the_trained_classifier(study):
    moved = study.on_device("cuda:3")
    assert moved.config.device == "cuda:3" and study.config.device == "cpu"
    assert moved.classifier() is study.classifier()


def test_the_study_hands_its_as_run_options_to_the_explainer_and_the_pointing_game(study):
    from corrrelax_lib.attribution.masks import FreshMasks

    as_run = replace(study, config=replace(study.config, correlax=replace(
        study.config.correlax, mask_sharing="per_window", mask_design="bernoulli", correlation_dtype="float32",
        undefined_correlation="zero", reconstruction="authors"),
        pointing_game=replace(study.config.pointing_game, correlation_above=0.05)))
    as_run._classifier_run = study.classifier()
    explainer = as_run.explainer()
    assert isinstance(explainer.masks, FreshMasks)
    assert (explainer.correlation_dtype, explainer.undefined_correlation, explainer.reconstruction) == (
        "float32", "zero", "authors")
    assert as_run.maps_directory(explainer) != study.maps_directory(study.explainer())
    assert as_run.pointing_game_criteria()[2] == "correlation > 0.05"
    pairs = as_run.pointing_game_pairs()
    assert list(pairs.columns) == ["image_id", "label", *as_run.pointing_game_criteria(), "chance"]
    assert list(study.pointing_game_pairs().columns)[4] == "correlation > 0"


@pytest.mark.parametrize(("limit", "expected"), [(None, 4), (2, 2), (9, 4)])
def test_the_test_images_are_the_first_data_test_images(monkeypatch, tmp_path, limit, expected):
    images = synthetic_images()  # four, in (study_id, image_id) order
    monkeypatch.setenv(ARTIFACTS_ENV_VAR, str(tmp_path))
    monkeypatch.setattr(study_module, "annotated_test_images", lambda samples, store, labels: images)
    opened = Study.open("tiny", {"data.test_images": limit})
    opened.__dict__["samples"] = None  # read by annotated_test_images only, which is replaced
    assert [image.image_id for image in opened.test_images()] == [image.image_id for image in images[:expected]]


def test_the_mask_budget_keeps_squares_and_whole_maps_of_an_image_apart(study):
    from corrrelax_lib.pipeline.mask_budget import method_maps

    def with_region(side: int | None) -> Study:
        changed = replace(study, config=replace(study.config, mask_sensitivity=replace(
            study.config.mask_sensitivity, budget_region=side)))
        changed._classifier_run = study.classifier()
        return changed

    whole_study, square_study = with_region(None), with_region(16)
    explainer, images = study.explainer(checkpoints=()), study.test_images()[:1]
    image_id = images[0].image_id
    whole = method_maps(whole_study, explainer, images)[image_id]
    whole_file = study.maps_directory(explainer) / f"{image_id}.npz"
    written = whole_file.stat().st_mtime_ns
    square = method_maps(square_study, explainer, images)[image_id]
    assert 0 < (square.masks_used > 0).sum() < (whole.masks_used > 0).sum()
    assert (study.maps_directory(explainer) / "region-16" / f"{image_id}.npz").is_file()
    again = method_maps(whole_study, explainer, images)[image_id]  # read, not recomputed over the square's file
    assert whole_file.stat().st_mtime_ns == written
    assert (again.masks_used == whole.masks_used).all()
