import warnings

import numpy as np
import pandas as pd
import pytest

from corrrelax_lib.metrics.pointing_game import (
    PER_IMAGE_ROW,
    TABLE4_CRITERIA,
    chance_hit_rate,
    hit,
    pointing_game_table,
    predicted_location,
    support_weighted_mean,
    table4_criteria,
)
from corrrelax_lib.windows import iou_kernel, window_grid
from corrrelax_lib.windows.reconstruction import smooth_window_map, window_map_to_pixels

BOX = [[20, 30, 40, 50]]  # x0, y0, x1, y1


def peak_at(x: int, y: int, shape: tuple[int, int] = (120, 100), value: float = 1.0) -> np.ndarray:
    """A zero heatmap of ``shape`` (H, W) whose single maximum is at column ``x``, row ``y``."""
    heatmap = np.zeros(shape)
    heatmap[y, x] = value
    return heatmap


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (40 + 5, 40, True),  # x1 + tol
        (40 + 6, 40, False),  # x1 + tol + 1
        (20 - 5, 40, True),  # x0 - tol
        (20 - 6, 40, False),  # x0 - tol - 1
        (30, 50 + 5, True),  # y1 + tol
        (30, 50 + 6, False),  # y1 + tol + 1
        (30, 30 - 5, True),  # y0 - tol
        (30, 30 - 6, False),  # y0 - tol - 1
    ],
)
def test_grown_box_bounds_are_inclusive(x, y, expected):
    assert hit(peak_at(x, y), BOX, tolerance=5) is expected


def test_default_tolerance_is_the_paper_stride():
    assert hit(peak_at(40 + 48, 40), BOX)
    assert not hit(peak_at(40 + 49, 40), BOX)


def test_a_hit_in_any_box_counts():
    boxes = [[0, 0, 5, 5], [60, 90, 70, 100]]
    assert hit(peak_at(65, 95), boxes, tolerance=0)
    assert not hit(peak_at(30, 50), boxes, tolerance=0)


def test_ties_go_to_the_first_maximum_in_row_major_order():
    heatmap = np.zeros((120, 100))
    heatmap[10, 90] = heatmap[100, 5] = 1.0  # row 10 comes first, although its column is larger
    assert hit(heatmap, [[85, 5, 95, 15]], tolerance=0)
    assert not hit(heatmap, [[0, 95, 10, 105]], tolerance=0)


def test_threshold_compares_the_maximum_inclusively():
    assert not hit(peak_at(30, 40, value=0.49), BOX, threshold=0.5)
    assert hit(peak_at(30, 40, value=0.5), BOX, threshold=0.5)


def test_require_positive_refuses_a_zero_or_negative_maximum():
    negative = np.full((120, 100), -0.5)
    negative[40, 30] = -0.1
    assert hit(negative, BOX)
    assert not hit(negative, BOX, require_positive=True)
    assert not hit(np.zeros((120, 100)), [[0, 0, 99, 119]], require_positive=True)
    assert hit(peak_at(30, 40, value=0.01), BOX, require_positive=True)


def test_above_compares_the_maximum_strictly_as_the_authors_correlation_criterion():
    # The authors' code counts a correlation map's hit above 0.05, the paper's text above 0.
    assert hit(peak_at(30, 40, value=0.03), BOX, above=0.0)
    assert not hit(peak_at(30, 40, value=0.03), BOX, above=0.05)
    assert not hit(peak_at(30, 40, value=0.05), BOX, above=0.05)
    assert hit(peak_at(30, 40, value=0.0501), BOX, above=0.05)
    assert not hit(peak_at(30, 40, value=0.6), [[80, 100, 90, 110]], tolerance=0, above=0.05)  # off the box
    assert hit(peak_at(30, 40, value=0.01), BOX, above=0.0) == hit(peak_at(30, 40, value=0.01), BOX,
                                                                    require_positive=True)


def test_table4_criteria_name_the_correlation_threshold_the_code_applies():
    assert TABLE4_CRITERIA == table4_criteria() == ("prediction ≥ 25%", "prediction ≥ 50%", "correlation > 0")
    assert table4_criteria(0.05)[2] == "correlation > 0.05"


def test_nan_pixels_are_ignored_and_an_all_nan_map_is_a_miss():
    heatmap = peak_at(30, 40, value=0.3)
    heatmap[100:, :] = np.nan
    assert hit(heatmap, BOX)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not hit(np.full((120, 100), np.nan), [[0, 0, 99, 119]])


