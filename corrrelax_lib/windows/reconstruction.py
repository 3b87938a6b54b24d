"""From per-window values to global maps: IoU-kernel smoothing (§3.5) and ROI-pixel upsampling."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from corrrelax_lib.windows.grid import WindowGrid


def smooth_window_map(window_map: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Convolve window-grid maps with the IoU kernel, ignoring missing windows (normalised convolution).

    Missing windows (NaN: skipped background, or an undefined correlation) are neither zeros nor
    neighbours: each output is ``Σ k·v / Σ k`` over the *present* windows under the kernel, so a
    map does not fade towards the breast border or around an undefined window. Missing windows
    stay NaN in the output. (Implemented as a correlation, which equals the convolution for the
    symmetric IoU kernel.)

    Args:
        window_map: ``(..., n_rows, n_cols)`` float, NaN where missing.
        kernel: ``(K, K)`` weights, e.g. :func:`corrrelax_lib.windows.iou_kernel`.

    Returns:
        ``(..., n_rows, n_cols)`` float64, the smoothed map.

    Raises:
        ValueError: an empty map, or one holding ``±inf`` (only NaN marks a missing window).
    """
    values = refuse_infinite(window_map, "window map")
    present = np.isfinite(values)
    flat_values = np.where(present, values, 0.0).reshape(-1, *values.shape[-2:])
    flat_present = present.reshape(-1, *values.shape[-2:]).astype(np.float64)
    smoothed = np.full(flat_values.shape, np.nan)
    for index, (plane, weight) in enumerate(zip(flat_values, flat_present, strict=True)):
        numerator = ndimage.correlate(plane, kernel, mode="constant", cval=0.0)
        denominator = ndimage.correlate(weight, kernel, mode="constant", cval=0.0)
        inside = weight > 0
        smoothed[index][inside] = numerator[inside] / denominator[inside]
    return smoothed.reshape(values.shape)


def window_map_to_pixels(window_map: np.ndarray, grid: WindowGrid) -> np.ndarray:
    """Upsample a window-grid map to ROI pixels by bilinear interpolation between window centres.

    Each window's value sits at its centre (:meth:`WindowGrid.centres`); beyond the outermost
    centres values are held constant. Missing windows (NaN) do not contribute; a pixel whose
    interpolation weight comes mostly (more than half) from missing windows is NaN.

    Args:
        window_map: ``(n_rows, n_cols)`` float, NaN where missing.
        grid: the grid the map lives on.

    Returns:
        ``(grid.height, grid.width)`` float64 map in ROI pixel coordinates, indexed ``[y, x]``.

    Raises:
        ValueError: a map of another shape than the grid's, or one holding ``±inf``.
    """
    values = refuse_infinite(window_map, "window map")
    if values.shape != grid.shape:
        raise ValueError(f"window map has shape {values.shape}, the grid is {grid.shape}")
    centres_y, centres_x = grid.centres()
    rows = _interpolation_matrix(np.arange(grid.height), centres_y)
    cols = _interpolation_matrix(np.arange(grid.width), centres_x)
    present = np.isfinite(values)
    numerator = rows @ np.where(present, values, 0.0) @ cols.T
    weight = rows @ present.astype(np.float64) @ cols.T
    pixels = np.full(numerator.shape, np.nan)
    covered = weight > 0.5
    pixels[covered] = numerator[covered] / weight[covered]
    return pixels


def refuse_infinite(values: np.ndarray, what: str) -> np.ndarray:
    """``values`` as a non-empty float64 array without ``±inf``; NaN (a missing value) is allowed.

    Raises:
        ValueError: naming ``what``, for an empty array or one holding ``±inf`` (counted, the first
            one's index given).
    """
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        raise ValueError(f"{what} is empty (shape {values.shape})")
    infinite = np.isinf(values)
    if infinite.any():
        first = tuple(int(i) for i in np.argwhere(infinite)[0])
        raise ValueError(f"{what} holds {int(infinite.sum())} infinite value(s), the first at index {first}; "
                         "only NaN may mark a missing value")
    return values


def _interpolation_matrix(positions: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """``(len(positions), len(centres))`` linear-interpolation weights, constant beyond the ends."""
    matrix = np.zeros((len(positions), len(centres)))
    if len(centres) == 1:
        matrix[:, 0] = 1.0
        return matrix
    step = centres[1] - centres[0]
    fractional = np.clip((positions - centres[0]) / step, 0, len(centres) - 1)
    lower = np.minimum(np.floor(fractional).astype(int), len(centres) - 2)
    upper_weight = fractional - lower
    matrix[np.arange(len(positions)), lower] = 1 - upper_weight
    matrix[np.arange(len(positions)), lower + 1] += upper_weight
    return matrix
