"""Window grid (paper §3.5: 256 × 256 windows, stride 48): coverage, counts, origins, centres, foreground share."""

from __future__ import annotations

import numpy as np
import pytest

from corrrelax_lib.windows.grid import WindowGrid, foreground_fraction, window_grid


@pytest.mark.parametrize(("height", "width"), [(2497, 885), (256, 256), (257, 300), (352, 353), (1000, 401)])
def test_grid_covers_the_roi_with_no_spare_window(height, width):
    grid = window_grid(height, width, 256, 48)
    last_y = (grid.n_rows - 1) * grid.stride + grid.window_size
    last_x = (grid.n_cols - 1) * grid.stride + grid.window_size
    assert last_y >= height and last_x >= width
    # One window fewer would leave pixels uncovered.
    if grid.n_rows > 1:
        assert last_y - grid.stride < height
    if grid.n_cols > 1:
        assert last_x - grid.stride < width
    assert grid.padded_shape == (last_y, last_x)
    assert grid.shape == (grid.n_rows, grid.n_cols)


def test_paper_mean_roi_gives_48_by_15_windows():
    grid = window_grid(2497, 885, 256, 48)
    assert grid.shape == (48, 15)
    # 47 strides + one window: 2512 ≥ 2497; 14 strides + one window: 928 ≥ 885.
    assert grid.padded_shape == (2512, 928)


@pytest.mark.parametrize("k", [0, 1, 2, 7])
def test_exact_fit_needs_no_padding(k):
    size = 256 + k * 48
    grid = window_grid(size, size, 256, 48)
    assert grid.shape == (k + 1, k + 1)
    assert grid.padded_shape == (size, size)


@pytest.mark.parametrize("k", [0, 1, 2, 7])
def test_one_pixel_past_an_exact_fit_adds_a_row_and_a_column(k):
    size = 256 + k * 48 + 1
    grid = window_grid(size, size - 1, 256, 48)
    assert grid.shape == (k + 2, k + 1)
    assert grid.padded_shape == (size - 1 + 48, size - 1)


@pytest.mark.parametrize(("height", "width"), [(1, 1), (100, 255), (256, 10), (255, 256)])
def test_roi_not_larger_than_a_window_gives_one_window(height, width):
    grid = window_grid(height, width, 256, 48)
    assert grid.shape == (1, 1)
    assert grid.padded_shape == (256, 256)


@pytest.mark.parametrize(
    ("height", "width", "window_size", "stride"),
    [(100, 100, 16, 0), (100, 100, 16, -4), (100, 100, 16, 17), (0, 100, 16, 4), (100, 0, 16, 4)],
)
def test_bad_stride_or_size_raises(height, width, window_size, stride):
    with pytest.raises(ValueError):
        window_grid(height, width, window_size, stride)


def test_stride_equal_to_window_size_tiles_without_overlap():
    grid = window_grid(40, 30, 10, 10)
    assert grid.shape == (4, 3)
    assert grid.padded_shape == (40, 30)


def test_origins_are_row_major_multiples_of_the_stride():
    grid = window_grid(20, 26, 10, 4)  # 4 rows (origins 0, 4, 8, 12), 5 cols (0, 4, ..., 16)
    assert grid.shape == (4, 5)
    origins = grid.origins()
    assert origins.dtype == np.int64
    assert origins.shape == (20, 2)
    expected = [(4 * r, 4 * c) for r in range(4) for c in range(5)]
    assert [tuple(o) for o in origins.tolist()] == expected
    # Window index i is (i // n_cols, i % n_cols).
    assert tuple(origins[7]) == (4 * 1, 4 * 2)


def test_centres_are_window_midpoints_in_pixels():
    grid = window_grid(20, 26, 10, 4)
    centres_y, centres_x = grid.centres()
    # A window spans [o, o + 10): its pixel centre is o + 4.5.
    np.testing.assert_array_equal(centres_y, [4.5, 8.5, 12.5, 16.5])
    np.testing.assert_array_equal(centres_x, [4.5, 8.5, 12.5, 16.5, 20.5])
    odd = window_grid(9, 9, 5, 2)
    np.testing.assert_array_equal(odd.centres()[0], [2.0, 4.0, 6.0])


def _brute_force_fraction(foreground, grid: WindowGrid):
    padded = np.zeros(grid.padded_shape)
    padded[: grid.height, : grid.width] = foreground
    out = np.empty(grid.shape)
    for r in range(grid.n_rows):
        for c in range(grid.n_cols):
            y, x = r * grid.stride, c * grid.stride
            out[r, c] = padded[y : y + grid.window_size, x : x + grid.window_size].mean()
    return out


@pytest.mark.parametrize(("height", "width", "window_size", "stride"),
                         [(37, 29, 8, 3), (32, 32, 8, 8), (20, 50, 7, 5), (5, 6, 9, 2)])
def test_foreground_fraction_matches_a_per_window_mean(height, width, window_size, stride):
    rng = np.random.default_rng(height * width)
    foreground = rng.random((height, width)) < 0.4
    grid = window_grid(height, width, window_size, stride)
    fraction = foreground_fraction(foreground, grid)
    assert fraction.shape == grid.shape
    np.testing.assert_allclose(fraction, _brute_force_fraction(foreground, grid), rtol=0, atol=1e-15)


def test_padding_counts_as_background():
    grid = window_grid(10, 10, 8, 4)  # 2 × 2 windows over a 12 × 12 padded image
    fraction = foreground_fraction(np.ones((10, 10), dtype=bool), grid)
    # Window (0, 0) is all ROI; (0, 1) and (1, 0) have 8 × 6 ROI pixels; (1, 1) has 6 × 6.
    np.testing.assert_allclose(fraction, [[1.0, 48 / 64], [48 / 64, 36 / 64]])


def test_foreground_fraction_accepts_non_bool_masks():
    grid = window_grid(10, 10, 10, 5)
    mask = np.zeros((10, 10), dtype=np.uint8)
    mask[:5] = 255
    np.testing.assert_allclose(foreground_fraction(mask, grid), [[0.5]])


def test_foreground_shape_mismatch_raises():
    grid = window_grid(10, 12, 8, 4)
    with pytest.raises(ValueError, match="shape"):
        foreground_fraction(np.ones((12, 10), dtype=bool), grid)