def test_heatmap_is_indexed_y_then_x():
    # 30 rows x 200 columns: the peak is at x=150, y=10. Read as [x, y] it would not even fit.
    heatmap = peak_at(150, 10, shape=(30, 200))
    assert hit(heatmap, [[145, 5, 155, 15]], tolerance=0)
    assert not hit(heatmap, [[5, 145, 15, 155]], tolerance=0)


def test_inputs_are_taken_as_arrays():
    assert hit(peak_at(30, 40).tolist(), [(20, 30, 40, 50)], tolerance=0)


@pytest.mark.parametrize(
    ("heatmap", "boxes", "message"),
    [
        (np.zeros(10), BOX, "2-D"),
        (np.zeros((2, 3, 4)), BOX, "2-D"),
        (np.zeros((120, 100)), [], "empty"),
        (np.zeros((120, 100)), np.zeros((0, 4)), "empty"),
        (np.zeros((120, 100)), [[1, 2, 3]], r"\(N, 4\)"),
        (np.zeros((120, 100)), [[0, 0, 5, 5], [10, 0, 9, 5]], r"box 1 \[10.0, 0.0, 9.0, 5.0\]"),
        (np.zeros((120, 100)), [[0, 8, 5, 7]], "box 0"),
    ],
)
def test_bad_inputs_raise(heatmap, boxes, message):
    with pytest.raises(ValueError, match=message):
        hit(heatmap, boxes)


@pytest.mark.parametrize("heatmap", [np.zeros((0, 0)), np.zeros((0, 5)), np.zeros((4, 0))])
def test_an_empty_heatmap_is_refused_not_a_miss(heatmap):
    with pytest.raises(ValueError, match="heatmap is empty"):
        hit(heatmap, BOX)


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_an_infinite_pixel_is_refused_not_taken_as_the_maximum(value):
    heatmap = peak_at(30, 40, value=0.6)
    heatmap[5, 7] = value
    with pytest.raises(ValueError, match=r"heatmap holds 1 infinite value\(s\), the first at index \(5, 7\)"):
        hit(heatmap, BOX)
    with pytest.raises(ValueError, match="infinite"):
        predicted_location(heatmap)


def test_chance_of_an_empty_region_mask_is_refused():
    with pytest.raises(ValueError, match="non-empty 2-D"):
        chance_hit_rate(np.zeros((0, 0), bool), BOX)


