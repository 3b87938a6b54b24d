"""Read a mammogram from DICOM (VinDr-Mammo, CBIS-DDSM) or a plain image file (paper §3.1)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut

DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ""})
IMAGE_SUFFIXES = frozenset({".png", ".pgm", ".tif", ".tiff"})


class MammogramReadError(ValueError):
    """An image file that cannot be read as a mammogram; the message names the file."""


def read_mammogram(path: str | os.PathLike[str]) -> np.ndarray:
    """Read one mammogram as a float32 image in [0, 1], breast bright on a dark background.

    DICOM files go through pydicom: pixel data are decoded (uncompressed, RLE Lossless,
    JPEG / JPEG 2000 through the pylibjpeg plugins), the modality LUT
    (RescaleSlope/Intercept) is applied, values are min-max scaled to [0, 1] as in the
    paper (§3.1), and MONOCHROME1 images are inverted so that the background is black.
    PNG, PGM and TIFF files (8 or 16 bit, grey or colour) are read with OpenCV and
    min-max scaled the same way.

    Args:
        path: ``.dicom``/``.dcm`` (or no suffix) for DICOM; ``.png``, ``.pgm``, ``.tif``,
            ``.tiff`` for images.

    Returns:
        ``(H, W)`` float32 array, values in [0, 1]. A constant image gives all zeros.

    Raises:
        MammogramReadError: missing, truncated, non-DICOM or pixel-less file, naming it.

    >>> image = read_mammogram("images/<study_id>/<image_id>.dicom")  # doctest: +SKIP
    >>> image.shape, image.dtype
    ((3518, 2800), dtype('float32'))
    """
    path = Path(path)
    if not path.is_file():
        raise MammogramReadError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        values = _read_image_file(path)
        invert = False
    elif suffix in DICOM_SUFFIXES:
        values, invert = _read_dicom(path)
    else:
        raise MammogramReadError(f"{path}: unsupported file type {suffix!r}")
    image = _scale_to_unit_range(values)
    return 1.0 - image if invert else image


def _read_dicom(path: Path) -> tuple[np.ndarray, bool]:
    """Decoded, modality-rescaled pixels of a single-frame greyscale DICOM, and whether to invert."""
    try:
        dataset = pydicom.dcmread(path)
    except (InvalidDicomError, EOFError, OSError, ValueError) as error:
        raise MammogramReadError(f"{path}: not a readable DICOM file ({error})") from error
    if "PixelData" not in dataset:
        raise MammogramReadError(f"{path}: DICOM file has no pixel data")
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise MammogramReadError(f"{path}: expected a greyscale image, got {photometric}")
    try:
        stored = dataset.pixel_array
    except Exception as error:  # pydicom raises several types for truncated/undecodable data
        raise MammogramReadError(f"{path}: pixel data cannot be decoded ({error})") from error
    if stored.ndim != 2:
        raise MammogramReadError(f"{path}: expected one 2-D frame, got shape {stored.shape}")
    values = apply_modality_lut(stored, dataset)
    return np.asarray(values, dtype=np.float64), photometric == "MONOCHROME1"


def _read_image_file(path: Path) -> np.ndarray:
    """Pixels of a PNG/PGM/TIFF file as float64 ``(H, W)``; colour is converted to grey."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise MammogramReadError(f"{path}: OpenCV cannot decode this image file")
    if pixels.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if pixels.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        pixels = cv2.cvtColor(pixels, code)
    return pixels.astype(np.float64)


def _scale_to_unit_range(values: np.ndarray) -> np.ndarray:
    """Min-max scale to float32 [0, 1]; a constant image maps to zeros."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)
