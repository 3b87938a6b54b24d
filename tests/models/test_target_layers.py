"""The last convolutional feature map of each backbone, and the hooks that capture it."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from corrrelax_lib.models.backbones import BACKBONES
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.models.target_layers import TARGET_LAYERS, capture_layer, last_conv_layer, layer_name
from corrrelax_lib.testing.models import QuadrantMeans

# (channels K, side h = w) of the last feature map at 64 px.
FEATURE_MAPS = {"small_cnn": (256, 2), "resnet18": (512, 2), "mobilenet_v3_small": (576, 2), "swin_t": (768, 2)}


def _hooks(model: nn.Module) -> int:
    return sum(len(module._forward_hooks) + len(module._backward_hooks) for module in model.modules())


def test_every_backbone_has_a_target_layer():
    assert set(TARGET_LAYERS) == set(BACKBONES)


@pytest.mark.parametrize("name", sorted(FEATURE_MAPS))
def test_last_feature_map_and_its_gradient_have_the_expected_shape(name):
    torch.manual_seed(0)
    model = MultiLabelClassifier(name, 4).eval()
    layer = last_conv_layer(model)
    assert layer_name(model, layer) == f"backbone.{TARGET_LAYERS[name]}"
    channels, side = FEATURE_MAPS[name]
    with capture_layer(layer, gradients=True) as capture:
        logits = model(torch.rand(2, 3, 64, 64))
        gradient = capture.gradient(logits[:, 1].sum())
    assert capture.activations.shape == gradient.shape == (2, channels, side, side)
    assert _hooks(model) == 0
    assert all(parameter.grad is None for parameter in model.parameters())


def test_capture_does_not_change_the_outputs():
    torch.manual_seed(0)
    model = MultiLabelClassifier("resnet18", 4).eval()
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        expected = model(x)
        with capture_layer(last_conv_layer(model)) as capture:
            torch.testing.assert_close(model(x), expected)
    with capture_layer(last_conv_layer(model), gradients=True) as capture:
        torch.testing.assert_close(model(x).detach(), expected)
    assert capture.activations.requires_grad and capture.activations.is_leaf


def test_an_in_place_operation_after_the_layer_does_not_change_the_captured_activations():
    conv = nn.Conv2d(3, 4, 1)
    model = nn.Sequential(conv, nn.ReLU(inplace=True))
    x = torch.randn(1, 3, 5, 5)
    with torch.no_grad():
        expected = conv(x)
    for gradients in (False, True):
        with capture_layer(conv, gradients=gradients) as capture:
            model(x)
        assert (capture.activations < 0).any()
        torch.testing.assert_close(capture.activations.detach(), expected)


def test_the_hook_is_removed_even_after_an_error():
    model = MultiLabelClassifier("small_cnn", 2).eval()
    with pytest.raises(RuntimeError), capture_layer(last_conv_layer(model)):
        model(torch.rand(1, 3, 64))  # not 4-D
    assert _hooks(model) == 0


def test_unknown_models_and_layers_are_named():
    model = QuadrantMeans(torch.eye(4, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="pass the target layer explicitly"):
        last_conv_layer(model)
    with pytest.raises(ValueError, match="not a submodule"):
        layer_name(model, nn.ReLU())
    with pytest.raises(RuntimeError, match="gradients=True"), capture_layer(nn.ReLU()) as capture:
        capture.gradient(torch.zeros((), requires_grad=True))
