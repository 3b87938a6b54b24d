"""One mammogram through the paper's preprocessing (§3.1): read (intensity), CLAHE fusion, ROI crop.

What each step does is an :class:`~corrrelax_lib.config.ImagePreprocessing` (a profile's ``preprocessing``
section): the paper's by default, the authors' code's with ``apply_voi_lut``, ``clahe_histogram="8-bit"``
and ``clahe_background="zero"``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from corrrelax_lib.config.schema import ImagePreprocessing
from corrrelax_lib.io.mammogram import IntensityRecord, read_mammogram_with_record
from corrrelax_lib.preprocess.clahe import fuse_clahe, histogram_bits
from corrrelax_lib.preprocess.roi import Box, EmptyBreastError, boxes_to_roi, breast_roi

#: The paper's preprocessing (§3.1): no VOI LUT, CLAHE 1.0 and 2.0 on 8 × 8 tiles (histogram depth from the data).
PAPER_PREPROCESSING = ImagePreprocessing()


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
        clahe_bits: histogram depth of the CLAHE channels (chosen from the data, see ``histogram_bits``, or 8).
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
        clahe_bits: histogram depth of the CLAHE channels (``histogram_bits`` of ``normalised``, or 8).
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


def clahe_fusion(image: np.ndarray, preprocessing: ImagePreprocessing) -> tuple[np.ndarray, int]:
    """The original and its CLAHE channels (:func:`~corrrelax_lib.preprocess.clahe.fuse_clahe`) as ``preprocessing``
    says.

    Args:
        image: ``(H, W)`` float in [0, 1], breast bright.
        preprocessing: clip limits, tiles, histogram depth (``"data"``: :func:`histogram_bits` of ``image``;
            ``"8-bit"``: 8) and background.

    Returns:
        ``(fused, bits)``: ``(H, W, 1 + len(clip_limits))`` float32 and the histogram depth used.
    """
    tile_grid = preprocessing.clahe_tile_grid
    bits = 8 if preprocessing.clahe_histogram == "8-bit" else histogram_bits(image, tile_grid)
    fused = fuse_clahe(image, preprocessing.clahe_clip_limits, tile_grid, bits=bits,
                       background=preprocessing.clahe_background)
    return fused, bits


def preprocessing_steps(
    path: str | os.PathLike[str],
    preprocessing: ImagePreprocessing = PAPER_PREPROCESSING,
    *,
    image_height: int | None = None,
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
    image, intensity = read_mammogram_with_record(path, apply_voi_lut=preprocessing.apply_voi_lut)
    if image_height is not None:
        width = max(1, round(image.shape[1] * image_height / image.shape[0]))
        image = cv2.resize(image, (width, image_height), interpolation=cv2.INTER_AREA)
    try:
        roi = breast_roi(image)
    except EmptyBreastError as error:
        raise EmptyBreastError(f"{path}: {error}") from error
    fused, bits = clahe_fusion(image, preprocessing)
    return PreprocessingSteps(source=path, normalised=image, fused=fused, roi=roi, intensity=intensity,
                              clahe_bits=bits)


def preprocess_mammogram(
    path: str | os.PathLike[str],
    boxes_xyxy: np.ndarray | None = None,
    preprocessing: ImagePreprocessing = PAPER_PREPROCESSING,
    *,
    image_height: int | None = None,
) -> PreprocessedMammogram:
    """Read ``path``, fuse it with its CLAHE versions, crop to the breast ROI, move boxes along.

    With ``image_height`` the whole mammogram is first resampled (area interpolation, aspect kept) to that
    many rows, e.g. to bring a scan from another site to the pixel scale the classifier was trained at;
    ``roi`` and the returned boxes are then in resampled pixels, and ``boxes_xyxy`` must be given in them too.

    Args:
        path: DICOM or image file.
        boxes_xyxy: ``(N, 4)`` boxes in original-image pixels, or ``None``.
        preprocessing: VOI LUT (off in the paper; see ``read_mammogram_with_record``), CLAHE clip limits
            (paper: 1.0 and 2.0), tiles (paper: 8), histogram depth and background.
        image_height: rows to resample the mammogram to before preprocessing; ``None`` keeps its size.

    Raises:
        MammogramReadError: unreadable file.
        EmptyBreastError: no breast in the image; the message names the file.
    """
    steps = preprocessing_steps(path, preprocessing, image_height=image_height)
    boxes = np.zeros((0, 4)) if boxes_xyxy is None else np.asarray(boxes_xyxy, dtype=np.float64)
    return PreprocessedMammogram(
        image=np.ascontiguousarray(steps.fused_roi),
        roi=steps.roi,
        boxes_xyxy=boxes_to_roi(boxes, steps.roi),
        source=steps.source,
        intensity=steps.intensity,
        clahe_bits=steps.clahe_bits,
    )
