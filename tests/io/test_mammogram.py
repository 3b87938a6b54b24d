"""read_mammogram: photometric inversion, bit depths, compressed syntaxes, real CBIS-DDSM, bad files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from pydicom.uid import JPEG2000Lossless, RLELossless

from corrrelax_lib.data.cbis_ddsm import cbis_ddsm_files
from corrrelax_lib.io import MammogramReadError, read_mammogram
from corrrelax_lib.testing.dicom import breast_like_image, write_test_dicom


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


def test_real_cbis_ddsm_scans_read_with_sane_shape_and_range():
    files = cbis_ddsm_files()
    assert len(files) == 8
    for row in files.itertuples():
        image = read_mammogram(row.file)
        assert image.shape == (row.rows, row.columns)
        assert image.dtype == np.float32 and image.min() == 0.0 and image.max() == 1.0
        # breast against the chest wall is much brighter than the opposite border
        chest, far = (slice(None), slice(0, 400)), (slice(None), slice(-600, -200))
        if row.laterality == "R":
            chest, far = far, chest
        middle = slice(row.rows // 3, 2 * row.rows // 3)
        assert image[middle, chest[1]].mean() > image[middle, far[1]].mean() + 0.2, row.path


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


def test_dicom_without_pixel_data_is_named(tmp_path, breast):
    path = write_test_dicom(tmp_path / "empty.dicom", breast, with_pixels=False)
    with pytest.raises(MammogramReadError, match=r"empty\.dicom: DICOM file has no pixel data"):
        read_mammogram(path)


def test_undecodable_image_file_is_named(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG not really")
    with pytest.raises(MammogramReadError, match=r"broken\.png: OpenCV cannot decode"):
        read_mammogram(path)
