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
    script builds its offsets with ``arange(-128, 129, 48)``, an even 6 × 6 kernel about 4 px off
    centre; we do not reproduce that.)

    Example:
        >>> kernel = iou_kernel(256, 48)
        >>> kernel.shape, round(float(kernel.sum()), 12)
        ((5, 5), 1.0)
    """
    if not 1 <= stride <= window_size:
        raise ValueError(f"need 1 <= stride <= window_size, got stride={stride}, window_size={window_size}")
    radius = window_size // (2 * stride)
    offsets = np.arange(-radius, radius + 1) * stride
    centre = (0, 0, window_size, window_size)
    kernel = np.array([[box_iou(centre, (dx, dy, dx + window_size, dy + window_size)) for dx in offsets]
                       for dy in offsets])
    return kernel / kernel.sum()
