"""Contrast Limited Adaptive Histogram Equalisation and the paper's channel fusion (§3.1, Figure 2).

The paper runs OpenCV's CLAHE (``cv2.createCLAHE``, 8 × 8 tiles, clip limits 1.0 and 2.0)
on 8-bit images. OpenCV offers only two histogram depths, 256 bins for 8-bit input and
65 536 for 16-bit input, and neither fits a full-resolution mammogram:

* 8 bits throw away the 12–14 bits a detector or film scanner records, so a low-contrast
  breast keeps only a few dozen grey levels before equalisation;
* 16 bits on a 12-bit source fill only every 16th bin (a comb histogram). The clip limit
  counts per bin, so nearly every filled bin is clipped to the same height and the
  mapping collapses to the identity: on the eight real CBIS-DDSM scans at full resolution
  the CLAHE channels differed from the original by 0.2–4 % of the range, against 5–12 %
  for OpenCV's 8-bit CLAHE of the same images.

So :func:`apply_clahe` runs OpenCV's algorithm step by step (tiles with OpenCV's reflected
padding, per-tile histogram, clipping at ``clip_limit`` × the mean bin count, OpenCV's
redistribution of the clipped counts, cumulative look-up tables, bilinear interpolation
between tile centres) with a histogram of :func:`histogram_bits` bits chosen from the data.
At 8 bits it reproduces ``cv2.createCLAHE(...).apply`` of the 8-bit image to within one
grey level: the authors' code's depth (``ImagePreprocessing.clahe_histogram = "8-bit"``), which
also sets the CLAHE channels' background back to 0 (:func:`fuse_clahe`'s ``background``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np
import pandas as pd

MIN_BITS, MAX_BITS = 8, 16

#: What happens to the background of the CLAHE channels: kept as CLAHE leaves it, or set back to 0 (the authors).
ClaheBackground = Literal["kept", "zero"]


def distinct_levels(image: np.ndarray) -> int:
    """Number of distinct grey levels of ``image`` (``(H, W)`` float in [0, 1]) on a 16-bit scale."""
    quantised = np.round(np.clip(image, 0.0, 1.0) * (2**MAX_BITS - 1)).astype(np.uint16)
    counts = cv2.calcHist([quantised], [0], None, [2**MAX_BITS], [0, 2**MAX_BITS])
    return int(np.count_nonzero(counts))


def histogram_bits(image: np.ndarray, tile_grid: int = 8, pixels_per_bin: float = 2.0) -> int:
    """Histogram depth (8–16 bits) of :func:`apply_clahe` for ``image``: as fine as the data and the tiles allow.

    Two bounds, the tighter one wins:

    * **the data's levels**: at most ``floor(log2(distinct levels))`` bits, so that no more bins
      exist than grey levels occur and every bin is at least one level wide. Finer bins would
      leave regularly spaced empty bins between the levels (a 12-bit scan on 16 bits fills
      every 16th), clipping would flatten all filled bins alike and CLAHE would do nothing.
      The CBIS-DDSM scans (about 2 400–2 900 levels, 22 16-bit units apart) get 11 bits.
    * **the tile area**: at most ``floor(log2(tile pixels / pixels_per_bin))`` bits, about
      ``pixels_per_bin`` pixels per bin, so that the clip limit (``clip_limit`` × the mean bin
      count, at least one count) keeps its meaning on small images: phantoms of 560–720 rows
      (tiles of ~5 000 pixels) get 11 bits and distinct clip limits 1.0 and 2.0.

    Never fewer than the 8 bits of OpenCV's (and the paper's) 8-bit CLAHE, never more than 16.

    Args:
        image: ``(H, W)`` float in [0, 1].
        tile_grid: tiles per side.
        pixels_per_bin: target mean count per bin of a tile histogram.

    >>> twelve_bit = (np.arange(2048 * 2048) % 4096 / 4095).reshape(2048, 2048)
    >>> histogram_bits(twelve_bit)  # 4096 levels: 12 bits, although the tiles would allow 15
    12
    """
    tile_area = image.shape[0] * image.shape[1] / tile_grid**2
    tile_bits = math.floor(math.log2(max(tile_area / pixels_per_bin, 1.0)))
    level_bits = math.floor(math.log2(max(distinct_levels(image), 1)))
    return int(np.clip(min(tile_bits, level_bits), MIN_BITS, MAX_BITS))


def apply_clahe(image: np.ndarray, clip_limit: float, tile_grid: int = 8, *, bits: int | None = None) -> np.ndarray:
    """OpenCV's CLAHE algorithm at a histogram depth of ``bits`` (paper §3.1).

    Args:
        image: ``(H, W)`` float in [0, 1].
        clip_limit: OpenCV contrast limit, a multiple of the mean bin count (paper: 1.0, 2.0).
        tile_grid: the image is split into ``tile_grid`` × ``tile_grid`` tiles (paper: 8).
        bits: histogram depth; ``None`` chooses it from the data (:func:`histogram_bits`).
            ``bits=8`` is OpenCV's 8-bit CLAHE.

    Returns:
        ``(H, W)`` float32 in [0, 1]; the look-up tables are kept in floating point, so
        the output is not quantised to ``bits``.

    >>> equalised = apply_clahe(image, clip_limit=2.0)  # doctest: +SKIP
    """
    image = np.asarray(image, dtype=np.float32)
    bits = histogram_bits(image, tile_grid) if bits is None else int(bits)
    if not MIN_BITS <= bits <= MAX_BITS:
        raise ValueError(f"bits must be in [{MIN_BITS}, {MAX_BITS}], got {bits}")
    n_bins = 2**bits
    levels = np.round(np.clip(image, 0.0, 1.0) * (n_bins - 1)).astype(np.uint16)
    padded = _pad_to_tiles(levels, tile_grid)
    tile_height, tile_width = padded.shape[0] // tile_grid, padded.shape[1] // tile_grid
    histograms = np.stack([
        cv2.calcHist([padded[row * tile_height:(row + 1) * tile_height, col * tile_width:(col + 1) * tile_width]],
                     [0], None, [n_bins], [0, n_bins]).ravel()
        for row in range(tile_grid) for col in range(tile_grid)
    ]).astype(np.int64)
    luts = _clipped_cdf(histograms, clip_limit, tile_height * tile_width)
    return _interpolate(levels, luts.reshape(tile_grid, tile_grid, n_bins), tile_height, tile_width)


def fuse_clahe(
    image: np.ndarray, clip_limits: Sequence[float] = (1.0, 2.0), tile_grid: int = 8, *, bits: int | None = None,
    background: ClaheBackground = "kept",
) -> np.ndarray:
    """Stack the original with its CLAHE versions channel-wise: the paper's 3-channel input.

    Args:
        image: ``(H, W)`` float in [0, 1], breast bright (see ``read_mammogram``).
        clip_limits: one CLAHE image per limit; the paper's (1.0, 2.0) gives 3 channels.
        tile_grid: tiles per side.
        bits: histogram depth of every CLAHE channel; ``None``: :func:`histogram_bits` of ``image``.
        background: ``"kept"``, or ``"zero"``: every CLAHE channel is set back to 0 on :func:`eight_bit_background`
            pixels, as the authors' code does (CLAHE lifts a black background to the grey of its first bin).

    Returns:
        ``(H, W, 1 + len(clip_limits))`` float32 in [0, 1]: channel 0 is the original,
        channel ``k`` the CLAHE image at ``clip_limits[k - 1]`` (shown as RGB in Figure 2).
    """
    if background not in ("kept", "zero"):
        raise ValueError(f"background must be 'kept' or 'zero', got {background!r}")
    image = np.asarray(image, dtype=np.float32)
    bits = histogram_bits(image, tile_grid) if bits is None else bits
    channels = [image] + [apply_clahe(image, clip, tile_grid, bits=bits) for clip in clip_limits]
    fused = np.stack(channels, axis=-1)
    if background == "zero":
        fused[eight_bit_background(image), 1:] = 0.0
    return fused


def eight_bit_background(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: the pixels the authors' code counts as background, those at 0 in the 8-bit original.

    Their 8-bit image is ``uint8(255 × image)``, truncated, so these are the pixels below 1/255.
    """
    return np.asarray(image) < 1.0 / 255.0


