"""One mammogram through §3.1's preprocessing, optionally resampled to a chosen height first."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from corrrelax_lib.preprocess.pipeline import preprocess_mammogram


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
