"""LEM's localisation by positive-weight backpropagation (Zhu et al. 2025, §3.4, Eq. 10–11), by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from corrrelax_lib.attribution.heatmaps import ClassHeatmaps
from corrrelax_lib.attribution.lem_map import LEM, LEMScoreMap, extremum_seeds, positive_weight_backprop
from corrrelax_lib.models.lem import LEMClassifier
from corrrelax_lib.preprocess.roi import breast_mask
from corrrelax_lib.testing.dicom import breast_like_image


def hand_model() -> LEMClassifier:
    """Conv (1×2 kernel, 3 → 1) → BatchNorm (γ = -1) → ReLU → score 1×1 conv with weights (2, -1), two classes.

    With pixel_std (0.5, 1, 2) and mean 0, the convolution, BatchNorm and normalisation fold into
    weights on the [0, 1] image of w · γ / std: channel 0 taps (1, 3), channel 1 (-1, -1), channel 2 (0.5, 0).
    """
    model = LEMClassifier("small_cnn", n_labels=2).eval()
    conv = nn.Conv2d(3, 1, kernel_size=(1, 2), bias=False)
    norm = nn.BatchNorm2d(1).eval()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[[-0.5, -1.5]], [[1.0, 1.0]], [[-1.0, 0.0]]]]))
        norm.weight.fill_(-1.0)
        norm.bias.zero_()
        norm.running_mean.zero_()
        norm.running_var.fill_(1.0 - norm.eps)  # sqrt(var + eps) = 1
        model.trunk = nn.Sequential(conv, norm, nn.ReLU())
        model.score = nn.Conv2d(1, 2, kernel_size=1)
        model.score.weight.copy_(torch.tensor([2.0, -1.0]).view(2, 1, 1, 1))
        model.score.bias.zero_()
        model.pixel_mean.zero_()
        model.pixel_std.copy_(torch.tensor([0.5, 1.0, 2.0]).view(1, 3, 1, 1))
    return model


# Three pixels in a row. Features (two positions): F0 = relu(-(-1.4 + 1.0 - 0.15)) = 0.55, F1 = relu(-0.15) = 0;
# scores: class 0 (2 F) = (1.1, 0), class 1 (-F) = (-0.55, 0).
X = torch.tensor([[[[0.2, 0.4, 0.1]], [[0.5, 0.5, 0.5]], [[0.3, 0.3, 0.3]]]])
# F0's positive contributions: channel 0 taps 1·0.2 (pixel 0) and 3·0.4 (pixel 1), channel 2 tap 0.5·0.3
# (pixel 0); Z = 1.55. Pixel 0 gets (0.2 + 0.15) / 1.55 = 7/31, pixel 1 1.2 / 1.55 = 24/31, pixel 2 nothing.
EXPECTED = torch.tensor([7 / 31, 24 / 31, 0.0])


def test_hand_model_features_and_scores() -> None:
    model = hand_model()
    with torch.no_grad():
        torch.testing.assert_close(model.score_maps(X), torch.tensor([[[[1.1, 0.0]], [[-0.55, 0.0]]]]))


@pytest.mark.parametrize(("extrema", "class0", "class1"), [
    # Class 0's maximum 1.1 reaches F0 through the positive weight 2. Class 1 has no positive
    # maximum: it starts from its global maximum (position 1), whose feature F1 = 0 passes nothing.
    ("maxima", EXPECTED, torch.zeros(3)),
    # Class 1's minimum -0.55 reaches F0 through the negative weight -1; class 0 has no negative minimum.
    ("minima", torch.zeros(3), EXPECTED),
    # Algorithm 2: class 0 is predicted present (logit 1.1), class 1 absent (logit -0.55).
    ("predicted", EXPECTED, EXPECTED),
])
def test_positive_weight_backprop_by_hand(extrema: str, class0: torch.Tensor, class1: torch.Tensor) -> None:
    model = hand_model()
    with torch.no_grad():
        seeds = extremum_seeds(model.score_maps(X), extrema)
    importance = positive_weight_backprop(model, X, *seeds)
    assert importance.shape == (1, 2, 1, 3)
    torch.testing.assert_close(importance[0, 0, 0], class0)
    torch.testing.assert_close(importance[0, 1, 0], class1)


def test_max_pooling_hands_importance_to_the_winner() -> None:
    model = LEMClassifier("small_cnn", n_labels=1).eval()
    conv = nn.Conv2d(3, 1, kernel_size=1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1))
        model.trunk = nn.Sequential(conv, nn.ReLU(), nn.MaxPool2d((1, 2)))
        model.score = nn.Conv2d(1, 1, kernel_size=1)
        model.score.weight.fill_(1.0)
        model.pixel_mean.zero_()
        model.pixel_std.fill_(1.0)
    x = torch.zeros(1, 3, 1, 2)
    x[0, 0, 0] = torch.tensor([0.3, 0.9])
    importance = positive_weight_backprop(model, x, torch.ones(1, 1, 1, 1), torch.zeros(1, 1, 1, 1))
    torch.testing.assert_close(importance[0, 0, 0], torch.tensor([0.0, 1.0]))


def test_seeds_share_the_extrema_by_score() -> None:
    scores = torch.tensor([[[[3.0, 0.0, 1.0], [-1.0, -2.0, 0.5]]]])
    seeds_max, seeds_min = extremum_seeds(scores)
    # Maxima 3 and 1 (0.5 is next to 1, not a maximum): shares 3/4 and 1/4.
    torch.testing.assert_close(seeds_max[0, 0], torch.tensor([[0.75, 0.0, 0.25], [0.0, 0.0, 0.0]]))
    assert seeds_min.eq(0).all()
    _, seeds_min = extremum_seeds(scores, "minima")
    torch.testing.assert_close(seeds_min[0, 0], torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    with pytest.raises(ValueError, match="extrema"):
        extremum_seeds(scores, "both")


@pytest.mark.parametrize("backbone", ["small_cnn", "resnet18"])
def test_importance_is_kept_through_real_trunks(backbone: str) -> None:
    torch.manual_seed(0)
    model = LEMClassifier(backbone, n_labels=3).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        seeds = extremum_seeds(model.score_maps(x), "predicted")
    importance = positive_weight_backprop(model, x, *seeds)
    assert importance.shape == (2, 3, 64, 64)
    assert (importance >= 0).all()
    torch.testing.assert_close(importance.sum((2, 3)), torch.ones(2, 3), rtol=0, atol=1e-4)


@pytest.fixture(scope="module")
def roi() -> np.ndarray:
    """A ``(96, 72, 3)`` uint8 breast against the left edge, black background."""
    plane = np.round(breast_like_image(96, 72) / 4095 * 255).astype(np.uint8)
    return np.repeat(plane[..., None], 3, axis=2)


def test_lem_maps_are_roi_sized_and_nan_outside_the_breast(roi: np.ndarray) -> None:
    torch.manual_seed(0)
    model = LEMClassifier("small_cnn", n_labels=2)
    maps = LEM(model, ("Mass", "Retractions"), (64, 48)).explain(roi)
    assert isinstance(maps, ClassHeatmaps) and maps.method == "LEM"
    assert maps.heatmaps.shape == (2, 96, 72)
    breast = breast_mask(roi[..., 0] / 255.0)
    assert np.isnan(maps.heatmaps[:, ~breast]).all()
    assert np.isfinite(maps.heatmaps[:, breast]).all() and (maps.heatmaps[:, breast] >= 0).all()
    assert maps.metadata["extrema"] == "maxima" and maps.metadata["image_size"] == [64, 48]


def test_score_maps_upsample_the_scores(roi: np.ndarray) -> None:
    model = LEMClassifier("small_cnn", n_labels=2)
    with torch.no_grad():
        model.score.weight.zero_()
        model.score.bias.copy_(torch.tensor([0.5, -2.0]))  # constant score maps
    foreground = np.zeros(roi.shape[:2], dtype=bool)
    foreground[10:50, 5:30] = True
    maps = LEMScoreMap(model, ("Mass", "Retractions"), (64, 48)).explain(roi, foreground)
    assert maps.method == "LEM score map" and maps.heatmaps.shape == (2, 96, 72)
    assert np.isnan(maps.heatmaps[:, ~foreground]).all()
    np.testing.assert_allclose(maps.pixel_map("heatmap", "Mass")[foreground], 0.5, rtol=1e-6)
    np.testing.assert_allclose(maps.pixel_map("heatmap", "Retractions")[foreground], -2.0, rtol=1e-6)
