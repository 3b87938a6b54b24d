"""Read a mammogram from DICOM (VinDr-Mammo, CBIS-DDSM) or a plain image file (paper §3.1).

DICOM stored values go through the standard's greyscale pipeline as far as the paper needs
(PS3.4 N.2): the modality LUT (RescaleSlope/Intercept), optionally the VOI LUT or window,
then min-max scaling to [0, 1] and one inversion where the file says that low values are
bright. :func:`read_mammogram_with_record` also returns an :class:`IntensityRecord` of what
was applied to each file.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_modality_lut, apply_voi_lut

DICOM_SUFFIXES = frozenset({".dcm", ".dicom", ""})
IMAGE_SUFFIXES = frozenset({".png", ".pgm", ".tif", ".tiff"})
_PIXEL_DATA_GROUP = b"\xe0\x7f"  # group 7FE0 (Pixel Data, Float/Double Float Pixel Data), little endian


class MammogramReadError(ValueError):
    """An image file that cannot be read as a mammogram; the message names the file."""


@dataclass(frozen=True)
class IntensityRecord:
    """What turned one file's stored values into the ``[0, 1]`` image, for the image store's records.

    Attributes:
        photometric: DICOM PhotometricInterpretation (``MONOCHROME1``: low values bright); ``None`` for
            PNG/PGM/TIFF files.
        presentation_lut_shape: DICOM PresentationLUTShape (``IDENTITY``, ``INVERSE``), ``None`` when absent.
        voi_applied: ``"none"``, ``"window"`` (WindowCenter/WindowWidth) or ``"lut"`` (VOI LUT Sequence).
        window: ``(WindowCenter, WindowWidth)`` of the file's first window, applied or not; ``None`` if it has none.
        voi_lut_function: VOILUTFunction of that window (``LINEAR`` when the tag is absent), or ``None``.
        voi_lut_descriptor: ``(entries, first mapped value, bits per entry)`` of the first VOI LUT Sequence
            item, applied or not; ``None`` if the file has none.
        inverted: whether the scaled values were flipped (``1 - value``) so that the breast is bright.
        bits_stored: DICOM BitsStored, or the bit depth of an image file's pixels.
        rescale: ``(RescaleSlope, RescaleIntercept)`` applied, ``(1.0, 0.0)`` when absent.
        stored_range: smallest and largest stored value.
        scaled_range: the values (after the modality and VOI LUTs) that became 0 and 1 before any inversion.
    """

    photometric: str | None
    presentation_lut_shape: str | None
    voi_applied: str
    window: tuple[float, float] | None
    voi_lut_function: str | None
    voi_lut_descriptor: tuple[int, int, int] | None
    inverted: bool
    bits_stored: int
    rescale: tuple[float, float]
    stored_range: tuple[int, int]
    scaled_range: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (tuples become lists)."""
        return {key: list(value) if isinstance(value, tuple) else value
                for key, value in dataclasses.asdict(self).items()}


def read_mammogram(path: str | os.PathLike[str], *, apply_voi_lut: bool = False) -> np.ndarray:
    """Read one mammogram as a float32 image in [0, 1], breast bright on a dark background.

    See :func:`read_mammogram_with_record`, which also says what was applied to the file.

    Returns:
        ``(H, W)`` float32 array, values in [0, 1]. A constant image gives all zeros.

    >>> image = read_mammogram("images/<study_id>/<image_id>.dicom")  # doctest: +SKIP
    >>> image.shape, image.dtype
    ((3518, 2800), dtype('float32'))
    """
    return read_mammogram_with_record(path, apply_voi_lut=apply_voi_lut)[0]


