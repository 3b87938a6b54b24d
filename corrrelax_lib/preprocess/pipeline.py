"""One mammogram through the paper's preprocessing (§3.1): read (intensity), CLAHE fusion, ROI crop."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from corrrelax_lib.io.mammogram import IntensityRecord, read_mammogram_with_record
from corrrelax_lib.preprocess.clahe import fuse_clahe, histogram_bits
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
        intensity: what turned the file's stored values into ``[0, 1]`` (inversion, VOI LUT, ...).
        clahe_bits: histogram depth of the CLAHE channels (chosen from the data, see ``histogram_bits``).
    """

    image: np.ndarray
    roi: Box
    boxes_xyxy: np.ndarray
    source: Path
    intensity: IntensityRecord
    clahe_bits: int


@dataclass(frozen=True)
class PreprocessingSteps:
    """Every stage of §3.1 for one whole mammogram, before the ROI crop (Figure 2 shows them).

    Attributes:
        source: the image file.
        normalised: ``(H, W)`` float32 in [0, 1], breast bright (``read_mammogram_with_record``).
        fused: ``(H, W, 1 + len(clip_limits))`` float32: the original and its CLAHE channels, whole image.
        roi: ``(x0, y0, x1, y1)`` breast ROI, pixels, exclusive end.
        intensity: what turned the file's stored values into ``normalised``.
        clahe_bits: histogram depth of the CLAHE channels (``histogram_bits`` of ``normalised``).
    """

    source: Path
    normalised: np.ndarray
    fused: np.ndarray
    roi: Box
    intensity: IntensityRecord
    clahe_bits: int

    @property
    def fused_roi(self) -> np.ndarray:
        """``(h, w, C)`` view of ``fused`` inside the ROI."""
        x0, y0, x1, y1 = self.roi
        return self.fused[y0:y1, x0:x1]


def preprocessing_steps(
    path: str | os.PathLike[str],
    *,
    clip_limits: Sequence[float] = (1.0, 2.0),
    tile_grid: int = 8,
    image_height: int | None = None,
    apply_voi_lut: bool = False,
) -> PreprocessingSteps:
    """Read ``path`` (intensity), optionally resample it, find the breast ROI and fuse the whole image with CLAHE.

    Args: as :func:`preprocess_mammogram`.

    Raises:
        MammogramReadError: unreadable file.
        EmptyBreastError: no breast in the image; the message names the file.

    >>> steps = preprocessing_steps("images/<study_id>/<image_id>.dicom")  # doctest: +SKIP
    >>> steps.fused.shape, steps.clahe_bits, steps.intensity.inverted  # doctest: +SKIP
    ((3518, 2800, 3), 12, True)
    """
    path = Path(path)
    image, intensity = read_mammogram_with_record(path, apply_voi_lut=apply_voi_lut)
    if image_height is not None:
        width = max(1, round(image.shape[1] * image_height / image.shape[0]))
        image = cv2.resize(image, (width, image_height), interpolation=cv2.INTER_AREA)
    try:
        roi = breast_roi(image)
    except EmptyBreastError as error:
        raise EmptyBreastError(f"{path}: {error}") from error
    bits = histogram_bits(image, tile_grid)
    return PreprocessingSteps(source=path, normalised=image, fused=fuse_clahe(image, clip_limits, tile_grid, bits=bits),
                              roi=roi, intensity=intensity, clahe_bits=bits)


def preprocess_mammogram(
    path: str | os.PathLike[str],
    boxes_xyxy: np.ndarray | None = None,
    *,
    clip_limits: Sequence[float] = (1.0, 2.0),
    tile_grid: int = 8,
    image_height: int | None = None,
    apply_voi_lut: bool = False,
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
        apply_voi_lut: apply the DICOM VOI LUT or window (off in the paper; see ``read_mammogram_with_record``).

    Raises:
        MammogramReadError: unreadable file.
        EmptyBreastError: no breast in the image; the message names the file.
    """
    steps = preprocessing_steps(path, clip_limits=clip_limits, tile_grid=tile_grid, image_height=image_height,
                                apply_voi_lut=apply_voi_lut)
    boxes = np.zeros((0, 4)) if boxes_xyxy is None else np.asarray(boxes_xyxy, dtype=np.float64)
    return PreprocessedMammogram(
        image=np.ascontiguousarray(steps.fused_roi),
        roi=steps.roi,
        boxes_xyxy=boxes_to_roi(boxes, steps.roi),
        source=steps.source,
        intensity=steps.intensity,
        clahe_bits=steps.clahe_bits,
    )
