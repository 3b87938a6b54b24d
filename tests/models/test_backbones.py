"""Backbones without their classification layer and the paper's multi-label classifier (§3.3)."""

from __future__ import annotations

import re
from urllib.error import URLError

import pytest
import torch
from torch import nn
from torchvision.models import ResNet18_Weights

from corrrelax_lib.models.backbones import (
    BACKBONES,
    DISPLAY_NAMES,
    PAPER_BACKBONES,
    PretrainedWeightsUnavailableError,
    build_backbone,
)
from corrrelax_lib.models.classifier import MultiLabelClassifier

# The in_features of each architecture's final classification Linear.
FEATURE_DIMS = {
    "densenet121": 1024,
    "efficientnet_v2_s": 1280,
    "resnet50": 2048,
    "swin_t": 768,
    "vgg19": 4096,
    "mobilenet_v3_large": 1280,
    "mobilenet_v3_small": 1024,
    "resnet18": 512,
    "small_cnn": 256,
}


def test_names_follow_table_2() -> None:
    assert [DISPLAY_NAMES[name] for name in PAPER_BACKBONES] == [
        "DenseNet121", "EfficientNetV2", "ResNet50", "Swin Transformer", "VGG19", "MobileNet",
    ]
    assert BACKBONES[: len(PAPER_BACKBONES)] == PAPER_BACKBONES
    assert set(DISPLAY_NAMES) == set(BACKBONES) == set(FEATURE_DIMS)


@pytest.mark.parametrize("name", BACKBONES)
def test_features_and_logits(name: str) -> None:
    torch.manual_seed(0)
    model = MultiLabelClassifier(name, n_labels=4).eval()
    backbone_calls = []
    model.backbone.register_forward_hook(lambda *_: backbone_calls.append(1))
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        h, logits = model.features_and_logits(x)
        assert len(backbone_calls) == 1
        assert model.feature_dim == FEATURE_DIMS[name]
        assert h.shape == (2, FEATURE_DIMS[name])
        assert logits.shape == (2, 4)
        torch.testing.assert_close(model(x), logits)
        torch.testing.assert_close(model.head(h), logits)


def test_head_is_the_papers() -> None:
    head = MultiLabelClassifier("resnet18", n_labels=3).head
    assert [type(layer) for layer in head] == [nn.Dropout, nn.Linear, nn.ReLU, nn.Linear]
    assert head[0].p == 0.5
    assert (head[1].in_features, head[1].out_features, head[3].out_features) == (512, 512, 3)


def test_normalisation_is_a_fixed_imagenet_buffer() -> None:
    model = MultiLabelClassifier("resnet18", n_labels=2).eval()
    buffers = dict(model.named_buffers())
    parameters = dict(model.named_parameters())
    assert {"pixel_mean", "pixel_std"} <= buffers.keys()
    assert not {"pixel_mean", "pixel_std"} & parameters.keys()
    x = torch.rand(2, 3, 64, 64)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        torch.testing.assert_close(model.features_and_logits(x)[0], model.backbone((x - mean) / std))


def test_unknown_backbone() -> None:
    with pytest.raises(ValueError, match="efficientnet_v2_s"):
        build_backbone("alexnet")


def test_unknown_weights() -> None:
    with pytest.raises(ValueError, match="IMAGENET1K_V1"):
        build_backbone("resnet18", "NOT_A_WEIGHT")


def test_unavailable_pretrained_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> dict:
        raise URLError("no network")

    monkeypatch.setattr(ResNet18_Weights, "get_state_dict", offline)
    with pytest.raises(PretrainedWeightsUnavailableError, match=re.escape(ResNet18_Weights.DEFAULT.url)) as caught:
        MultiLabelClassifier("resnet18", n_labels=4, weights="DEFAULT")
    message = str(caught.value)
    assert "resnet18" in message
    assert "ResNet18_Weights.IMAGENET1K_V1" in message
    assert torch.hub.get_dir() in message
    assert isinstance(caught.value.__cause__, URLError)


def test_small_cnn_has_no_pretrained_weights() -> None:
    with pytest.raises(ValueError, match="no pretrained weights"):
        build_backbone("small_cnn", "DEFAULT")