def read_mammogram_with_record(
    path: str | os.PathLike[str], *, apply_voi_lut: bool = False
) -> tuple[np.ndarray, IntensityRecord]:
    """Read one mammogram as the paper prepares it (§3.1), and record what was applied.

    DICOM files go through pydicom: pixel data are decoded (uncompressed, RLE Lossless,
    JPEG / JPEG 2000 through the pylibjpeg plugins) and the modality LUT
    (RescaleSlope/Intercept) is applied. With ``apply_voi_lut`` the file's VOI LUT Sequence,
    else its first WindowCenter/WindowWidth, is applied next (``pydicom.pixels.apply_voi_lut``;
    nothing when the file has neither). Values are then min-max scaled to [0, 1] and inverted
    when low values are meant bright, so that the background is black.

    ``apply_voi_lut`` is off by default: the paper states only that "each image was
    initially scaled in intensity between 0–1 and inverted if the Photometric Interpretation
    tag ... was set to MONOCHROME1" (§3.1). The authors' code applies the VOI LUT; turn it
    on to run as they did. A window clips the tissue outside it; inside it, it is linear and
    min-max scaling undoes it.

    Inversion follows the standard: the image is inverted once when it is ``MONOCHROME1``
    (low values bright) or its PresentationLUTShape is ``INVERSE`` (P-value = maximum −
    value, PS3.3 C.11.6.1.2), never twice. In DX and MG "for presentation" images INVERSE
    *must* accompany MONOCHROME1 (PS3.3 C.8.11.3, DX Image Module: "INVERSE - output after
    inversion is in P-Values - shall be used if Photometric Interpretation is MONOCHROME1"),
    so there the two tags describe one and the same inversion; a MONOCHROME2 image with
    INVERSE is meant to be shown inverted, so it is inverted.

    PNG, PGM and TIFF files (8 or 16 bit, grey or colour) are read with OpenCV and
    min-max scaled the same way.

    Args:
        path: ``.dicom``/``.dcm`` (or no suffix) for DICOM; ``.png``, ``.pgm``, ``.tif``, ``.tiff`` for images.
        apply_voi_lut: apply the DICOM VOI LUT or window (ignored for image files).

    Returns:
        ``(image, record)``: ``(H, W)`` float32 in [0, 1] (a constant image gives zeros) and
        what was applied to the file.

    Raises:
        MammogramReadError: missing, non-DICOM, pixel-less, truncated or corrupt file, naming it.

    >>> image, record = read_mammogram_with_record(path, apply_voi_lut=True)  # doctest: +SKIP
    >>> record.photometric, record.voi_applied, record.inverted  # doctest: +SKIP
    ('MONOCHROME1', 'window', True)
    """
    path = Path(path)
    if not path.is_file():
        raise MammogramReadError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        values, record = _read_image_file(path)
    elif suffix in DICOM_SUFFIXES:
        values, record = _read_dicom(path, apply_voi_lut)
    else:
        raise MammogramReadError(f"{path}: unsupported file type {suffix!r}")
    image = _scale_to_unit_range(values)
    return (1.0 - image if record.inverted else image), record


def _read_dicom(path: Path, apply_voi: bool) -> tuple[np.ndarray, IntensityRecord]:
    """Values after the modality (and optionally VOI) LUT of a single-frame greyscale DICOM, and its record."""
    try:
        dataset = pydicom.dcmread(path)
    except (InvalidDicomError, EOFError, OSError, ValueError) as error:
        raise MammogramReadError(f"{path}: not a readable DICOM file ({error})") from error
    if "PixelData" not in dataset:
        # pydicom drops an encapsulated (compressed) PixelData element cut short by the end of the file.
        if _has_pixel_data_element(path):
            raise MammogramReadError(f"{path}: truncated or corrupt pixel data (the file ends inside it)")
        raise MammogramReadError(f"{path}: DICOM file has no pixel data")
    photometric = str(dataset.get("PhotometricInterpretation", "MONOCHROME2"))
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise MammogramReadError(f"{path}: expected a greyscale image, got {photometric}")
    try:
        stored = dataset.pixel_array
    except Exception as error:  # pydicom and its decoders raise several types for truncated/undecodable data
        raise MammogramReadError(f"{path}: truncated or corrupt pixel data ({error})") from error
    except BaseException as error:
        # pylibjpeg-rle (Rust) panics on some corrupt RLE segments; pyo3's PanicException is a BaseException.
        if type(error).__name__ != "PanicException":
            raise
        raise MammogramReadError(f"{path}: truncated or corrupt pixel data (RLE decoder: {error})") from error
    if stored.ndim != 2:
        raise MammogramReadError(f"{path}: expected one 2-D frame, got shape {stored.shape}")
    values = np.asarray(apply_modality_lut(stored, dataset), dtype=np.float64)
    voi_available = _voi_available(dataset)
    voi_applied = "none"
    if apply_voi and voi_available != "none":
        try:
            # A VOI LUT Sequence indexes integer values; a window takes any value.
            lut_input = np.rint(values).astype(np.int64) if voi_available == "lut" else values
            values = np.asarray(apply_voi_lut(lut_input, dataset), dtype=np.float64)
        except (ValueError, NotImplementedError, AttributeError) as error:
            raise MammogramReadError(f"{path}: cannot apply its VOI LUT or window ({error})") from error
        voi_applied = voi_available
    shape = dataset.get("PresentationLUTShape")
    shape = None if shape is None else str(shape).strip().upper()
    window = _first_window(dataset)
    record = IntensityRecord(
        photometric=photometric,
        presentation_lut_shape=shape,
        voi_applied=voi_applied,
        window=window,
        voi_lut_function=None if window is None else str(dataset.get("VOILUTFunction", "LINEAR")),
        voi_lut_descriptor=_voi_lut_descriptor(dataset),
        inverted=photometric == "MONOCHROME1" or shape == "INVERSE",
        bits_stored=int(dataset.get("BitsStored", 8 * stored.dtype.itemsize)),
        rescale=(float(dataset.get("RescaleSlope", 1.0)), float(dataset.get("RescaleIntercept", 0.0))),
        stored_range=(int(stored.min()), int(stored.max())),
        scaled_range=(float(values.min()), float(values.max())),
    )
    return values, record


