"""Window maps to global maps: normalised IoU-kernel smoothing (§3.5) and bilinear upsampling to ROI pixels."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import signal

from corrrelax_lib.windows.grid import window_grid
from corrrelax_lib.windows.kernel import authors_iou_kernel, iou_kernel
from corrrelax_lib.windows.reconstruction import (
    authors_window_map_to_pixels,
    smooth_window_map,
    window_map_to_pixels,
)

NAN = np.nan
PAPER_KERNEL = iou_kernel(256, 48)
# A 3 × 3 kernel whose weighted means are easy to work out by hand.
HAND_KERNEL = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16


def test_constant_map_stays_constant_up_to_the_borders():
    smoothed = smooth_window_map(np.full((6, 7), 0.37), PAPER_KERNEL)
    assert smoothed.shape == (6, 7)
    assert smoothed.dtype == np.float64
    np.testing.assert_allclose(smoothed, 0.37, rtol=1e-14, atol=0)


def test_constant_map_with_missing_windows_stays_constant_where_present():
    rng = np.random.default_rng(0)
    window_map = np.full((9, 8), -0.6)
    missing = rng.random(window_map.shape) < 0.3
    window_map[missing] = NAN
    smoothed = smooth_window_map(window_map, PAPER_KERNEL)
    np.testing.assert_array_equal(np.isnan(smoothed), missing)
    np.testing.assert_allclose(smoothed[~missing], -0.6, rtol=1e-14, atol=0)


def test_impulse_reproduces_the_kernel_in_the_interior():
    window_map = np.zeros((9, 11))
    window_map[4, 6] = 1.0  # at least 4 windows from every border: full kernel support all around
    smoothed = smooth_window_map(window_map, PAPER_KERNEL)
    expected = np.zeros((9, 11))
    expected[2:7, 4:9] = PAPER_KERNEL[::-1, ::-1]  # convolution flips the kernel; it is symmetric anyway
    np.testing.assert_allclose(smoothed, expected, rtol=1e-14, atol=1e-17)


def test_value_next_to_missing_windows_is_the_weighted_mean_of_present_neighbours():
    window_map = np.array([[1.0, 2.0, NAN, 4.0],
                           [5.0, 6.0, 7.0, 8.0],
                           [9.0, NAN, 11.0, 12.0]])
    smoothed = smooth_window_map(window_map, HAND_KERNEL)
    # (1, 1): weights ×16 are 1 2 1 / 2 4 2 / 1 2 1; the missing (0, 2) and (2, 1) drop out.
    assert smoothed[1, 1] == pytest.approx((1 * 1 + 2 * 2 + 2 * 5 + 4 * 6 + 2 * 7 + 1 * 9 + 1 * 11) / 13, rel=1e-14)
    # Corner (0, 0): only the four windows inside the map count, with weights 4, 2, 2, 1.
    assert smoothed[0, 0] == pytest.approx((4 * 1 + 2 * 2 + 2 * 5 + 1 * 6) / 9, rel=1e-14)
    # (0, 3): its left neighbour is missing, leaving 4 (itself), 1 (diagonal 7), 2 (below 8).
    assert smoothed[0, 3] == pytest.approx((4 * 4 + 1 * 7 + 2 * 8) / 7, rel=1e-14)
    # (2, 2): neighbours 6 7 8 / (missing) 11 12, weights 1 2 1 / 2 4 2.
    assert smoothed[2, 2] == pytest.approx((1 * 6 + 2 * 7 + 1 * 8 + 4 * 11 + 2 * 12) / 10, rel=1e-14)
    assert np.isnan(smoothed[0, 2]) and np.isnan(smoothed[2, 1])
    assert np.isfinite(np.delete(smoothed.ravel(), [2, 9])).all()


def test_all_missing_map_stays_missing():
    smoothed = smooth_window_map(np.full((3, 4), NAN), PAPER_KERNEL)
    assert np.isnan(smoothed).all()


def test_leading_dimensions_are_smoothed_plane_by_plane():
    rng = np.random.default_rng(1)
    maps = rng.normal(size=(2, 3, 4, 7, 6)).astype(np.float32)
    maps[rng.random(maps.shape) < 0.2] = NAN
    smoothed = smooth_window_map(maps, PAPER_KERNEL)
    assert smoothed.shape == maps.shape
    for index in np.ndindex(*maps.shape[:-2]):
        np.testing.assert_array_equal(smoothed[index], smooth_window_map(maps[index], PAPER_KERNEL))
    # Planes do not leak into each other: changing one leaves the others alone.
    changed = maps.copy()
    changed[0, 0, 0] = 100.0
    again = smooth_window_map(changed, PAPER_KERNEL)
    np.testing.assert_array_equal(again[1:], smoothed[1:])
    np.testing.assert_array_equal(again[0, 1:], smoothed[0, 1:])


# Window 5, stride 4: centres fall on pixels 2, 6, 10, ...
GRID = window_grid(13, 17, 5, 4)


def test_pixel_map_has_the_roi_shape_and_the_window_values_at_the_centres():
    assert GRID.shape == (3, 4)
    rng = np.random.default_rng(2)
    window_map = rng.normal(size=GRID.shape)
    pixels = window_map_to_pixels(window_map, GRID)
    assert pixels.shape == (13, 17)
    assert pixels.dtype == np.float64
    centres_y, centres_x = GRID.centres()
    np.testing.assert_array_equal(centres_y, [2, 6, 10])
    rows, cols = centres_y.astype(int), centres_x.astype(int)
    np.testing.assert_allclose(pixels[np.ix_(rows, cols)], window_map, rtol=1e-14, atol=1e-15)


def test_pixel_map_is_bilinear_between_centres_and_constant_beyond():
    r, c = np.meshgrid(np.arange(3), np.arange(4), indexing="ij")
    window_map = 1 + 3 * r - 2 * c + 0.5 * r * c  # bilinear in the window indices
    pixels = window_map_to_pixels(window_map, GRID)
    # A pixel (y, x) sits at fractional window index ((y − 2) / 4, (x − 2) / 4), held at the ends.
    u = np.clip((np.arange(13) - 2) / 4, 0, 2)[:, None]
    v = np.clip((np.arange(17) - 2) / 4, 0, 3)[None, :]
    np.testing.assert_allclose(pixels, 1 + 3 * u - 2 * v + 0.5 * u * v, rtol=1e-14, atol=1e-14)
    # Beyond the outermost centres (pixels 0, 1 and 11, 12 / 15, 16) the border value is repeated.
    np.testing.assert_array_equal(pixels[:2], np.broadcast_to(pixels[2], (2, 17)))
    np.testing.assert_array_equal(pixels[11:], np.broadcast_to(pixels[10], (2, 17)))
    np.testing.assert_array_equal(pixels[:, 15:], np.broadcast_to(pixels[:, 14:15], (13, 2)))


def test_pixels_weighted_mostly_by_missing_windows_are_nan():
    grid = window_grid(5, 13, 5, 4)  # one row of windows, centres x = 2, 6, 10
    assert grid.shape == (1, 3)
    pixels = window_map_to_pixels(np.array([[1.0, NAN, 3.0]]), grid)
    # x = 3: 3/4 of the weight on the present first window, renormalised -> exactly 1.
    # x = 4 and x = 8 are half present: not "mostly" present, so missing.
    expected_row = [1.0] * 4 + [NAN] * 5 + [3.0] * 4
    np.testing.assert_array_equal(pixels, np.broadcast_to(expected_row, (5, 13)))


def test_present_neighbours_are_renormalised_in_two_dimensions():
    window_map = np.array([[2.0, 4.0], [6.0, NAN]])
    grid = window_grid(9, 9, 5, 4)  # 2 × 2 windows, centres 2 and 6
    pixels = window_map_to_pixels(window_map, grid)
    # (3, 3): weights 9/16, 3/16, 3/16 on the present windows, 1/16 on the missing one.
    assert pixels[3, 3] == pytest.approx((9 * 2 + 3 * 4 + 3 * 6) / 15, rel=1e-14)
    # (4, 4): a quarter from each window, 3/4 present: the mean of the present three.
    assert pixels[4, 4] == pytest.approx(4.0, rel=1e-14)
    # (5, 5): 9/16 from the missing window.
    assert np.isnan(pixels[5, 5])
    assert np.isnan(pixels[8, 8])


def test_single_window_gives_a_constant_map():
    grid = window_grid(3, 4, 5, 2)
    assert grid.shape == (1, 1)
    np.testing.assert_array_equal(window_map_to_pixels(np.array([[0.25]]), grid), np.full((3, 4), 0.25))
    assert np.isnan(window_map_to_pixels(np.array([[NAN]]), grid)).all()


def test_window_map_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        window_map_to_pixels(np.zeros((4, 3)), GRID)


def test_an_infinite_window_value_is_refused_not_dropped():
    grid = window_grid(100, 80, 64, 16)
    window_map = np.zeros(grid.shape)
    window_map[1, 0] = np.inf
    with pytest.raises(ValueError, match=r"window map holds 1 infinite value\(s\), the first at index \(1, 0\)"):
        window_map_to_pixels(window_map, grid)
    with pytest.raises(ValueError, match="infinite"):
        smooth_window_map(window_map, iou_kernel(64, 16))
    with pytest.raises(ValueError, match="empty"):
        smooth_window_map(np.zeros((0, 3)), iou_kernel(64, 16))


# The authors' reconstruction: their kernel, a full convolution, a stretch over the windows' span.

def _authors_by_opencv(window_map, grid):
    """The three steps with scipy's full convolution and OpenCV's bilinear resize, then the crop to the ROI."""
    grown = signal.convolve2d(np.nan_to_num(window_map), authors_iou_kernel(grid.window_size, grid.stride),
                              mode="full")
    span_y, span_x = grid.padded_shape
    return cv2.resize(grown, (span_x, span_y), interpolation=cv2.INTER_LINEAR)[:grid.height, :grid.width]


@pytest.mark.parametrize(("height", "width", "window_size", "stride"),
                         [(700, 500, 256, 48), (700, 500, 256, 32), (300, 200, 64, 12), (333, 190, 64, 8)])
def test_authors_reconstruction_is_a_full_convolution_stretched_like_opencv(height, width, window_size, stride):
    grid = window_grid(height, width, window_size, stride)
    window_map = np.random.default_rng(0).random(grid.shape)
    window_map[0, 1] = NAN  # missing counts as 0, as their nan_to_num
    pixels = authors_window_map_to_pixels(window_map, grid)
    assert pixels.shape == (height, width) and np.isfinite(pixels).all()
    np.testing.assert_allclose(pixels, _authors_by_opencv(window_map, grid), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("stride", "largest_tap", "drift"), [(48, 3, 23.5), (32, 4, -0.5)])
def test_one_windows_peak_moves_off_its_centre_in_the_authors_reconstruction_only(stride, largest_tap, drift):
    grid = window_grid(1200, 1200, 256, stride)  # 21 × 21 windows at stride 48, 31 × 31 at 32
    centre = grid.centres()[0][grid.n_rows // 2]
    impulse = np.zeros(grid.shape)
    impulse[grid.n_rows // 2, grid.n_cols // 2] = 1.0
    ours = window_map_to_pixels(smooth_window_map(impulse, iou_kernel(256, stride)), grid)
    theirs = authors_window_map_to_pixels(impulse, grid)
    ours_peak = np.array(np.unravel_index(np.argmax(ours), ours.shape))
    their_peak = np.array(np.unravel_index(np.argmax(theirs), theirs.shape))
    assert (np.abs(ours_peak - centre) == 0.5).all()  # the centre lies between two pixels
    # By hand: the impulse's largest kernel tap is entry n = row + tap of the grown grid, which the stretch puts
    # at pixel (n + 1/2) * span / (rows + K - 1) - 1/2; the peak is the pixel nearest to it.
    k = authors_iou_kernel(256, stride).shape[0]
    stretched = (grid.n_rows // 2 + largest_tap + 0.5) * grid.padded_shape[0] / (grid.n_rows + k - 1) - 0.5
    assert (np.abs(their_peak - stretched) <= 0.5).all()
    np.testing.assert_array_equal(their_peak - centre, [drift, drift])


def test_authors_reconstruction_refuses_a_map_of_another_shape():
    with pytest.raises(ValueError, match="grid"):
        authors_window_map_to_pixels(np.zeros((2, 2)), window_grid(300, 300, 64, 16))
