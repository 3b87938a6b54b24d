"""Gradient saliency (Simonyan et al. 2014): the largest absolute input gradient over channels, per class."""

from __future__ import annotations

import torch

from corrrelax_lib.attribution.saliency import GradientSaliency
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.testing.models import QuadrantMeans, gradient_state_left


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
    assert gradient_state_left(model) == []
    assert not x.requires_grad
    assert GradientSaliency.probability_kinds == frozenset() and GradientSaliency.method == "Gradient saliency"
