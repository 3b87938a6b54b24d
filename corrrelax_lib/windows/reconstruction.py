"""From per-window values to global maps: IoU-kernel smoothing (§3.5) and ROI-pixel upsampling.

This project's reconstruction (``"centred"``) smooths the window grid with the centred IoU kernel
(:func:`smooth_window_map`) and interpolates between window centres (:func:`window_map_to_pixels`);
the authors' code's (``"authors"``, :func:`authors_window_map_to_pixels`) convolves in full with its own
kernel and stretches the grown grid over the image.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import ndimage, signal

from corrrelax_lib.windows.grid import WindowGrid
from corrrelax_lib.windows.kernel import authors_iou_kernel

#: How window values become a map in ROI pixels: this project's centred smoothing and interpolation between
#: window centres, or the authors' code's full convolution and stretch.
Reconstruction = Literal["centred", "authors"]


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


def authors_window_map_to_pixels(window_map: np.ndarray, grid: WindowGrid) -> np.ndarray:
    """A window-grid map in ROI pixels as the authors' code reconstructs it (not what the paper's text says).

    1. Missing windows count as 0 (their code sets every NaN to 0 before smoothing).
    2. A *full* 2-D convolution with :func:`~corrrelax_lib.windows.kernel.authors_iou_kernel` (``K × K``):
       the ``(R, C)`` grid grows to ``(R + K − 1, C + K − 1)``.
    3. That grown grid is stretched by bilinear resampling with half-pixel centres (OpenCV's ``INTER_LINEAR``)
       over the pixels the windows span (:attr:`WindowGrid.padded_shape`) and cropped to the ROI. Their
       windows are centred on every stride-th pixel from the image's first, and they stretch over the image
       plus one window, which is that span (up to one stride more); here the windows start at pixel 0.

    Entry ``n`` of the grown grid so lands at pixel ``(n + ½)·L / (R + K − 1) − ½`` (``L`` the span), not at
    a window centre, and at strides that do not divide half a window the kernel's largest weight is not in
    its middle either: one window's peak moves off its centre, always the same way at 256 / 48 (on the
    paper's mean ROI by 10–38 px), both ways at 256 / 32 (within ±15 px); see
    :func:`corrrelax_lib.pipeline.as_run_maps.peak_drift_summary`.

    Args:
        window_map: ``(n_rows, n_cols)`` float, NaN where missing.
        grid: the grid the map lives on.

    Returns:
        ``(grid.height, grid.width)`` float64 map in ROI pixels, indexed ``[y, x]``, defined everywhere.

    Raises:
        ValueError: a map of another shape than the grid's, or one holding ``±inf``.
    """
    values = refuse_infinite(window_map, "window map")
    if values.shape != grid.shape:
        raise ValueError(f"window map has shape {values.shape}, the grid is {grid.shape}")
    kernel = authors_iou_kernel(grid.window_size, grid.stride)
    grown = signal.convolve2d(np.nan_to_num(values, nan=0.0), kernel, mode="full")
    span_y, span_x = grid.padded_shape
    rows = _stretch_matrix(grid.height, span_y, grown.shape[0])
    cols = _stretch_matrix(grid.width, span_x, grown.shape[1])
    return rows @ grown @ cols.T


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


def _stretch_matrix(n_pixels: int, span: int, n_samples: int) -> np.ndarray:
    """``(n_pixels, n_samples)`` weights of resampling ``n_samples`` values onto ``span`` pixels (the first
    ``n_pixels`` kept) with half-pixel centres: sample ``i`` sits at pixel ``(i + ½)·span / n_samples − ½``,
    linear in between, held beyond the ends (OpenCV's ``INTER_LINEAR``)."""
    centres = (np.arange(n_samples) + 0.5) * span / n_samples - 0.5
    return _interpolation_matrix(np.arange(n_pixels), centres)
