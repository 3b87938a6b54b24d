"""read_mammogram: photometric inversion, VOI LUT / window, records, bit depths, syntaxes, bad files.

The real CBIS-DDSM scans are read in ``tests/real_data``.
"""

from __future__ import annotations

import json
import struct

import cv2
import numpy as np
import pytest
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from corrrelax_lib.io import MammogramReadError, read_mammogram
from corrrelax_lib.io.mammogram import read_mammogram_with_record
from corrrelax_lib.testing.dicom import breast_like_image, write_test_dicom

#: A window over the bright half of the breast (breast_like_image: 2047 at the skin to 4095 inside).
WINDOW = (3072.0, 1024.0)


@pytest.fixture
def breast() -> np.ndarray:
    return breast_like_image(levels=4095)


def test_monochrome1_is_inverted_to_a_bright_breast(tmp_path, breast):
    mono2 = read_mammogram(write_test_dicom(tmp_path / "m2.dicom", breast, bits_stored=12))
    mono1 = read_mammogram(
        write_test_dicom(tmp_path / "m1.dicom", 4095 - breast, photometric="MONOCHROME1", bits_stored=12)
    )
    np.testing.assert_allclose(mono1, mono2, atol=1e-6)
    assert mono1[0, -1] == 0.0  # background corner is black
    assert mono1[48, 0] == 1.0  # breast centre at the chest wall is the brightest


def linear_window(values: np.ndarray, centre: float, width: float) -> np.ndarray:
    """PS3.3 C.11.2.1.2.1 (VOILUTFunction LINEAR) onto [0, 1]."""
    return np.clip((values - (centre - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)


@pytest.mark.parametrize("photometric", ["MONOCHROME1", "MONOCHROME2"])
def test_inverse_presentation_lut_means_one_inversion(tmp_path, breast, photometric):
    """DX/MG: INVERSE goes with MONOCHROME1 and is the same inversion; MONOCHROME2 with INVERSE is inverted too."""
    path = write_test_dicom(tmp_path / "inverse.dicom", 4095 - breast, photometric=photometric, bits_stored=12,
                            presentation_lut_shape="INVERSE")
    image, record = read_mammogram_with_record(path)
    np.testing.assert_allclose(image, breast / 4095, atol=1e-6)
    assert record.inverted and record.photometric == photometric and record.presentation_lut_shape == "INVERSE"


def test_identity_presentation_lut_changes_nothing(tmp_path, breast):
    path = write_test_dicom(tmp_path / "identity.dicom", breast, bits_stored=12, presentation_lut_shape="IDENTITY")
    image, record = read_mammogram_with_record(path)
    np.testing.assert_allclose(image, breast / 4095, atol=1e-6)
    assert not record.inverted and record.presentation_lut_shape == "IDENTITY"


def test_voi_window_is_off_by_default_and_clips_when_applied(tmp_path, breast):
    path = write_test_dicom(tmp_path / "window.dicom", breast, bits_stored=12, window=WINDOW)
    plain, plain_record = read_mammogram_with_record(path)
    np.testing.assert_allclose(plain, breast / 4095, atol=1e-6)  # the paper: min-max scaling only
    assert plain_record.voi_applied == "none" and plain_record.window == WINDOW
    windowed, record = read_mammogram_with_record(path, apply_voi_lut=True)
    np.testing.assert_allclose(windowed, linear_window(breast, *WINDOW), atol=1e-6)
    np.testing.assert_array_equal(read_mammogram(path, apply_voi_lut=True), windowed)
    assert record.voi_applied == "window" and record.voi_lut_function == "LINEAR"
    assert (windowed == 0).mean() > (plain == 0).mean()  # the skin half of the breast is clipped to black


def test_voi_window_of_monochrome1_is_applied_before_the_inversion(tmp_path, breast):
    centre, width = WINDOW
    path = write_test_dicom(tmp_path / "m1.dicom", 4095 - breast, photometric="MONOCHROME1", bits_stored=12,
                            window=(4095 - centre, width), presentation_lut_shape="INVERSE")
    image, record = read_mammogram_with_record(path, apply_voi_lut=True)
    assert record.voi_applied == "window" and record.inverted
    np.testing.assert_allclose(image, linear_window(breast, *WINDOW), atol=2 / width)


def test_voi_lut_sequence_is_preferred_over_the_window(tmp_path, breast):
    table = np.round(65535 * (np.arange(4096) / 4095) ** 3).astype(np.uint16)  # a strongly non-linear VOI LUT
    path = write_test_dicom(tmp_path / "lut.dicom", breast, bits_stored=12, window=WINDOW, voi_lut=(0, table))
    image, record = read_mammogram_with_record(path, apply_voi_lut=True)
    mapped = table[breast].astype(float)
    np.testing.assert_allclose(image, (mapped - mapped.min()) / (mapped.max() - mapped.min()), atol=1e-6)
    assert record.voi_applied == "lut" and record.voi_lut_descriptor == (4096, 0, 16) and record.window == WINDOW


def test_record_says_what_was_applied(tmp_path, breast):
    path = write_test_dicom(tmp_path / "r.dicom", breast, bits_stored=12, rescale=(1.0, -512.0), window=WINDOW,
                            voi_lut_function="LINEAR_EXACT")
    _, record = read_mammogram_with_record(path)
    assert record.photometric == "MONOCHROME2" and record.presentation_lut_shape is None
    assert record.voi_applied == "none" and record.voi_lut_function == "LINEAR_EXACT"
    assert record.voi_lut_descriptor is None and not record.inverted
    assert record.bits_stored == 12 and record.rescale == (1.0, -512.0)
    assert record.stored_range == (0, 4095) and record.scaled_range == (-512.0, 3583.0)
    assert json.loads(json.dumps(record.to_dict()))["window"] == list(WINDOW)


def test_image_file_record(tmp_path, breast):
    path = tmp_path / "image.png"
    assert cv2.imwrite(str(path), breast)
    _, record = read_mammogram_with_record(path, apply_voi_lut=True)
    assert record.photometric is None and record.voi_applied == "none" and not record.inverted
    assert record.bits_stored == 16 and record.stored_range == (0, 4095)


@pytest.mark.parametrize("bits_stored", [8, 12, 14, 16])
def test_bit_depths_scale_to_unit_range(tmp_path, bits_stored):
    stored = breast_like_image(levels=2**bits_stored - 1)
    image = read_mammogram(write_test_dicom(tmp_path / "b.dicom", stored, bits_stored=bits_stored))
    assert image.dtype == np.float32 and image.shape == stored.shape
    assert image.min() == 0.0 and image.max() == 1.0
    np.testing.assert_allclose(image, stored / stored.max(), atol=1e-6)


def test_modality_lut_is_applied(tmp_path, breast):
    """A negative rescale slope turns high stored values dark: proof the LUT is used."""
    image = read_mammogram(write_test_dicom(tmp_path / "r.dicom", 4095 - breast, bits_stored=12, rescale=(-1, 4095)))
    np.testing.assert_allclose(image, breast / breast.max(), atol=1e-6)


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless], ids=["rle", "jpeg2000"])
def test_compressed_transfer_syntaxes_decode_losslessly(tmp_path, breast, syntax):
    image = read_mammogram(write_test_dicom(tmp_path / "c.dicom", breast, bits_stored=12, transfer_syntax=syntax))
    np.testing.assert_allclose(image, breast / breast.max(), atol=1e-6)


