"""Grad-CAM++ (Chattopadhay et al. 2018, Eq. 19 with the exponential score): pixel-wise gradient weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from corrrelax_lib.attribution.gradcam import GradCAM
from corrrelax_lib.attribution.gradcam_plus_plus import GradCAMPlusPlus
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.testing.models import PointwiseConvHead

CONV_WEIGHT = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, -1.0]])
HEAD_WEIGHT = torch.tensor([[2.0, -1.0], [-1.0, 0.0], [1.0, 3.0]])  # (K=3, C=2); channel 1 has no effect on "b"


def _pointwise() -> PointwiseConvHead:
    return PointwiseConvHead(CONV_WEIGHT, torch.tensor([0.1, -0.2, 0.0]), HEAD_WEIGHT, torch.tensor([0.3, -0.3]))


def _leaks(model: nn.Module) -> list[str]:
    """Gradient state or hooks left behind on ``model``."""
    found = [f"{name}.grad" for name, parameter in model.named_parameters() if parameter.grad is not None]
    found += [f"{name} hook" for name, module in model.named_modules() if module._forward_hooks]
    return found + [f"{name} frozen" for name, parameter in model.named_parameters() if not parameter.requires_grad]


def test_closed_form_on_a_linear_head():
    model = _pointwise()
    x = torch.rand(2, 3, 6, 8, generator=torch.Generator().manual_seed(0))
    maps = GradCAMPlusPlus(model, ["a", "b"], target_layer=model.conv, progress=False).attribute(x)
    # g = w[k, c] / 48 everywhere and Σ_ab A_ab = 48 · mean(A_k), so α = 1 / (2 + w[k, c] · mean(A_k)) and
    # the channel weight is exp(S_c) · relu(w[k, c]) / (2 + w[k, c] · mean(A_k)); 0 where w[k, c] = 0.
    activations = model.conv(x).detach()
    means = activations.mean(dim=(2, 3))  # (N, K)
    scores = (means @ HEAD_WEIGHT + model.bias).detach()  # (N, C)
    weights = torch.exp(scores)[:, None] * torch.relu(HEAD_WEIGHT) / (2 + HEAD_WEIGHT * means[:, :, None])
    expected = torch.relu(torch.einsum("nkc,nkhw->nchw", weights, activations))
    assert torch.isfinite(maps).all()
    torch.testing.assert_close(maps, expected)


def test_differs_from_grad_cam_and_nothing_leaks():
    model = MultiLabelClassifier("small_cnn", 2).eval()
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    explainer = GradCAMPlusPlus(model, ["a", "b"], progress=False)
    maps = explainer.attribute(x)
    assert maps.shape == (3, 2, 64, 64) and (maps >= 0).all()
    assert not torch.allclose(maps, GradCAM(model, ["a", "b"], progress=False).attribute(x))
    torch.testing.assert_close(maps[1:2], explainer.attribute(x[1:2]))
    assert _leaks(model) == []
    assert GradCAMPlusPlus.probability_kinds == frozenset() and GradCAMPlusPlus.method == "Grad-CAM++"


@pytest.mark.parametrize("mode", ["whole", "windows"])
def test_explain_gives_roi_maps_in_both_modes(mode):
    torch.manual_seed(0)
    model = MultiLabelClassifier("small_cnn", 2).eval()
    image = np.random.default_rng(0).random((70, 90, 3)).astype(np.float32)
    foreground = np.zeros((70, 90), bool)
    foreground[:, :60] = True
    maps = GradCAMPlusPlus(model, ["a", "b"], mode=mode, image_size=64, window_size=32, stride=16, batch_size=5,
                           progress=False).explain(image, foreground)
    assert maps.heatmaps.shape == (2, 70, 90) and maps.method == "Grad-CAM++"
    assert np.isfinite(maps.heatmaps[:, foreground]).all() and (maps.heatmaps[:, foreground] >= 0).all()
    assert np.isnan(maps.heatmaps[:, :, 80:]).all()
    assert _leaks(model) == []
