"""The IoU kernel that smooths window maps into a global map (paper §3.5, Eq. 5–10)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def box_iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """Intersection over union of two axis-aligned boxes ``(x_min, y_min, x_max, y_max)`` (Eq. 5–10).

    Disjoint boxes give 0 (the intersection's sides are clamped at 0, which Eq. 5–6 leave implicit).

    Example:
        >>> box_iou((0, 0, 256, 256), (48, 0, 304, 256))
        0.6842105263157895
    """
    ax0, ay0, ax1, ay1 = box_a
    bx0, by0, bx1, by1 = box_b
    intersection = max(0.0, min(ax1, bx1) - max(ax0, bx0)) * max(0.0, min(ay1, by1) - max(ay0, by0))  # Eq. 5–6
    area_a = (ax1 - ax0) * (ay1 - ay0)  # Eq. 7
    area_b = (bx1 - bx0) * (by1 - by0)  # Eq. 8
    union = area_a + area_b - intersection  # Eq. 9
    return float(intersection / union)  # Eq. 10


def iou_kernel(window_size: int, stride: int) -> np.ndarray:
    """Weights of the neighbouring windows: ``(K, K)`` float64, ``K`` odd, symmetric, summing to 1.

    Entry ``(i, j)`` is the IoU of the centre window with the window offset by
    ``((i − r)·stride, (j − r)·stride)`` pixels, for all offsets with ``|k·stride| ≤ window_size / 2``
    (``r = ⌊window_size / (2·stride)⌋``, ``K = 2r + 1``), normalised so the weights sum to 1.
    For the paper's 256 / 48 that is a 5 × 5 kernel centred on the window itself. (The authors'
    script builds its offsets with ``arange(-128, 129, 48)``, an even 6 × 6 kernel off centre:
    :func:`authors_iou_kernel`.)

    Example:
        >>> kernel = iou_kernel(256, 48)
        >>> kernel.shape, round(float(kernel.sum()), 12)
        ((5, 5), 1.0)
    """
    _check_stride(window_size, stride)
    radius = window_size // (2 * stride)
    return _normalised_iou_kernel(window_size, np.arange(-radius, radius + 1) * stride)


def authors_kernel_offsets(window_size: int, stride: int) -> np.ndarray:
    """The authors' code's kernel offsets, pixels: ``arange(-⌊window_size/2⌋, ⌊window_size/2⌋ + 1, stride)``.

    They start at minus half a window and step by the stride, so they are symmetric about 0 (and hold 0)
    only when the stride divides half a window: at 256 / 32 nine offsets −128 … 128; at 256 / 48 six,
    −128, −80, −32, 16, 64, 112, symmetric about −8 px, and the nearest to 0 is +16.

    Example:
        >>> authors_kernel_offsets(256, 48).tolist()
        [-128, -80, -32, 16, 64, 112]
    """
    _check_stride(window_size, stride)
    half = window_size // 2
    return np.arange(-half, half + 1, stride)


def authors_iou_kernel(window_size: int, stride: int) -> np.ndarray:
    """The authors' code's IoU kernel: the IoU of the centre window with one offset by every pair of
    :func:`authors_kernel_offsets`, ``(K, K)`` float64 summing to 1.

    It is the paper's Eq. 5–10 at other offsets: at 256 / 48 a 6 × 6 kernel whose largest weight (offset
    (16, 16)) is not in its middle; at 256 / 32 a centred 9 × 9 one, the same as :func:`iou_kernel`.

    Example:
        >>> authors_iou_kernel(256, 48).shape, authors_iou_kernel(256, 32).shape
        ((6, 6), (9, 9))
    """
    return _normalised_iou_kernel(window_size, authors_kernel_offsets(window_size, stride))


def _normalised_iou_kernel(window_size: int, offsets: np.ndarray) -> np.ndarray:
    """``kernel[i, j]`` ∝ IoU of the centre window with the one offset by ``(offsets[j], offsets[i])`` (x, y), sum 1."""
    centre = (0, 0, window_size, window_size)
    kernel = np.array([[box_iou(centre, (dx, dy, dx + window_size, dy + window_size)) for dx in offsets]
                       for dy in offsets])
    return kernel / kernel.sum()


def _check_stride(window_size: int, stride: int) -> None:
    if not 1 <= stride <= window_size:
        raise ValueError(f"need 1 <= stride <= window_size, got stride={stride}, window_size={window_size}")
