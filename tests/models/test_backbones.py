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


def test_without_normalisation_the_backbone_sees_the_input_as_it_is() -> None:
    """The authors' code: crops in [0, 1] straight into the backbone."""
    torch.manual_seed(0)
    model = MultiLabelClassifier("small_cnn", n_labels=2, input_normalisation="none").eval()
    torch.manual_seed(0)
    normalised = MultiLabelClassifier("small_cnn", n_labels=2).eval()  # same weights, ImageNet normalisation
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.features_and_logits(x)[0], model.backbone(x), rtol=0, atol=0)
        assert not torch.allclose(normalised(x), model(x))
    with pytest.raises(ValueError, match="input_normalisation"):
        MultiLabelClassifier("small_cnn", n_labels=2, input_normalisation="per-image")  # type: ignore[arg-type]


def test_a_head_without_output_bias_maps_zero_features_to_zero_logits() -> None:
    """The authors' code's last Linear has no bias: no parameter, and f_predict(0) = 0 whatever the weights."""
    model = MultiLabelClassifier("resnet18", n_labels=3, output_bias=False).eval()
    assert model.head[3].bias is None and "head.3.bias" not in dict(model.named_parameters())
    assert "head.3.bias" in dict(MultiLabelClassifier("resnet18", n_labels=3).named_parameters())
    with torch.no_grad():
        model.head[1].bias.fill_(-1.0)  # the hidden layer's bias stays; ReLU turns -1 into 0
        torch.testing.assert_close(model.head(torch.zeros(2, 512)), torch.zeros(2, 3), rtol=0, atol=0)


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
