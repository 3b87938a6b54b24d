"""Breast ROI: keeps the breast and its faint skin line, leaves out film labels; clear error without breast.

The real CBIS-DDSM scans are checked in ``tests/real_data``.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from corrrelax_lib.data.vindr import image_path, read_finding_annotations
from corrrelax_lib.io import read_mammogram
from corrrelax_lib.preprocess import EmptyBreastError, boxes_to_roi, breast_roi
from corrrelax_lib.preprocess.pipeline import preprocess_mammogram
from corrrelax_lib.testing.cbis_ddsm import contains, overlaps
from corrrelax_lib.testing.dicom import write_test_dicom


def synthetic_mammogram() -> np.ndarray:
    """Bright half-ellipse breast with a faint outer zone and skin line, plus a bright text label."""
    image = np.zeros((400, 300), np.float32)
    rows, cols = np.mgrid[0:400, 0:300]
    radius = np.sqrt(((rows - 200) / 150.0) ** 2 + (cols / 150.0) ** 2)
    image[radius < 1.0] = 0.6
    image[(radius >= 1.0) & (radius < 1.06)] = 0.12  # faint periphery, below Otsu's cut
    image[(radius >= 1.06) & (radius < 1.08)] = 0.15  # skin line, out to 1.08 * 150 = 162 px
    label = np.zeros(image.shape, np.uint8)
    cv2.putText(label, "L CC", (200, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, 255, 3)
    image = np.maximum(image, label / 255.0).astype(np.float32)
    noise = np.random.default_rng(0).normal(0, 0.01, image.shape).astype(np.float32)
    return np.clip(image + noise, 0, 1)


def test_roi_keeps_faint_skin_line_and_drops_label():
    x0, y0, x1, y1 = breast_roi(synthetic_mammogram(), margin_fraction=0.0)
    assert x0 == 0
    assert 158 <= x1 <= 168  # the skin line ends at 162 px; Otsu alone stops near 150
    assert 32 <= y0 <= 42 and 358 <= y1 <= 368  # 200 -/+ 162
    assert not overlaps((x0, y0, x1, y1), (200, 10, 300, 50))


def test_margin_grows_the_roi_inside_the_image():
    tight = breast_roi(synthetic_mammogram(), margin_fraction=0.0)
    grown = breast_roi(synthetic_mammogram(), margin_fraction=0.02)  # 6 px on a 300 px side
    assert grown == (0, tight[1] - 6, tight[2] + 6, tight[3] + 6)


def test_all_black_image_raises():
    with pytest.raises(EmptyBreastError, match="no breast found"):
        breast_roi(np.zeros((64, 64), np.float32))


def test_all_black_dicom_error_names_the_file(tmp_path):
    path = write_test_dicom(tmp_path / "black.dicom", np.zeros((64, 48), np.uint16), bits_stored=12)
    with pytest.raises(EmptyBreastError, match=r"black\.dicom: no breast found"):
        preprocess_mammogram(path)


def test_boxes_move_into_roi_and_are_clipped():
    boxes = np.array([[10, 20, 30, 40], [0, 0, 500, 500], [600, 600, 700, 700]])
    moved = boxes_to_roi(boxes, (5, 10, 105, 210))
    np.testing.assert_array_equal(moved, [[5, 10, 25, 30], [0, 0, 100, 200], [100, 200, 100, 200]])


def test_roi_keeps_every_phantom_box(tiny_data_root):
    findings = read_finding_annotations(tiny_data_root / "finding_annotations.csv")
    boxes = findings.dropna(subset=["xmin"])
    assert len(boxes) > 100
    for image_id, group in boxes.groupby("image_id"):
        first = group.iloc[0]
        roi = breast_roi(read_mammogram(image_path(tiny_data_root, first["study_id"], image_id)))
        for box in group[["xmin", "ymin", "xmax", "ymax"]].itertuples(index=False):
            assert contains(roi, tuple(box)), (image_id, roi, tuple(box), list(group["finding_categories"]))


def test_scanner_border_touching_the_breast_is_not_the_breast():
    """A bright 2-px frame (0.7% of the side, ~19 px on a CBIS-DDSM scan) touches the breast at the chest wall."""
    image = synthetic_mammogram()
    image[:2, :] = image[-2:, :] = image[:, :2] = image[:, -2:] = 1.0
    _, y0, x1, y1 = breast_roi(image, margin_fraction=0.0)
    # the breast spans y 32..368; growth into the periphery band (5% of 300 px) is all the frame may add
    assert 32 - 15 <= y0 and y1 <= 368 + 15
    assert x1 <= 168


def test_thicker_borders_need_a_larger_opening():
    """A 4-px frame survives the default 6-px opening; ``opening_fraction`` is the knob for it."""
    image = synthetic_mammogram()
    image[:4, :] = image[-4:, :] = image[:, :4] = image[:, -4:] = 1.0
    assert breast_roi(image, margin_fraction=0.0) == (0, 0, 300, 400)
    _, y0, x1, y1 = breast_roi(image, margin_fraction=0.0, opening_fraction=0.04)
    assert 17 <= y0 and y1 <= 383 and x1 <= 168
