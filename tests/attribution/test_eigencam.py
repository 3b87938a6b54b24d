"""Eigen-CAM (Muhammad & Yeasin 2020): the last feature map projected on its first principal direction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from corrrelax_lib.attribution.eigencam import EigenCAM
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.testing.models import PointwiseConvHead, gradient_state_left


def _rank_one(sign: float) -> PointwiseConvHead:
    """``A_k = sign · u_k · f`` for an input whose three channels all equal ``f``, with ``u = (1, 2, -0.5)``."""
    conv_weight = sign * torch.tensor([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, -0.5]])
    return PointwiseConvHead(conv_weight, torch.zeros(3), torch.ones(3, 2), torch.zeros(2))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_rank_one_activations_give_the_image_scaled_by_the_channel_norm(sign):
    # O = f uᵀ (positions × channels): V_1 = ±u / |u|, O V_1 = ±|u| f. The mean activation is
    # sign · mean(u) · f with mean(u) > 0, so the sign fix gives sign · |u| · f.
    model = _rank_one(sign)
    f = torch.rand(2, 1, 5, 7, generator=torch.Generator().manual_seed(0))
    maps = EigenCAM(model, ["a", "b"], target_layer=model.conv, progress=False).attribute(f.repeat(1, 3, 1, 1))
    norm = float(np.sqrt(1 + 4 + 0.25))
    torch.testing.assert_close(maps, sign * norm * f.repeat(1, 2, 1, 1))
    assert gradient_state_left(model) == []


def test_same_map_for_every_class_each_image_on_its_own():
    model = MultiLabelClassifier("small_cnn", 3).eval()
    explainer = EigenCAM(model, ["a", "b", "c"], progress=False)
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    maps = explainer.attribute(x)
    assert maps.shape == (4, 3, 64, 64)
    assert torch.equal(maps[:, 0], maps[:, 1]) and torch.equal(maps[:, 0], maps[:, 2])
    torch.testing.assert_close(maps[3:], explainer.attribute(x[3:]), rtol=1e-4, atol=1e-5)
    # ReLU activations are non-negative: with the sign fixed, so is the map.
    assert (maps >= -1e-5).all()
    assert gradient_state_left(model) == []
    assert explainer.parameters["target_layer"] == "backbone.features"
    assert EigenCAM.probability_kinds == frozenset() and EigenCAM.method == "Eigen-CAM"
