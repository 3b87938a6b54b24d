"""Grad-CAM (Selvaraju et al. 2017, Eq. 1–2): gradient-weighted last feature map, one map per class."""

from __future__ import annotations

import torch

from corrrelax_lib.attribution.gradcam import GradCAM
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.testing.models import PointwiseConvHead, gradient_state_left

CONV_WEIGHT = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, -1.0]])
HEAD_WEIGHT = torch.tensor([[2.0, -1.0], [-1.0, 0.5], [1.0, 3.0]])  # (K=3, C=2)


def _pointwise() -> PointwiseConvHead:
    return PointwiseConvHead(CONV_WEIGHT, torch.tensor([0.1, -0.2, 0.0]), HEAD_WEIGHT, torch.tensor([0.3, -0.3]))


def test_map_is_the_relu_of_the_head_weighted_channels():
    model = _pointwise()
    x = torch.rand(2, 3, 6, 8, generator=torch.Generator().manual_seed(0))
    maps = GradCAM(model, ["a", "b"], target_layer=model.conv, progress=False).attribute(x)
    # ∂logit_c/∂A_k is head_weight[k, c] / (6·8) at every position: α_k = head_weight[k, c] / 48.
    activations = model.conv(x).detach()
    expected = torch.relu(torch.einsum("kc,nkhw->nchw", HEAD_WEIGHT, activations)) / 48
    torch.testing.assert_close(maps, expected)
    assert (maps[:, 0] > 0).any() and (maps[:, 0] == 0).any()  # the ReLU cuts negative evidence


def test_each_image_gets_its_own_map_and_nothing_leaks():
    model = MultiLabelClassifier("small_cnn", 3).eval()
    explainer = GradCAM(model, ["a", "b", "c"], progress=False)
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():  # attribute enables gradients itself
        maps = explainer.attribute(x)
    assert maps.shape == (4, 3, 64, 64) and (maps >= 0).all()
    torch.testing.assert_close(maps[2:3], explainer.attribute(x[2:3]))
    torch.testing.assert_close(maps, explainer.attribute(x))
    assert gradient_state_left(model) == []
    assert explainer.parameters["target_layer"] == "backbone.features"
    assert GradCAM.probability_kinds == frozenset() and GradCAM.method == "Grad-CAM"
