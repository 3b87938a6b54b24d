"""The paper as printed and as run: CLAHE at the data's depth vs 8 bits, and the loss settings on a toy problem."""

from __future__ import annotations

from dataclasses import replace

import pytest

from corrrelax_lib.config import ClassifierConfig, ImagePreprocessing
from corrrelax_lib.pipeline.as_run_training import (
    LOSS_FIELDS,
    clahe_depth_effect,
    loss_settings_effect,
    loss_variants,
    voi_effect,
)
from corrrelax_lib.testing.dicom import breast_like_image, write_test_dicom

#: The authors' code's loss and optimiser (their training notebook), for these tests.
AUTHORS = replace(ClassifierConfig(), focal_alpha=0.8, focal_gamma=2.0, focal_reduction="sum", learning_rate=1e-4,
                  weight_decay=1e-5, epochs=100, batch_size=32)


def test_clahe_depth_effect_compares_the_two_depths_over_the_breast(tmp_path):
    path = write_test_dicom(tmp_path / "scan.dicom", breast_like_image(512, 384), bits_stored=12)
    effect = clahe_depth_effect(path)
    assert list(effect["clip_limit"]) == [1.0, 2.0] and (effect["data_bits"] == 10).all()
    # Our 8-bit CLAHE is OpenCV's to within a grey level; the data's depth gives another image.
    assert effect["8-bit vs original"].to_numpy() == pytest.approx(effect["OpenCV 8-bit vs original"], abs=1 / 255)
    assert (effect["data vs 8-bit"] > 1e-3).all()
    other = clahe_depth_effect(path, ImagePreprocessing(clahe_clip_limits=(3.0,)))
    assert list(other["clip_limit"]) == [3.0]


def test_loss_variants_change_one_difference_at_a_time():
    paper = ClassifierConfig()
    variants = loss_variants(paper, AUTHORS)
    assert list(variants)[:2] == ["paper", "paper, Eq. 1 as printed"] and variants["authors"] == AUTHORS
    assert variants["paper + focal_reduction = sum"] == replace(paper, focal_reduction="sum")
    assert variants["paper + learning_rate = 0.0001"] == replace(paper, learning_rate=1e-4)
    singles = [name for name in variants if name.startswith("paper + ")]
    assert len(singles) == 6  # α, γ, reduction, rate, decay, epochs (both use the α_t form; batch is not a loss field)
    for name in singles:
        assert sum(getattr(variants[name], field) != getattr(paper, field) for field in LOSS_FIELDS) == 1


def test_loss_settings_effect_trains_each_setting_from_the_same_start():
    paper = replace(ClassifierConfig(), epochs=20)
    settings = {"paper": paper, "printed": replace(paper, focal_alpha_form="printed"),
                "sum": replace(paper, focal_reduction="sum"), "alpha 0.5": replace(paper, focal_alpha=0.5)}
    table = loss_settings_effect(settings, steps_per_epoch=2)
    assert list(table.index) == list(settings) and set(LOSS_FIELDS) <= set(table.columns)
    assert table.loc["paper", "max |Δ weight|"] == 0.0
    # Adam normalises the gradient's scale: summing the 256 terms instead of averaging them changes nothing.
    assert table.loc["sum", "max |Δ weight|"] < 1e-5
    assert table.loc["printed", "max |Δ weight|"] > 0.01
    # A smaller α (α_t) weighs positives less: lower predictions on them.
    assert table.loc["alpha 0.5", "mean p (positives)"] < table.loc["paper", "mean p (positives)"]
    assert table[["recall", "false positive rate"]].stack().between(0.0, 1.0).all()


def test_voi_effect_changes_only_images_that_carry_a_window(tmp_path):
    stored = breast_like_image(64, 48, levels=4095)
    windowed = write_test_dicom(tmp_path / "windowed.dcm", stored, bits_stored=12, window=(1024.0, 1024.0))
    plain = write_test_dicom(tmp_path / "plain.dcm", stored, bits_stored=12)
    table = voi_effect([windowed, plain]).set_index("file")
    assert table.loc["windowed.dcm", "voi"] == "window" and table.loc["windowed.dcm", "mean |Δ|"] > 0.05
    assert table.loc["plain.dcm", "voi"] == "none" and table.loc["plain.dcm", "mean |Δ|"] == 0.0
    assert table.loc["plain.dcm", "changed"] == 0.0 < table.loc["windowed.dcm", "changed"]
