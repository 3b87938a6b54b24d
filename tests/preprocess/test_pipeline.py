"""One mammogram through §3.1's preprocessing, optionally resampled to a chosen height first; the full-size phantom."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from corrrelax_lib.config import ImagePreprocessing
from corrrelax_lib.data.vindr import BREAST_CSV, image_path, read_breast_annotations
from corrrelax_lib.io.mammogram import read_mammogram_with_record
from corrrelax_lib.preprocess import breast_mask, fuse_clahe
from corrrelax_lib.preprocess.clahe import clahe_effect, histogram_bits
from corrrelax_lib.preprocess.pipeline import clahe_fusion, preprocess_mammogram, preprocessing_steps
from corrrelax_lib.testing.dicom import breast_like_image, write_test_dicom
from corrrelax_lib.windows.grid import window_grid


@pytest.fixture
def scan(tmp_path):
    """A 16-bit 400 × 300 PNG: dark background, a bright half-disc breast on the left."""
    yy, xx = np.mgrid[:400, :300]
    breast = (xx / 150.0) ** 2 + ((yy - 200) / 180.0) ** 2 < 1.0
    path = tmp_path / "scan.png"
    cv2.imwrite(str(path), np.where(breast, 40000, 500).astype(np.uint16))
    return path


def test_resampling_scales_the_roi_and_keeps_the_aspect(scan):
    native = preprocess_mammogram(scan)
    half = preprocess_mammogram(scan, image_height=200)
    assert native.roi[3] - native.roi[1] == pytest.approx(2 * (half.roi[3] - half.roi[1]), rel=0.05)
    assert native.roi[2] - native.roi[0] == pytest.approx(2 * (half.roi[2] - half.roi[0]), rel=0.05)
    assert half.image.shape[2] == 3 and half.image.shape[0] <= 200


def test_boxes_given_in_resampled_pixels_move_into_the_roi(scan):
    half = preprocess_mammogram(scan, np.array([[10.0, 90.0, 30.0, 110.0]]), image_height=200)
    x0, y0 = half.roi[:2]
    np.testing.assert_allclose(half.boxes_xyxy, [[10.0 - x0, 90.0 - y0, 30.0 - x0, 110.0 - y0]])


def test_voi_option_reaches_the_fused_image_and_the_record(tmp_path):
    stored = breast_like_image(192, 144)
    path = write_test_dicom(tmp_path / "w.dicom", stored, bits_stored=12, window=(3072.0, 1024.0))
    plain = preprocess_mammogram(path)
    windowed = preprocess_mammogram(path, preprocessing=ImagePreprocessing(apply_voi_lut=True))
    assert plain.intensity.voi_applied == "none" and windowed.intensity.voi_applied == "window"
    assert plain.intensity.window == windowed.intensity.window == (3072.0, 1024.0)
    # The window clips the outer half of the breast (stored 2047-2560) to black: a smaller ROI inside the plain one.
    (px0, py0, px1, py1), (wx0, wy0, wx1, wy1) = plain.roi, windowed.roi
    assert px0 <= wx0 and py0 <= wy0 and wx1 <= px1 and wy1 <= py1 and (wx1 - wx0) * (wy1 - wy0) < 0.7 * (
        (px1 - px0) * (py1 - py0))
    assert plain.clahe_bits == windowed.clahe_bits == 8  # 192 x 144 px: tiles of 432 pixels


def test_full_size_phantom_through_the_pipeline(tiny_data_root):
    """The phantom study at VinDr-Mammo's size (12-bit data with a VOI window in 16-bit containers)."""
    breasts = read_breast_annotations(tiny_data_root / BREAST_CSV)
    full_size = breasts[breasts["height"] > 3000]
    assert len(full_size) == 4 and set(full_size["split"]) == {"training"}
    row = full_size.iloc[0]
    path = image_path(tiny_data_root, row["study_id"], row["image_id"])
    image, record = read_mammogram_with_record(path)
    assert image.shape == (row["height"], row["width"]) and record.window is not None
    assert 8 < histogram_bits(image) <= record.bits_stored < 16  # limited by the data, not by the large tiles
    clip_limits = (1.0, 2.0)
    effect = clahe_effect(image, fuse_clahe(image, clip_limits), breast_mask(image), clip_limits)
    assert effect["ratio"].between(0.75, 1 / 0.75).all() and effect["ours"].is_monotonic_increasing, effect
    mammogram = preprocess_mammogram(path, preprocessing=ImagePreprocessing(apply_voi_lut=True))
    assert mammogram.intensity.voi_applied in ("window", "lut") and mammogram.clahe_bits > 8
    grid = window_grid(*mammogram.image.shape[:2], window_size=256, stride=48)
    assert grid.n_rows * grid.n_cols > 100  # a full-size ROI: as many windows as on VinDr-Mammo


def test_the_8bit_option_runs_clahe_on_an_8bit_histogram(tmp_path):
    """The authors' depth: 8 bits, OpenCV's 8-bit CLAHE; the paper's default here: 10 bits from the data."""
    path = write_test_dicom(tmp_path / "b.dicom", breast_like_image(512, 384), bits_stored=12)
    data = preprocessing_steps(path)
    eight_bit = preprocessing_steps(path, ImagePreprocessing(clahe_histogram="8-bit"))
    assert (data.clahe_bits, eight_bit.clahe_bits) == (10, 8)
    np.testing.assert_array_equal(eight_bit.normalised, data.normalised)
    np.testing.assert_array_equal(eight_bit.fused, fuse_clahe(data.normalised, (1.0, 2.0), 8, bits=8))
    assert np.abs(eight_bit.fused[..., 1:] - data.fused[..., 1:]).max() > 1 / 255
    fused, bits = clahe_fusion(data.normalised, ImagePreprocessing(clahe_histogram="8-bit", clahe_background="zero"))
    assert bits == 8 and (fused[data.normalised < 1 / 255, 1:] == 0).all()
    assert preprocess_mammogram(path, preprocessing=ImagePreprocessing(clahe_histogram="8-bit")).clahe_bits == 8