def _voi_available(dataset: Dataset) -> str:
    """What ``pydicom.pixels.apply_voi_lut`` would apply: ``"lut"`` (preferred), ``"window"`` or ``"none"``."""
    if _voi_lut_descriptor(dataset) is not None and dataset.VOILUTSequence[0].get("LUTData") is not None:
        return "lut"
    return "window" if _first_window(dataset) is not None else "none"


def _first_window(dataset: Dataset) -> tuple[float, float] | None:
    """``(WindowCenter, WindowWidth)`` of the first window, or ``None``."""
    if dataset.get("WindowCenter") is None or dataset.get("WindowWidth") is None:
        return None
    centre, width = dataset["WindowCenter"], dataset["WindowWidth"]
    return (float(centre.value[0] if centre.VM > 1 else centre.value),
            float(width.value[0] if width.VM > 1 else width.value))


def _voi_lut_descriptor(dataset: Dataset) -> tuple[int, int, int] | None:
    """LUT Descriptor of the first VOI LUT Sequence item, or ``None``."""
    sequence = dataset.get("VOILUTSequence")
    if not sequence or sequence[0].get("LUTDescriptor") is None:
        return None
    entries, first_mapped, bits = (int(value) for value in sequence[0].LUTDescriptor)
    return entries, first_mapped, bits


def _has_pixel_data_element(path: Path) -> bool:
    """Whether the file holds a pixel data element after its header (read up to it, then look)."""
    try:
        with path.open("rb") as handle:
            pydicom.dcmread(handle, stop_before_pixels=True)
            return handle.read(2) == _PIXEL_DATA_GROUP
    except (InvalidDicomError, EOFError, OSError, ValueError):
        return False


def _read_image_file(path: Path) -> tuple[np.ndarray, IntensityRecord]:
    """Pixels of a PNG/PGM/TIFF file as float64 ``(H, W)`` and their record; colour is converted to grey."""
    pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise MammogramReadError(f"{path}: OpenCV cannot decode this image file")
    if pixels.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if pixels.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        pixels = cv2.cvtColor(pixels, code)
    low, high = float(pixels.min()), float(pixels.max())
    record = IntensityRecord(
        photometric=None, presentation_lut_shape=None, voi_applied="none", window=None, voi_lut_function=None,
        voi_lut_descriptor=None, inverted=False, bits_stored=8 * pixels.dtype.itemsize, rescale=(1.0, 0.0),
        stored_range=(int(low), int(high)), scaled_range=(low, high),
    )
    return pixels.astype(np.float64), record


def _scale_to_unit_range(values: np.ndarray) -> np.ndarray:
    """Min-max scale to float32 [0, 1]; a constant image maps to zeros."""
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)