def _pad_to_tiles(levels: np.ndarray, tile_grid: int) -> np.ndarray:
    """Pad bottom and right as OpenCV does when a side is not a multiple of ``tile_grid``.

    OpenCV then adds ``tile_grid - side % tile_grid`` rows and columns, reflected without
    repeating the edge (``BORDER_REFLECT_101``), on both sides, i.e. a whole ``tile_grid``
    on a side that was already a multiple.
    """
    height, width = levels.shape
    if height % tile_grid == 0 and width % tile_grid == 0:
        return levels
    return cv2.copyMakeBorder(levels, 0, tile_grid - height % tile_grid, 0, tile_grid - width % tile_grid,
                              cv2.BORDER_REFLECT_101)


def _clipped_cdf(histograms: np.ndarray, clip_limit: float, tile_area: int) -> np.ndarray:
    """Per-tile look-up tables in [0, 1]: clip, redistribute as OpenCV, cumulate. ``(T, n_bins)`` float32."""
    n_bins = histograms.shape[1]
    # OpenCV: the limit is clip_limit times the mean bin count, truncated, at least 1.
    limit = max(int(clip_limit * tile_area / n_bins), 1) if clip_limit > 0 else None
    if limit is not None:
        clipped = np.maximum(histograms - limit, 0).sum(axis=1)
        histograms = np.minimum(histograms, limit)
        # Every bin gets an equal share; the remainder goes one count each to evenly spaced bins from 0 up.
        batch, residual = np.divmod(clipped, n_bins)
        histograms = histograms + batch[:, None]
        for tile, count in enumerate(residual.tolist()):
            if count:
                histograms[tile, np.arange(0, n_bins, max(n_bins // count, 1))[:count]] += 1
    return (np.cumsum(histograms, axis=1) / tile_area).astype(np.float32)


def _interpolate(levels: np.ndarray, luts: np.ndarray, tile_height: int, tile_width: int) -> np.ndarray:
    """Map each pixel through the look-up tables of its four nearest tile centres, bilinearly weighted.

    Args:
        levels: ``(H, W)`` uint16 histogram bins of the pixels.
        luts: ``(tiles_y, tiles_x, n_bins)`` float32 look-up tables.
        tile_height, tile_width: tile size, pixels (of the padded image).

    Returns:
        ``(H, W)`` float32. Weights are computed as OpenCV does, in float32; pixels are
        processed in blocks sharing the same four tiles.
    """
    height, width = levels.shape
    tiles_y, tiles_x = luts.shape[:2]
    top, bottom, below = _neighbour_tiles(height, tile_height, tiles_y)
    left, right, across = _neighbour_tiles(width, tile_width, tiles_x)
    equalised = np.empty(levels.shape, dtype=np.float32)
    for y0, y1 in _runs(top * tiles_y + bottom):
        t, b, wy = top[y0], bottom[y0], below[y0:y1, None]
        for x0, x1 in _runs(left * tiles_x + right):
            lt, rt, wx = left[x0], right[x0], across[None, x0:x1]
            block = levels[y0:y1, x0:x1]
            upper = luts[t, lt][block] * (1 - wx) + luts[t, rt][block] * wx
            lower = luts[b, lt][block] * (1 - wx) + luts[b, rt][block] * wx
            equalised[y0:y1, x0:x1] = upper * (1 - wy) + lower * wy
    return equalised


def _neighbour_tiles(length: int, tile_size: int, n_tiles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pixel along one axis: the tile centre before it, the one after it, and the weight of the latter."""
    position = np.arange(length, dtype=np.float32) * np.float32(1.0 / tile_size) - np.float32(0.5)
    before = np.floor(position).astype(np.int64)
    weight = (position - before).astype(np.float32)
    return np.maximum(before, 0), np.minimum(before + 1, n_tiles - 1), weight


def _runs(tile_pair: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of the runs of equal values of a non-decreasing array (pixels sharing two tiles)."""
    starts = np.r_[0, np.flatnonzero(np.diff(tile_pair)) + 1]
    stops = np.r_[starts[1:], tile_pair.size]
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def opencv_clahe_8bit(image: np.ndarray, clip_limit: float, tile_grid: int = 8) -> np.ndarray:
    """The paper's CLAHE as the authors ran it: ``cv2.createCLAHE`` on ``round(255 × image)``.

    Returns:
        ``(H, W)`` float32 in [0, 1] (the 8-bit result divided by 255); the reference
        :func:`clahe_effect` compares :func:`apply_clahe` with.
    """
    grey = np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)
    equaliser = cv2.createCLAHE(clipLimit=float(clip_limit), tileGridSize=(tile_grid, tile_grid))
    return equaliser.apply(grey).astype(np.float32) / 255


def clahe_effect(
    image: np.ndarray, fused: np.ndarray, breast: np.ndarray, clip_limits: Sequence[float], tile_grid: int = 8,
) -> pd.DataFrame:
    """How much each CLAHE channel changes the breast, ours beside OpenCV's 8-bit CLAHE.

    Args:
        image: ``(H, W)`` float in [0, 1], the whole mammogram.
        fused: ``(H, W, 1 + len(clip_limits))`` :func:`fuse_clahe` of ``image``.
        breast: ``(H, W)`` bool breast mask (``breast_mask(image)``).
        clip_limits: the clip limit of each CLAHE channel of ``fused``.
        tile_grid: tiles per side ``fused`` was made with.

    Returns:
        One row per clip limit: ``clip_limit``, ``histogram_bits`` (of ``image``), ``ours`` and
        ``opencv_8bit`` (mean |CLAHE − original| over the breast, intensity units of [0, 1]),
        and ``ratio`` = ours / OpenCV 8-bit.
    """
    bits = histogram_bits(image, tile_grid)
    rows = []
    for channel, clip in enumerate(clip_limits, start=1):
        ours = float(np.abs(fused[..., channel] - image)[breast].mean())
        reference = float(np.abs(opencv_clahe_8bit(image, clip, tile_grid) - image)[breast].mean())
        rows.append({"clip_limit": float(clip), "histogram_bits": bits, "ours": ours, "opencv_8bit": reference,
                     "ratio": ours / reference if reference > 0 else float("nan")})
    return pd.DataFrame(rows)
