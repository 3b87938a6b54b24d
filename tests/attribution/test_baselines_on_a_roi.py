"""Every baseline explains a ROI whole and window by window: maps of the ROI's shape, finite on the breast, NaN off
it, in each method's range, and the model left as it was (no gradients, hooks or frozen parameters)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrrelax_lib.attribution import BASELINES
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.testing.models import gradient_state_left

#: Methods whose maps are never negative (Grad-CAM's ReLU, |gradient|, mean probabilities); Eigen-CAM and RELAX
#: may be.
NON_NEGATIVE = {"Grad-CAM", "Grad-CAM++", "Gradient saliency", "RISE"}
MASKED = {"RISE", "RELAX"}


@pytest.mark.parametrize("mode", ["whole", "windows"])
@pytest.mark.parametrize("method", sorted(BASELINES))
def test_explain_gives_roi_maps_in_both_modes(method, mode):
    torch.manual_seed(0)
    model = MultiLabelClassifier("small_cnn", 2).eval()
    image = np.random.default_rng(0).random((70, 90, 3)).astype(np.float32)
    foreground = np.zeros((70, 90), bool)
    foreground[:, :60] = True
    options = {"n_masks": 16} if method in MASKED else {}
    explainer = BASELINES[method](model, ["a", "b"], mode=mode, image_size=64, window_size=32, stride=16,
                                  batch_size=5, progress=False, **options)
    maps = explainer.explain(image, foreground)
    assert maps.heatmaps.shape == (2, 70, 90) and maps.method == method
    inside = maps.heatmaps[:, foreground]
    assert np.isfinite(inside).all()
    assert np.isnan(maps.heatmaps[:, :, 80:]).all()
    if method in NON_NEGATIVE:
        assert (inside >= 0).all()
    if method == "RISE":
        assert (inside < 2).all() and maps.metadata["n_masks"] == 16
    if method in {"Eigen-CAM", "RELAX"}:  # label-free: one map for every class
        np.testing.assert_array_equal(maps.pixel_map("heatmap", "a"), maps.pixel_map("heatmap", "b"))
    assert gradient_state_left(model) == []
