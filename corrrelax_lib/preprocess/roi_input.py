"""A preprocessed ROI image as a model sees it: float pixels in [0, 1], and the one rule that resizes a whole ROI.

Every explainer (:mod:`corrrelax_lib.attribution.explainer`) and LEM's training read ROI images through
these two functions, so that a stored ``uint8`` image and a float one give the same input, and every
method that looks at the whole ROI at another size resizes it the same way.
"""

from __future__ import annotations

import cv2
import numpy as np


def roi_pixels(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` float32 pixels in [0, 1] of a ROI image: ``uint8`` divided by 255, float kept.

    Raises:
        ValueError: an image that is not ``(H, W, 3)``.

    >>> roi_pixels(np.full((2, 1, 3), 255, np.uint8))[..., 0].tolist()
    [[1.0], [1.0]]
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
    return image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)


def longer_side_size(shape: tuple[int, int], image_size: int) -> tuple[int, int]:
    """``(height, width)`` of a ROI of ``shape`` resized so that its longer side is ``image_size`` (aspect kept).

    >>> longer_side_size((612, 402), 192)
    (192, 126)
    """
    height, width = shape
    scale = image_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_roi(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A whole ROI resized to ``size = (height, width)`` pixels: area averaging when it shrinks on both
    sides, bilinear interpolation otherwise (area "interpolation" would copy pixels when enlarging).

    Args:
        pixels: ``(H, W, 3)`` float32 from :func:`roi_pixels`.
        size: ``(height, width)`` of the result, e.g. :func:`longer_side_size` or LEM's fixed input size.

    Returns:
        ``(height, width, 3)`` float32.
    """
    height, width = size
    shrinks = height <= pixels.shape[0] and width <= pixels.shape[1]
    return cv2.resize(pixels, (width, height), interpolation=cv2.INTER_AREA if shrinks else cv2.INTER_LINEAR)
