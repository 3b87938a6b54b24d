"""The mask-budget comparison: agreement of maps with a reference in what the paper reports."""

from __future__ import annotations

import numpy as np
import pytest

from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.pipeline.mask_budget import maps_at, outcome_agreement, windows_around_finding
from corrrelax_lib.windows.grid import window_grid
from corrrelax_lib.windows.kernel import iou_kernel

GRID = window_grid(128, 96, 32, 8)  # 13 × 9 windows


def _maps(seed: int = 0, masks: int = 64) -> CorrelaxMaps:
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[:GRID.n_rows, :GRID.n_cols]
    bump = np.exp(-((rows - 4) ** 2 + (cols - 3) ** 2) / 6.0)  # every map peaks at window (4, 3)
    rho_class = 0.5 * bump + 0.01 * rng.standard_normal((len(LABELS), *GRID.shape))
    return CorrelaxMaps(labels=LABELS, grid=GRID, kernel=iou_kernel(32, 8),
                        window_predictions=np.broadcast_to(0.6 * bump, (len(LABELS), *GRID.shape)).copy(),
                        window_rho_class=rho_class, window_rho_dist=0.5 * bump, masks_used=np.full(GRID.shape, masks),
                        rho_dist_at={16: 0.4 * bump}, rho_class_at={16: 0.4 * rho_class})


IMAGE = AnnotatedImage("study", "one", np.zeros((128, 96, 3), np.uint8),
                       {"Mass": np.array([[40.0, 40.0, 60.0, 60.0]]),
                        "Retractions": np.array([[0.0, 100.0, 10.0, 120.0]])})


def _agreement(maps: CorrelaxMaps, reference: CorrelaxMaps) -> dict[str, float]:
    return outcome_agreement({"one": maps}, {"one": reference}, [IMAGE], tolerance=8)


def test_a_method_equal_to_the_reference_agrees_in_everything():
    result = _agreement(_maps(), _maps())
    assert result["passes_fraction"] == 1.0
    assert result["rho_dist_p95"] == 0.0 and result["rho_class_p95"] == 0.0
    assert result["pair_agreement"] == result["max_agreement"] == 1.0
    assert result["map_pearson"] == pytest.approx(1.0)


def test_a_distance_maximum_two_strides_away_is_one_of_eight_maps_and_no_pair():
    moved = _maps()
    rows, cols = np.mgrid[:GRID.n_rows, :GRID.n_cols]
    moved = CorrelaxMaps(**{**moved.__dict__, "window_rho_dist": np.exp(-((rows - 8) ** 2 + (cols - 3) ** 2) / 6.0)})
    result = _agreement(moved, _maps())
    assert result["max_agreement"] == pytest.approx(7 / 8)  # the distance map and seven findings' maps
    assert result["pair_agreement"] == 1.0  # Table 4 reads the prediction and correlation maps only
    assert result["map_pearson"] < 1.0


def test_a_correlation_maximum_that_turns_negative_changes_the_pairs_outcome():
    negative = _maps()
    negative = CorrelaxMaps(**{**negative.__dict__, "window_rho_class": negative.window_rho_class - 1.0})
    result = _agreement(negative, _maps())
    assert result["pair_agreement"] == 0.5  # Mass was hit (positive peak on its box), now missed; Retractions missed
    assert result["max_agreement"] == 1.0  # a shift moves no maximum


def test_maps_at_reads_a_checkpoint_and_counts_its_masks():
    early = maps_at(_maps(masks=64), 16)
    np.testing.assert_array_equal(early.window_rho_dist, _maps().rho_dist_at[16])
    assert (early.masks_used == 16).all() and early.rho_dist_at == {}
    assert _agreement(early, _maps())["passes_fraction"] == 0.25


def test_the_budget_region_is_a_square_around_the_first_finding_moved_inside_the_roi():
    explainer = CorRELAX(MultiLabelClassifier("small_cnn", len(LABELS)).eval(), LABELS, window_size=32, stride=8,
                         n_masks=4)
    centres_y, centres_x = GRID.centres()  # 15.5, 23.5, ... for rows and columns
    chosen = windows_around_finding(IMAGE, explainer, 40)  # Mass (40..60, 40..60): the square 30..70 both ways
    assert chosen.shape == GRID.shape
    rows, cols = np.flatnonzero(chosen.any(axis=1)), np.flatnonzero(chosen.any(axis=0))
    np.testing.assert_array_equal(centres_y[rows], [31.5, 39.5, 47.5, 55.5, 63.5])
    np.testing.assert_array_equal(centres_x[cols], centres_y[rows])
    assert chosen.sum() == len(rows) * len(cols)
    # Retractions first (its box at the top-left corner, 0..10 by 100..120): the square is moved inside the ROI.
    corner = AnnotatedImage("s", "corner", IMAGE.image, {"Retractions": np.array([[0.0, 100.0, 10.0, 120.0]])})
    chosen = windows_around_finding(corner, explainer, 40)
    assert centres_x[chosen.any(axis=0)].min() >= 0 and centres_x[chosen.any(axis=0)].max() <= 40
    assert centres_y[chosen.any(axis=1)].max() <= 128 and centres_y[chosen.any(axis=1)].min() >= 88
    assert windows_around_finding(IMAGE, explainer, 1000).all()  # larger than the ROI: every window
