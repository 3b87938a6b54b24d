"""Contrast Limited Adaptive Histogram Equalisation and the paper's channel fusion (§3.1, Figure 2)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

UINT16_MAX = 65535


def apply_clahe(image: np.ndarray, clip_limit: float, tile_grid: int = 8) -> np.ndarray:
    """CLAHE (OpenCV) at 16-bit precision.

    Args:
        image: ``(H, W)`` float in [0, 1].
        clip_limit: OpenCV contrast limit (the paper uses 1.0 and 2.0).
        tile_grid: the image is split into ``tile_grid`` x ``tile_grid`` tiles (8 in the paper).

    Returns:
        ``(H, W)`` float32 in [0, 1]. The image is quantised to 16 bits, not 8, so the
        precision of 12–16-bit mammograms is kept.
    """
    quantised = np.round(np.clip(image, 0.0, 1.0) * UINT16_MAX).astype(np.uint16)
    equaliser = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(tile_grid, tile_grid))
    return (equaliser.apply(quantised).astype(np.float32) / UINT16_MAX).astype(np.float32)


def fuse_clahe(
    image: np.ndarray, clip_limits: Sequence[float] = (1.0, 2.0), tile_grid: int = 8
) -> np.ndarray:
    """Stack the original with its CLAHE versions channel-wise: the paper's 3-channel input.

    Args:
        image: ``(H, W)`` float in [0, 1], breast bright (see ``read_mammogram``).
        clip_limits: one CLAHE image per limit; the paper's (1.0, 2.0) gives 3 channels.
        tile_grid: tiles per side.

    Returns:
        ``(H, W, 1 + len(clip_limits))`` float32 in [0, 1]: channel 0 is the original,
        channel ``k`` the CLAHE image at ``clip_limits[k - 1]`` (shown as RGB in Figure 2).
    """
    channels = [np.asarray(image, dtype=np.float32)]
    channels += [apply_clahe(image, clip, tile_grid) for clip in clip_limits]
    return np.stack(channels, axis=-1)