def _border_finding_map(axis: int, height: int = 600, width: int = 500) -> tuple[np.ndarray, float]:
    """A paper-scale (256 / 48) map whose strongest window is the first column (``axis=1``) or row (``axis=0``).

    The window values fall off with the distance of the window centre from a finding 60–110 px from that
    border, as a classifier's would; returns the ROI-pixel map and the outermost window centre.
    """
    grid = window_grid(height, width, 256, 48)
    centres_y, centres_x = grid.centres()
    along = centres_x if axis == 1 else centres_y
    across = centres_y if axis == 1 else centres_x
    finding_centre, across_centre = 85.0, float(across[len(across) // 2])
    distance = np.hypot(*np.meshgrid(across - across_centre, along - finding_centre, indexing="ij"))
    window_map = np.exp(-((distance / 80.0) ** 2))
    if axis == 0:
        window_map = window_map.T
    assert window_map.shape == grid.shape
    pixels = window_map_to_pixels(smooth_window_map(window_map, iou_kernel(256, 48)), grid)
    return pixels, float(along[0])


@pytest.mark.parametrize("axis", [1, 0], ids=["left border", "top border"])
def test_a_finding_at_the_border_is_located_at_its_windows_centre_and_hit(axis):
    heatmap, outermost_centre = _border_finding_map(axis)
    y, x = predicted_location(heatmap)
    along = x if axis == 1 else y
    assert abs(along - outermost_centre) <= 0.5, "the window centre, not the border pixel the map is held to"
    assert np.nanargmax(heatmap.max(axis=0) if axis == 1 else heatmap.max(axis=1)) == 0, "a plateau to the border"
    # The finding spans 60-110 px from the border: within the paper's 48-px offset of the window centre.
    box = [60, 250, 110, 350] if axis == 1 else [200, 60, 300, 110]
    assert hit(heatmap, [box], tolerance=48, threshold=0.25)
    assert not hit(heatmap, [box], tolerance=16), "127.5 px is 17.5 px past the box: a miss at 16 px"


def test_a_corner_plateau_points_at_the_corner_windows_centre():
    heatmap = np.zeros((400, 300))
    heatmap[:128, :128] = 1.0
    assert predicted_location(heatmap) == (127, 127)


def test_a_constant_map_points_at_its_centre():
    assert predicted_location(np.full((40, 60), 0.1)) == (19, 29)


def test_an_interior_plateau_points_at_its_centre():
    heatmap = np.zeros((120, 100))
    heatmap[40:51, 20:31] = 1.0  # e.g. a coarse map upsampled by nearest neighbour
    assert predicted_location(heatmap) == (45, 25)


CRITERIA = ["prediction ≥ 25%", "correlation > 0"]
LABELS = ["Mass", "Asymmetries", "Retractions"]
# Mass: 3 pairs, 2 / 1 hits; Asymmetries: 1 pair, 0 / 1 hits; Retractions: none.
PAIRS = pd.DataFrame(
    {
        "image_id": ["a", "b", "c", "a"],
        "label": ["Mass", "Mass", "Mass", "Asymmetries"],
        "prediction ≥ 25%": [True, True, False, False],
        "correlation > 0": [False, True, False, True],
    }
)


def test_table_counts_hits_per_label_and_criterion():
    table = pointing_game_table(PAIRS, CRITERIA, LABELS)
    assert list(table.index) == [*LABELS, "Weighted mean", PER_IMAGE_ROW]
    assert list(table.columns) == [*CRITERIA, "support"]
    assert table["support"].dtype == np.int64
    assert table.loc["Mass", "prediction ≥ 25%"] == pytest.approx(2 / 3)
    assert table.loc["Mass", "correlation > 0"] == pytest.approx(1 / 3)
    assert table.loc["Asymmetries"].tolist() == [0.0, 1.0, 1]
    assert table["support"].tolist() == [3, 1, 0, 4, 3]  # 4 pairs on 3 images


def test_table_weighted_mean_is_all_hits_over_all_pairs():
    table = pointing_game_table(PAIRS, CRITERIA, LABELS)
    assert table.loc["Weighted mean", "prediction ≥ 25%"] == pytest.approx(2 / 4)
    assert table.loc["Weighted mean", "correlation > 0"] == pytest.approx(2 / 4)
    pd.testing.assert_series_equal(
        support_weighted_mean(table, CRITERIA), table.loc["Weighted mean", CRITERIA], check_names=False
    )


def test_hits_per_image_divides_all_hits_by_the_images_as_the_paper_does():
    table = pointing_game_table(PAIRS, CRITERIA, LABELS)
    # 2 hits of each criterion over images a, b, c; image a has a Mass and an Asymmetries pair.
    assert table.loc[PER_IMAGE_ROW, CRITERIA].tolist() == pytest.approx([2 / 3, 2 / 3])
    pd.testing.assert_series_equal(support_weighted_mean(table, CRITERIA), table.loc["Weighted mean", CRITERIA],
                                   check_names=False)  # the summary rows are not averaged in


def test_a_label_without_pairs_has_nan_accuracy():
    table = pointing_game_table(PAIRS, CRITERIA, LABELS)
    assert table.loc["Retractions", CRITERIA].isna().all()
    assert table.loc["Retractions", "support"] == 0


def test_a_repeated_image_label_pair_raises():
    repeated = pd.concat([PAIRS, PAIRS.iloc[[1]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"image_id='b', label='Mass'"):
        pointing_game_table(repeated, CRITERIA, LABELS)


def test_a_missing_column_raises():
    with pytest.raises(ValueError, match="correlation > 0"):
        pointing_game_table(PAIRS.drop(columns="correlation > 0"), CRITERIA, LABELS)
    with pytest.raises(ValueError, match="image_id"):
        pointing_game_table(PAIRS.drop(columns="image_id"), CRITERIA, LABELS)


def test_a_label_outside_the_table_raises():
    with pytest.raises(ValueError, match="Mass"):
        pointing_game_table(PAIRS, CRITERIA, ["Asymmetries"])


def test_a_hit_column_that_is_not_bool_raises():
    # An unscored pair (NaN) must not silently drop out of the accuracy.
    unscored = PAIRS.assign(**{"correlation > 0": [1.0, np.nan, 0.0, 1.0]})
    with pytest.raises(ValueError, match=r"\['correlation > 0'\] must be bool"):
        pointing_game_table(unscored, CRITERIA, LABELS)
