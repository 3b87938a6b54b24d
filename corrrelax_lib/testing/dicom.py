"""Write small DICOM files with chosen photometric interpretation, bit depth, display tags and transfer syntax."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

from corrrelax_lib.data.phantom.dicom import add_display_tags

MAMMOGRAPHY_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"


def write_test_dicom(
    path: str | os.PathLike[str],
    stored: np.ndarray,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 16,
    transfer_syntax: UID = ExplicitVRLittleEndian,
    rescale: tuple[float, float] | None = None,
    window: tuple[float, float] | None = None,
    voi_lut_function: str | None = None,
    voi_lut: tuple[int, np.ndarray] | None = None,
    presentation_lut_shape: str | None = None,
    with_pixels: bool = True,
) -> Path:
    """Write ``stored`` (``(H, W)`` unsigned ints) as a single-frame MG DICOM file.

    Args:
        stored: the stored pixel values, ``< 2**bits_stored``.
        photometric: ``MONOCHROME1`` (high = dark) or ``MONOCHROME2``.
        bits_stored: 8 (BitsAllocated 8) or 9–16 (BitsAllocated 16).
        transfer_syntax: any syntax ``Dataset.compress`` can encode, or uncompressed.
        rescale: ``(slope, intercept)`` of the modality LUT, or none.
        window, voi_lut_function, voi_lut, presentation_lut_shape: display tags, see
            :func:`~corrrelax_lib.data.phantom.dicom.add_display_tags` (none by default).
        with_pixels: ``False`` writes a file without PixelData.
    """
    stored = np.asarray(stored)
    if stored.max(initial=0) >= 2**bits_stored:
        raise ValueError(f"values up to {stored.max()} do not fit in {bits_stored} bits")
    dataset = Dataset()
    dataset.file_meta = FileMetaDataset()
    dataset.file_meta.MediaStorageSOPClassUID = MAMMOGRAPHY_FOR_PRESENTATION
    dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(path)])
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.SOPClassUID = MAMMOGRAPHY_FOR_PRESENTATION
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID
    dataset.Modality = "MG"
    dataset.PatientName = "TEST^SYNTHETIC"
    dataset.Rows, dataset.Columns = stored.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = photometric
    dataset.BitsAllocated = 8 if bits_stored <= 8 else 16
    dataset.BitsStored = bits_stored
    dataset.HighBit = bits_stored - 1
    dataset.PixelRepresentation = 0
    if rescale is not None:
        dataset.RescaleSlope, dataset.RescaleIntercept = rescale
    add_display_tags(dataset, window=window, voi_lut_function=voi_lut_function, voi_lut=voi_lut,
                     presentation_lut_shape=presentation_lut_shape)
    if with_pixels:
        dtype = np.uint8 if bits_stored <= 8 else np.uint16
        dataset.PixelData = stored.astype(dtype).tobytes()
        if transfer_syntax != ExplicitVRLittleEndian:
            dataset.compress(transfer_syntax, encoding_plugin="pylibjpeg")
    path = Path(path)
    dataset.save_as(path, enforce_file_format=True)
    return path


def breast_like_image(height: int = 96, width: int = 72, levels: int = 4095) -> np.ndarray:
    """``(H, W)`` uint16 half-ellipse "breast" against the left edge, values in ``[0, levels]``.

    Hand-checkable: background 0, breast ``levels // 2`` rising to ``levels`` at its centre.
    """
    rows, cols = np.mgrid[0:height, 0:width]
    radius = ((rows - height / 2) / (0.45 * height)) ** 2 + (cols / (0.7 * width)) ** 2
    breast = np.where(radius < 1, levels // 2 + (levels - levels // 2) * (1 - radius), 0)
    return np.round(breast).astype(np.uint16)
