"""The map-side measurements of the paper as run: peak drift, float32 correlation error, shared vs fresh masks."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from corrrelax_lib.config import CorrelaxConfig, StudyConfig
from corrrelax_lib.pipeline.as_run_maps import (
    RHO_CLASS,
    RHO_DIST,
    DriftGrid,
    correlation_dtype_error,
    mask_sharing_effect,
    peak_drift,
    peak_drift_summary,
)
from corrrelax_lib.testing.models import QuadrantMeans

LABELS = ("a", "b", "c")
CONFIG = StudyConfig(name="test", seed=0, device="cpu", correlax=CorrelaxConfig(
    window_size=16, stride=8, n_masks=48, mask_chunk=16, min_foreground=0.0, batch_size=64))


def _model(scale: float = 1.0) -> QuadrantMeans:
    generator = torch.Generator().manual_seed(0)
    return QuadrantMeans(torch.randn(4, 3, generator=generator) * scale, torch.randn(3, generator=generator) * scale)


def _images() -> list[np.ndarray]:
    return [(np.random.default_rng(seed).random((40, 56, 3)) * 255).astype(np.uint8) for seed in (0, 1)]


def test_the_centred_peak_stays_on_its_window_and_the_authors_drifts_one_way_at_an_off_centre_kernel():
    drift = peak_drift(64, 12, 300, 200)
    centred, authors = (drift.loc[drift["reconstruction"] == name, "drift"] for name in ("centred", "authors"))
    assert (centred.abs() == 0.5).all()
    # 64 / 12: the kernel's largest weight sits at +4 px of a 6-tap kernel; the grown grid is stretched.
    assert (authors > 0).all() and authors.min() >= 1.5 and authors.max() > 6
    assert set(drift["axis"]) == {"y", "x"}
    # One column of windows along y: ceil((300 - 64) / 12) + 1 = 21 rows; one row along x: 13 columns.
    assert (drift.groupby(["reconstruction", "axis"]).size() == pd.Series({("authors", "x"): 13, ("authors", "y"): 21,
                                                                          ("centred", "x"): 13, ("centred", "y"): 21})
            ).all()


def test_a_centred_authors_kernel_drifts_both_ways_by_less_than_half_a_stride():
    authors = peak_drift(64, 8, 300, 200).query("reconstruction == 'authors'")["drift"]
    assert (authors < 0).any() and (authors > 0).any() and authors.abs().max() < 8 / 2


def test_peak_drift_summary_has_one_row_per_grid_and_reconstruction():
    summary = peak_drift_summary([DriftGrid("off centre", 64, 12, 300, 200), DriftGrid("centred", 64, 8, 300, 200)])
    assert list(summary.index) == [("off centre", "centred"), ("off centre", "authors"), ("centred", "centred"),
                                   ("centred", "authors")]
    assert list(summary["kernel"]) == ["5 × 5", "6 × 6", "9 × 9", "9 × 9"]
    assert (summary["min"] <= summary["mean"]).all() and (summary["mean"] <= summary["max"]).all()
    assert summary.loc[("off centre", "authors"), "max / stride"] == pytest.approx(
        summary.loc[("off centre", "authors"), "max"] / 12)


@pytest.mark.parametrize(("scale", "largest"), [(1.0, 1e-5), (0.003, None)])
def test_float32_error_is_small_on_benign_values_and_measurable_near_one(scale, largest):
    error = correlation_dtype_error(_model(scale), CONFIG, LABELS, _images())
    assert list(error.index) == [RHO_DIST, RHO_CLASS]
    assert error.loc[RHO_DIST, "values"] == 2 * 4 * 6 and error.loc[RHO_CLASS, "values"] == 3 * 2 * 4 * 6
    assert (error["max"] >= error["p95"]).all() and (error["p95"] >= 0).all()
    if largest is not None:
        assert (error["max"] < largest).all()
    else:
        assert error.loc[RHO_DIST, "max"] > 0.05 and error.loc[RHO_CLASS, "max"] < 1e-3


def test_float32_error_on_a_seeded_sample_of_windows_is_deterministic():
    first = correlation_dtype_error(_model(0.003), CONFIG, LABELS, _images(), n_windows=5)
    assert first.loc[RHO_DIST, "values"] == 2 * 5
    pd.testing.assert_frame_equal(first, correlation_dtype_error(_model(0.003), CONFIG, LABELS, _images(),
                                                                 n_windows=5))


def test_fresh_masks_move_the_correlation_maps_and_the_measurement_reproduces():
    per_map, summary = mask_sharing_effect(_model(), CONFIG, LABELS, _images())
    assert list(summary.index) == ["fresh per window", "shared, next seed"]
    assert (summary["maps"] == 2 * (1 + len(LABELS))).all()
    assert set(per_map["map"]) == {"distance", "correlation a", "correlation b", "correlation c"}
    assert per_map["pearson"].between(-1, 1).all() and (per_map["pearson"] < 1 - 1e-6).all()
    assert summary["peaks within one stride"].between(0, 1).all()
    again_per_map, again = mask_sharing_effect(_model(), CONFIG, LABELS, _images())
    pd.testing.assert_frame_equal(again, summary)
    pd.testing.assert_frame_equal(again_per_map, per_map)


def test_the_sharing_effect_of_a_study_drawing_sobol_sets_compares_independent_cells_both_ways():
    sobol = dataclasses.replace(CONFIG, correlax=dataclasses.replace(CONFIG.correlax, mask_design="sobol"))
    _, summary = mask_sharing_effect(_model(), sobol, LABELS, _images())  # fresh sets per window cannot be Sobol sets
    _, independent = mask_sharing_effect(_model(), CONFIG, LABELS, _images())
    pd.testing.assert_frame_equal(summary, independent)
