"""Image and ROI sizes over a dataset: read as the study's preprocessing reads (VOI LUT or not)."""

from __future__ import annotations

import pandas as pd

from corrrelax_lib.data.roi_statistics import roi_size_table, size_summary
from corrrelax_lib.data.vindr import image_path
from corrrelax_lib.testing.dicom import breast_like_image, write_test_dicom


def test_roi_sizes_follow_the_voi_option(tmp_path):
    """A window clipping the outer half of the breast (stored 2047-2560) to black gives a smaller ROI."""
    path = image_path(tmp_path, "s1", "w")
    path.parent.mkdir(parents=True)
    write_test_dicom(path, breast_like_image(192, 144), bits_stored=12, window=(3072.0, 1024.0))
    images = pd.DataFrame({"study_id": ["s1"], "image_id": ["w"], "split": ["training"], "view_position": ["CC"]})
    plain = roi_size_table(tmp_path, images, apply_voi_lut=False).iloc[0]
    windowed = roi_size_table(tmp_path, images, apply_voi_lut=True).iloc[0]
    assert (plain["height"], plain["width"]) == (windowed["height"], windowed["width"]) == (192, 144)
    assert windowed["roi_height"] < plain["roi_height"] and windowed["roi_width"] < plain["roi_width"]
    summary = size_summary(roi_size_table(tmp_path, images, apply_voi_lut=True))
    assert summary.loc["roi", "height mean"] == windowed["roi_height"]
