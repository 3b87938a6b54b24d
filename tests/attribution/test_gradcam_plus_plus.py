"""Grad-CAM++ (Chattopadhay et al. 2018, Eq. 19 with the exponential score): pixel-wise gradient weights."""

from __future__ import annotations

import torch

from corrrelax_lib.attribution.gradcam import GradCAM
from corrrelax_lib.attribution.gradcam_plus_plus import GradCAMPlusPlus
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.testing.models import PointwiseConvHead, gradient_state_left

CONV_WEIGHT = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.5, -1.0]])
HEAD_WEIGHT = torch.tensor([[2.0, -1.0], [-1.0, 0.0], [1.0, 3.0]])  # (K=3, C=2); channel 1 has no effect on "b"


def _pointwise() -> PointwiseConvHead:
    return PointwiseConvHead(CONV_WEIGHT, torch.tensor([0.1, -0.2, 0.0]), HEAD_WEIGHT, torch.tensor([0.3, -0.3]))


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
    assert gradient_state_left(model) == []
    assert GradCAMPlusPlus.probability_kinds == frozenset() and GradCAMPlusPlus.method == "Grad-CAM++"
