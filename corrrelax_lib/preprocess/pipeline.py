"""One mammogram through the paper's preprocessing (§3.1): read, CLAHE fusion, ROI crop."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from corrrelax_lib.io.mammogram import read_mammogram
from corrrelax_lib.preprocess.clahe import fuse_clahe
from corrrelax_lib.preprocess.roi import Box, EmptyBreastError, boxes_to_roi, breast_roi


@dataclass(frozen=True)
class PreprocessedMammogram:
    """The classifier's view of one mammogram.

    Attributes:
        image: ``(h, w, 3)`` float32 in [0, 1], ROI-cropped; channels = original,
            CLAHE clip 1.0, CLAHE clip 2.0.
        roi: ``(x0, y0, x1, y1)`` of the crop in the original image, pixels, exclusive end.
        boxes_xyxy: ``(N, 4)`` annotation boxes in ROI pixels, clipped to the ROI.
        source: the image file.
    """

    image: np.ndarray
    roi: Box
    boxes_xyxy: np.ndarray
    source: Path


def preprocess_mammogram(
    path: str | os.PathLike[str],
    boxes_xyxy: np.ndarray | None = None,
    *,
    clip_limits: Sequence[float] = (1.0, 2.0),
    tile_grid: int = 8,
    image_height: int | None = None,
) -> PreprocessedMammogram:
    """Read ``path``, fuse it with its CLAHE versions, crop to the breast ROI, move boxes along.

    With ``image_height`` the whole mammogram is first resampled (area interpolation, aspect kept) to that
    many rows, e.g. to bring a scan from another site to the pixel scale the classifier was trained at;
    ``roi`` and the returned boxes are then in resampled pixels, and ``boxes_xyxy`` must be given in them too.

    Args:
        path: DICOM or image file.
        boxes_xyxy: ``(N, 4)`` boxes in original-image pixels, or ``None``.
        clip_limits: CLAHE clip limits (paper: 1.0 and 2.0).
        tile_grid: CLAHE tiles per side (paper: 8).
        image_height: rows to resample the mammogram to before preprocessing; ``None`` keeps its size.

    Raises:
        MammogramReadError: unreadable file.
        EmptyBreastError: no breast in the image; the message names the file.
    """
    path = Path(path)
    image = read_mammogram(path)
    if image_height is not None:
        width = max(1, round(image.shape[1] * image_height / image.shape[0]))
        image = cv2.resize(image, (width, image_height), interpolation=cv2.INTER_AREA)
    try:
        roi = breast_roi(image)
    except EmptyBreastError as error:
        raise EmptyBreastError(f"{path}: {error}") from error
    fused = fuse_clahe(image, clip_limits, tile_grid)
    x0, y0, x1, y1 = roi
    boxes = np.zeros((0, 4)) if boxes_xyxy is None else np.asarray(boxes_xyxy, dtype=np.float64)
    return PreprocessedMammogram(
        image=np.ascontiguousarray(fused[y0:y1, x0:x1]),
        roi=roi,
        boxes_xyxy=boxes_to_roi(boxes, roi),
        source=path,
    )