@pytest.mark.parametrize(("suffix", "dtype"), [(".png", np.uint16), (".png", np.uint8), (".tif", np.uint16),
                                               (".pgm", np.uint8)])
def test_image_files(tmp_path, breast, suffix, dtype):
    stored = (breast // 16).astype(dtype) if dtype == np.uint8 else breast
    path = tmp_path / f"image{suffix}"
    assert cv2.imwrite(str(path), stored)
    np.testing.assert_allclose(read_mammogram(path), stored / stored.max(), atol=1e-6)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(MammogramReadError, match=r"nowhere\.dicom: no such file"):
        read_mammogram(tmp_path / "nowhere.dicom")


def test_non_dicom_file_is_named(tmp_path):
    path = tmp_path / "notes.dicom"
    path.write_text("this is not a DICOM file")
    with pytest.raises(MammogramReadError, match=r"notes\.dicom: not a readable DICOM"):
        read_mammogram(path)


def test_truncated_dicom_is_named(tmp_path, breast):
    path = write_test_dicom(tmp_path / "cut.dicom", breast, bits_stored=12)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(MammogramReadError, match=r"cut\.dicom"):
        read_mammogram(path)


@pytest.mark.filterwarnings("ignore:End of file reached before delimiter")
@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, ExplicitVRLittleEndian],
                         ids=["rle", "jpeg2000", "uncompressed"])
def test_truncated_pixel_data_is_reported_as_such(tmp_path, breast, syntax):
    """pydicom silently drops compressed pixel data cut short by the end of the file: not "no pixel data"."""
    path = write_test_dicom(tmp_path / "cut.dicom", breast, bits_stored=12, transfer_syntax=syntax)
    path.write_bytes(path.read_bytes()[: round(0.9 * path.stat().st_size)])
    with pytest.raises(MammogramReadError, match=r"cut\.dicom: truncated or corrupt pixel data"):
        read_mammogram(path)


def _first_fragment(data: bytes) -> tuple[int, int]:
    """``(offset, length)`` of the first fragment of encapsulated pixel data (after the basic offset table)."""
    table = data.rfind(b"\xe0\x7f\x10\x00") + 12  # (7FE0,0010) OB, reserved, undefined length
    fragment = table + 8 + struct.unpack("<I", data[table + 4:table + 8])[0]
    return fragment + 8, struct.unpack("<I", data[fragment + 4:fragment + 8])[0]


@pytest.mark.parametrize("damage", ["zeroed-segment", "short-fragment", "garbage-header"])
def test_corrupt_rle_pixel_data_is_named(tmp_path, breast, damage):
    path = write_test_dicom(tmp_path / "bad.dicom", breast, bits_stored=12, transfer_syntax=RLELossless)
    data = path.read_bytes()
    start, length = _first_fragment(data)
    if damage == "zeroed-segment":  # pylibjpeg-rle panics on this one (a BaseException)
        data = data[: start + length // 2] + bytes(200) + data[start + length // 2 + 200:]
    elif damage == "short-fragment":
        data = data[: start - 4] + struct.pack("<I", length - 100) + data[start:start + length - 100] + \
            data[start + length:]
    else:
        data = data[:start] + b"\xff" * 64 + data[start + 64:]
    path.write_bytes(data)
    with pytest.raises(MammogramReadError, match=r"bad\.dicom: truncated or corrupt pixel data"):
        read_mammogram(path)


def test_dicom_without_pixel_data_is_named(tmp_path, breast):
    path = write_test_dicom(tmp_path / "empty.dicom", breast, with_pixels=False)
    with pytest.raises(MammogramReadError, match=r"empty\.dicom: DICOM file has no pixel data"):
        read_mammogram(path)


def test_undecodable_image_file_is_named(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG not really")
    with pytest.raises(MammogramReadError, match=r"broken\.png: OpenCV cannot decode"):
        read_mammogram(path)
