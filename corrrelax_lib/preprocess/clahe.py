"""Contrast Limited Adaptive Histogram Equalisation and the paper's channel fusion (§3.1, Figure 2)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

UINT16_MAX = 65535


def histogram_bits(tile_area: float, pixels_per_bin: float = 2.0) -> int:
    """Histogram depth (8–16 bits) giving about ``pixels_per_bin`` pixels per bin in a tile.

    OpenCV's CLAHE on 16-bit input uses 65536 bins and clips each at
    ``clip_limit * tile_area / 65536`` counts, floored at 1. On a VinDr-Mammo image
    (tiles of ~140 000 pixels) that is ~2 pixels per bin and 16 bits are kept; on small
    phantoms the floor would make every clip limit identical, so fewer bits are used and
    the clip limit keeps its meaning.
    """
    return int(np.clip(np.floor(np.log2(max(tile_area, 1.0) / pixels_per_bin)), 8, 16))


def apply_clahe(image: np.ndarray, clip_limit: float, tile_grid: int = 8) -> np.ndarray:
    """CLAHE (OpenCV) at up to 16-bit precision.

    Args:
        image: ``(H, W)`` float in [0, 1].
        clip_limit: OpenCV contrast limit, a multiple of the mean bin count (paper: 1.0, 2.0).
        tile_grid: the image is split into ``tile_grid`` x ``tile_grid`` tiles (paper: 8).

    Returns:
        ``(H, W)`` float32 in [0, 1]. The histogram has ``histogram_bits(tile area)`` bits
        (16 on full-resolution mammograms, so 12–16-bit sources keep their precision);
        output values are 16-bit.
    """
    bits = histogram_bits(image.shape[0] * image.shape[1] / tile_grid**2)
    step = 2 ** (16 - bits)  # level k of the 2**bits histogram is stored as k * step
    levels = np.round(np.clip(image, 0.0, 1.0) * (2**bits - 1)).astype(np.uint32)
    quantised = np.minimum(levels * step, UINT16_MAX).astype(np.uint16)
    # OpenCV divides the clip limit by 65536 bins; multiply back so it counts per used bin.
    equaliser = cv2.createCLAHE(clipLimit=float(clip_limit) * step, tileGridSize=(tile_grid, tile_grid))
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
