"""Gradient saliency (Simonyan et al. 2014): the largest absolute input gradient over channels, per class."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from corrrelax_lib.attribution.saliency import GradientSaliency
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.testing.models import QuadrantMeans


def _leaks(model: nn.Module) -> list[str]:
    """Gradient state or hooks left behind on ``model``."""
    found = [f"{name}.grad" for name, parameter in model.named_parameters() if parameter.grad is not None]
    found += [f"{name} hook" for name, module in model.named_modules() if module._forward_hooks]
    return found + [f"{name} frozen" for name, parameter in model.named_parameters() if not parameter.requires_grad]


def test_a_quadrant_mean_has_a_flat_gradient_on_its_quadrant_only():
    # logit_a = 2 · mean(top-left of channel 0), logit_b = -3 · mean(top-right): on an 8 × 8 input a
    # quadrant has 16 pixels, so |∂logit/∂x| is 2/16 and 3/16 there, 0 elsewhere and on channels 1–2.
    model = QuadrantMeans(torch.tensor([[2.0, 0.0], [0.0, -3.0], [0.0, 0.0], [0.0, 0.0]]), torch.zeros(2))
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    maps = GradientSaliency(model, ["a", "b"], progress=False).attribute(x)
    expected = torch.zeros(2, 2, 8, 8)
    expected[:, 0, :4, :4] = 2 / 16
    expected[:, 1, :4, 4:] = 3 / 16
    torch.testing.assert_close(maps, expected)
    assert all(not parameter.requires_grad for parameter in model.parameters())  # left frozen


def test_each_image_gets_its_own_map_and_nothing_leaks():
    model = MultiLabelClassifier("small_cnn", 2).eval()
    explainer = GradientSaliency(model, ["a", "b"], progress=False)
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():  # attribute enables gradients itself
        maps = explainer.attribute(x)
    assert maps.shape == (3, 2, 64, 64) and (maps >= 0).all()
    torch.testing.assert_close(maps[1:2], explainer.attribute(x[1:2]))
    assert _leaks(model) == []
    assert not x.requires_grad
    assert GradientSaliency.probability_kinds == frozenset() and GradientSaliency.method == "Gradient saliency"


@pytest.mark.parametrize("mode", ["whole", "windows"])
def test_explain_gives_roi_maps_in_both_modes(mode):
    torch.manual_seed(0)
    model = MultiLabelClassifier("small_cnn", 2).eval()
    image = np.random.default_rng(0).random((70, 90, 3)).astype(np.float32)
    foreground = np.zeros((70, 90), bool)
    foreground[:, :60] = True
    maps = GradientSaliency(model, ["a", "b"], mode=mode, image_size=64, window_size=32, stride=16, batch_size=5,
                            progress=False).explain(image, foreground)
    assert maps.heatmaps.shape == (2, 70, 90) and maps.method == "Gradient saliency"
    assert np.isfinite(maps.heatmaps[:, foreground]).all() and (maps.heatmaps[:, foreground] >= 0).all()
    assert np.isnan(maps.heatmaps[:, :, 80:]).all()
    assert _leaks(model) == []
