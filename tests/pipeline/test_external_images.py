"""The eight real CBIS-DDSM scans through the pipeline: preprocessing at a chosen height, cached maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.config import ImagePreprocessing, PreprocessingConfig
from corrrelax_lib.data.cbis_ddsm import cbis_ddsm_files
from corrrelax_lib.pipeline.external_images import (
    explain_external_images,
    external_image_id,
    external_images,
    external_maps_directory,
    prediction_summary,
)
from corrrelax_lib.testing.models import QuadrantMeans

LABELS = ("a", "b")


@pytest.fixture(scope="module")
def two_scans():
    """The left CC and MLO views of P_00820 (malignant mass), from the PyPI package."""
    files = cbis_ddsm_files()
    return files[(files["patient"] == "P_00820") & (files["laterality"] == "L")].reset_index(drop=True)


def _explainer() -> CorRELAX:
    weight = torch.zeros(4, len(LABELS))
    weight[0, 0], weight[3, 1] = 6.0, -6.0
    return CorRELAX(QuadrantMeans(weight, torch.zeros(len(LABELS))), LABELS, window_size=32, stride=16,
                    n_masks=16, mask_chunk=16, progress=False)


def test_manifest_gives_each_breast_its_cbis_ddsm_finding():
    files = cbis_ddsm_files()
    assert len(files) == 8 and files["file"].map(lambda path: path.is_file()).all()
    findings = files.groupby(["patient", "laterality"])["finding"].unique().map(list).to_dict()
    assert findings == {("P_00173", "L"): ["benign mass"], ("P_00173", "R"): ["benign mass"],
                        ("P_00820", "L"): ["malignant mass"], ("P_00820", "R"): ["benign mass"]}


def test_scans_are_resampled_cropped_to_the_breast_and_carry_no_boxes(two_scans):
    scans = external_images(two_scans, image_height=200, preprocessing=ImagePreprocessing())
    assert [scan.image_id for scan in scans] == ["P_00820_L_CC", "P_00820_L_MLO"]
    assert [external_image_id(row) for row in two_scans.to_dict("records")] == ["P_00820_L_CC", "P_00820_L_MLO"]
    for scan, columns, rows in zip(scans, two_scans["columns"], two_scans["rows"], strict=True):
        height, width, channels = scan.image.shape
        assert scan.image.dtype == np.uint8 and channels == 3 and scan.boxes_by_label == {}
        # The ROI lies inside the resampled scan and leaves out the film's empty side.
        assert 100 < height <= 200 and width < round(columns * 200 / rows)
        assert scan.image[..., 0].mean() > 30  # breast, not the dark background


def test_maps_are_computed_once_per_scan_then_read_back(two_scans, tmp_path, monkeypatch):
    explainer = _explainer()
    preprocessing = {"image_height": 160, "preprocessing": ImagePreprocessing()}
    directory = external_maps_directory(tmp_path, "model", explainer, **preprocessing)
    assert directory != external_maps_directory(tmp_path, "model", explainer, **{**preprocessing, "image_height": 200})
    authors = ImagePreprocessing(apply_voi_lut=True, clahe_histogram="8-bit", clahe_background="zero")
    assert directory != external_maps_directory(tmp_path, "model", explainer, image_height=160, preprocessing=authors)
    # Keyed by the image preprocessing alone: a profile's section gives the folder of its ImagePreprocessing.
    assert directory == external_maps_directory(tmp_path, "model", explainer, image_height=160,
                                                preprocessing=PreprocessingConfig(external_image_height=160))
    scans, maps = explain_external_images(explainer, two_scans, directory, **preprocessing)
    assert sorted(maps) == ["P_00820_L_CC", "P_00820_L_MLO"]
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        f"P_00820_L_{view}.{suffix}" for view in ("CC", "MLO") for suffix in ("json", "npz"))
    assert maps["P_00820_L_CC"].pixel_map("distance").shape == scans[0].image.shape[:2]

    def no_compute(*args, **kwargs):
        raise AssertionError("a cached scan was explained again")

    monkeypatch.setattr(CorRELAX, "explain", no_compute)
    _, again = explain_external_images(explainer, two_scans, directory, **preprocessing)
    np.testing.assert_array_equal(again["P_00820_L_MLO"].window_predictions, maps["P_00820_L_MLO"].window_predictions)


def test_prediction_summary_is_the_mean_and_max_over_computed_windows(two_scans, tmp_path):
    explainer = _explainer()
    _, maps = explain_external_images(explainer, two_scans, tmp_path, image_height=160,
                                      preprocessing=ImagePreprocessing())
    summary = prediction_summary(maps, LABELS)
    assert list(summary.index) == list(maps)
    for image_id, image_maps in maps.items():
        smoothed = image_maps.window_map("prediction", "a")
        assert summary.loc[image_id, ("a", "mean")] == pytest.approx(np.nanmean(smoothed))
        assert summary.loc[image_id, ("a", "max")] == pytest.approx(np.nanmax(smoothed))
        assert 0.0 <= summary.loc[image_id, ("b", "mean")] <= summary.loc[image_id, ("b", "max")] <= 1.0
