"""RoiExplainer: the whole-ROI and window-wise application shared by the baseline methods."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import Tensor

from corrrelax_lib.attribution.heatmaps import ClassHeatmaps
from corrrelax_lib.attribution.roi_explainer import RoiExplainer
from corrrelax_lib.preprocess.roi import EmptyBreastError
from corrrelax_lib.testing.models import QuadrantMeans
from corrrelax_lib.windows.grid import window_grid
from corrrelax_lib.windows.kernel import iou_kernel
from corrrelax_lib.windows.reconstruction import smooth_window_map, window_map_to_pixels


class FirstChannel(RoiExplainer):
    """Class ``c`` gets ``(c + 1) ×`` the first channel: an attribution worked out by hand."""

    method = "first channel"

    def attribute(self, x: Tensor) -> Tensor:
        return torch.stack([x[:, 0] * (c + 1) for c in range(len(self.labels))], dim=1)


def _model() -> QuadrantMeans:
    return QuadrantMeans(torch.eye(4, 2), torch.zeros(2))


def test_whole_mode_resizes_back_to_roi_pixels_and_blanks_the_background():
    image = np.zeros((60, 40, 3), np.float32)
    image[:, :20] = 0.5
    foreground = np.zeros((60, 40), bool)
    foreground[5:55, 5:35] = True
    maps = FirstChannel(_model(), ["a", "b"], image_size=30, progress=False).explain(image, foreground)
    assert maps.heatmaps.shape == (2, 60, 40)
    assert np.isnan(maps.pixel_map("heatmap", "a")[~foreground]).all()
    np.testing.assert_allclose(maps.pixel_map("heatmap", "a")[10:50, 5:15], 0.5, atol=1e-6)
    np.testing.assert_allclose(maps.pixel_map("heatmap", "b")[10:50, 25:35], 0.0, atol=1e-6)
    np.testing.assert_allclose(maps.pixel_map("heatmap", "b"), 2 * maps.pixel_map("heatmap", "a"), atol=1e-6)
    assert maps.metadata["image_size"] == 30 and maps.metadata["seconds"] >= 0


def test_windows_mode_smooths_window_means_like_correlax():
    rng = np.random.default_rng(0)
    image = rng.random((70, 90, 3)).astype(np.float32)
    foreground = np.ones((70, 90), bool)
    foreground[:, 60:] = False
    explainer = FirstChannel(_model(), ["a", "b"], mode="windows", window_size=32, stride=8, min_foreground=0.5,
                             batch_size=7, progress=False)
    maps = explainer.explain(image, foreground)
    grid = window_grid(70, 90, 32, 8)
    padded = np.zeros(grid.padded_shape)
    padded[:70, :90] = image[..., 0]
    means = np.full(grid.shape, np.nan)
    for index, (y, x) in enumerate(grid.origins()):
        if foreground[y:y + 32, x:x + 32].sum() / 32**2 >= 0.5:
            means.flat[index] = padded[y:y + 32, x:x + 32].mean()
    expected = window_map_to_pixels(smooth_window_map(means, iou_kernel(32, 8)), grid)
    np.testing.assert_allclose(maps.pixel_map("heatmap", "a"), expected, rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(maps.pixel_map("heatmap", "b"), 2 * expected, rtol=1e-5, equal_nan=True)
    assert np.isnan(maps.pixel_map("heatmap", "a")[:, -5:]).all()


def test_heatmaps_round_trip_through_npz(tmp_path):
    maps = ClassHeatmaps("m", ("a",), np.arange(6.0).reshape(1, 2, 3), {"uncertainty": np.ones((2, 3))},
                         {"seconds": 1.5})
    maps.save(tmp_path / "m.npz")
    loaded = ClassHeatmaps.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.heatmaps, maps.heatmaps)
    np.testing.assert_array_equal(loaded.extra["uncertainty"], 1.0)
    assert loaded.metadata == {"seconds": 1.5} and loaded.labels == ("a",)
    assert list(tmp_path.iterdir()) == [tmp_path / "m.npz"]


def test_bad_inputs_are_named():
    explainer = FirstChannel(_model(), ["a", "b"], mode="windows", window_size=16, stride=8, progress=False)
    with pytest.raises(EmptyBreastError):
        explainer.explain(np.zeros((32, 32, 3)), np.zeros((32, 32), bool))
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        explainer.explain(np.zeros((32, 32)), np.ones((32, 32), bool))
    with pytest.raises(ValueError, match="unknown mode"):
        FirstChannel(_model(), ["a"], mode="tiles")
    with pytest.raises(ValueError, match=r"\(C=1, H, W\)"):
        ClassHeatmaps("m", ("a",), np.zeros((2, 3, 3)))
