"""Breast region of interest by Otsu thresholding and contours (paper §3.1).

Steps, on a copy downscaled to at most ``working_size`` pixels per side:

1. smooth and threshold with Otsu's method;
2. open morphologically, which erases thin structures — film-label text, markers,
   scanner border lines — while the breast survives;
3. keep the largest connected component: the breast;
4. grow it into the faint periphery: pixels brighter than the background level
   (median + 4 robust standard deviations of the pixels far from the breast) within a
   band of ``skin_band`` around it, so the skin line, where skin thickening and
   retraction findings lie, stays inside the box.
"""

from __future__ import annotations

import cv2
import numpy as np

Box = tuple[int, int, int, int]


class EmptyBreastError(ValueError):
    """No breast found in the image (e.g. an all-black frame)."""


def breast_mask(
    image: np.ndarray,
    *,
    working_size: int = 1024,
    opening_fraction: float = 0.02,
    skin_band: float = 0.05,
    min_area_fraction: float = 0.01,
) -> np.ndarray:
    """Boolean breast mask at full resolution.

    Args:
        image: ``(H, W)`` float in [0, 1], breast bright (``read_mammogram`` output).
        working_size: longest side of the downscaled working copy, pixels.
        opening_fraction: opening kernel size as a fraction of the shorter side.
        skin_band: how far beyond the Otsu region the faint periphery is searched, as a
            fraction of the shorter side (radius of the band).
        min_area_fraction: a breast smaller than this fraction of the image is "no breast".

    Returns:
        ``(H, W)`` bool array.

    Raises:
        EmptyBreastError: no bright region large enough to be a breast.
    """
    small, scale = _downscale(np.asarray(image, dtype=np.float32), working_size)
    smooth = cv2.GaussianBlur(small, (0, 0), sigmaX=1.5)
    core = _largest_component(_opened_otsu_mask(smooth, opening_fraction))
    if core is None or core.mean() < min_area_fraction:
        raise EmptyBreastError("no breast found: no bright region covers enough of the image")
    grown = _grow_into_periphery(smooth, core, skin_band)
    full = cv2.resize(grown.astype(np.uint8), (image.shape[1], image.shape[0]), interpolation=cv2.INTER_NEAREST)
    return full.astype(bool) if scale != 1.0 else grown


def breast_roi(image: np.ndarray, *, margin_fraction: float = 0.02, **mask_options: float) -> Box:
    """Bounding box of the breast, ``(x0, y0, x1, y1)`` in pixels, ``x1``/``y1`` exclusive.

    Args:
        image: ``(H, W)`` float in [0, 1], breast bright.
        margin_fraction: the box is grown by this fraction of the image's shorter side on
            every side (clipped to the image), so findings annotated at the skin — a
            retracted nipple's box reaches past the retracted contour — stay inside.
        **mask_options: passed to :func:`breast_mask`.

    Raises:
        EmptyBreastError: no breast in the image.

    >>> x0, y0, x1, y1 = breast_roi(image)            # doctest: +SKIP
    >>> roi_image = image[y0:y1, x0:x1]
    """
    mask = breast_mask(image, **mask_options)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    margin = round(margin_fraction * min(image.shape))
    height, width = image.shape
    return (max(0, int(cols[0]) - margin), max(0, int(rows[0]) - margin),
            min(width, int(cols[-1]) + 1 + margin), min(height, int(rows[-1]) + 1 + margin))


def boxes_to_roi(boxes_xyxy: np.ndarray, roi: Box) -> np.ndarray:
    """Shift boxes into ROI coordinates and clip them to the ROI.

    Args:
        boxes_xyxy: ``(N, 4)`` boxes ``(xmin, ymin, xmax, ymax)`` in image pixels.
        roi: ``(x0, y0, x1, y1)`` from :func:`breast_roi`.

    Returns:
        ``(N, 4)`` float64 boxes in ROI pixels, clipped to ``[0, x1 - x0] x [0, y1 - y0]``;
        a box entirely outside the ROI becomes empty (zero width or height).
    """
    x0, y0, x1, y1 = roi
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4) - np.array([x0, y0, x0, y0])
    limits = np.array([x1 - x0, y1 - y0, x1 - x0, y1 - y0], dtype=np.float64)
    return np.clip(boxes, 0.0, limits)


def _downscale(image: np.ndarray, working_size: int) -> tuple[np.ndarray, float]:
    """Area-downscale so the longest side is at most ``working_size``; returns the factor too."""
    scale = min(1.0, working_size / max(image.shape))
    if scale == 1.0:
        return image, scale
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def _opened_otsu_mask(smooth: np.ndarray, opening_fraction: float) -> np.ndarray:
    """Otsu foreground with thin structures (text, lines) removed by opening, uint8 0/1."""
    grey = np.round(np.clip(smooth, 0, 1) * 255).astype(np.uint8)
    if grey.max() == grey.min():
        return np.zeros_like(grey)
    _, mask = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    size = max(3, round(opening_fraction * min(grey.shape)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    return cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)


def _largest_component(mask: np.ndarray) -> np.ndarray | None:
    """The largest 8-connected component of a 0/1 mask as bool, or ``None`` if empty."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count <= 1:
        return None
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == largest


def _grow_into_periphery(smooth: np.ndarray, core: np.ndarray, skin_band: float) -> np.ndarray:
    """Add above-background pixels connected to ``core`` within a band around it."""
    radius = max(1, round(skin_band * min(core.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    near = cv2.dilate(core.astype(np.uint8), kernel).astype(bool)
    far = ~cv2.dilate(near.astype(np.uint8), kernel).astype(bool)
    background = smooth[far] if far.any() else smooth[~near]
    if background.size == 0:
        return core
    median = float(np.median(background))
    spread = 1.4826 * float(np.median(np.abs(background - median)))
    candidate = ((smooth > median + 4 * spread + 1e-3) & near) | core
    _, labels = cv2.connectedComponents(candidate.astype(np.uint8), connectivity=8)
    keep = np.unique(labels[core])
    return np.isin(labels, keep[keep > 0])
