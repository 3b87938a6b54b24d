"""Torchvision backbones with their final classification layer removed (paper §3.3, Table 2).

Calling a backbone returns ``h``, the feature vector that was the input of the replaced
``Linear`` layer: the ``h = f_extract(X)`` of paper §3.4.
"""

from __future__ import annotations

import os

import torch
from torch import nn
from torchvision.models import get_model, get_model_weights
from torchvision.models._api import WeightsEnum

from corrrelax_lib.models.small_cnn import SmallCNN

# The columns of the paper's Table 2, in order.
PAPER_BACKBONES: tuple[str, ...] = (
    "densenet121", "efficientnet_v2_s", "resnet50", "swin_t", "vgg19", "mobilenet_v3_large",
)
# Plus small ones for CPU and `tiny` runs (``small_cnn`` is ours, without pretrained weights).
BACKBONES: tuple[str, ...] = (*PAPER_BACKBONES, "mobilenet_v3_small", "resnet18", "small_cnn")

DISPLAY_NAMES: dict[str, str] = {
    "densenet121": "DenseNet121",
    "efficientnet_v2_s": "EfficientNetV2",
    "resnet50": "ResNet50",
    "swin_t": "Swin Transformer",
    "vgg19": "VGG19",
    "mobilenet_v3_large": "MobileNet",
    "mobilenet_v3_small": "MobileNetV3-Small",
    "resnet18": "ResNet18",
    "small_cnn": "SmallCNN",
}

# (submodule replaced by nn.Identity, the final Linear whose input is h). EfficientNet's whole
# classifier (Dropout 0.2 + Linear) goes: the paper's head brings its own Dropout.
_FINAL_LAYER: dict[str, tuple[str, str]] = {
    "densenet121": ("classifier", "classifier"),
    "efficientnet_v2_s": ("classifier", "classifier.1"),
    "resnet50": ("fc", "fc"),
    "swin_t": ("head", "head"),
    "vgg19": ("classifier.6", "classifier.6"),
    "mobilenet_v3_large": ("classifier.3", "classifier.3"),
    "mobilenet_v3_small": ("classifier.3", "classifier.3"),
    "resnet18": ("fc", "fc"),
    "small_cnn": ("classifier", "classifier"),
}


class PretrainedWeightsUnavailableError(RuntimeError):
    """Pretrained weights could be neither downloaded nor found in the torch hub cache."""


def _weights_enum(name: str, weights: str) -> WeightsEnum:
    """The torchvision weights member for a spec such as ``"DEFAULT"`` or ``"IMAGENET1K_V1"``."""
    enum = get_model_weights(name)
    try:
        return enum.verify(weights)
    except KeyError:
        raise ValueError(
            f"unknown weights {weights!r} for {name}; choose one of {', '.join(enum.__members__)}"
        ) from None


def build_backbone(name: str, weights: str | None = None) -> tuple[nn.Module, int]:
    """A torchvision classifier whose final classification Linear is replaced by ``nn.Identity``.

    Args:
        name: one of ``BACKBONES`` (torchvision model names).
        weights: ``None`` for random initialisation (the default: nothing can be downloaded
            offline), or a torchvision weights spec such as ``"DEFAULT"`` or ``"IMAGENET1K_V1"``.

    Returns:
        ``(backbone, feature_dim)``: ``backbone`` maps ImageNet-normalised images ``(N, 3, H, W)``
        to ``h`` of shape ``(N, feature_dim)``; ``feature_dim`` is the ``in_features`` of the removed
        Linear (e.g. 1280 for ``efficientnet_v2_s``, 2048 for ``resnet50``).

    Raises:
        ValueError: unknown ``name`` or ``weights``.
        PretrainedWeightsUnavailableError: the weights file can be neither downloaded nor read
            from the torch hub cache; the message gives the URL and the folder to put it in.

    Example:
        >>> backbone, dim = build_backbone("resnet18")
        >>> backbone(torch.zeros(2, 3, 64, 64)).shape == (2, dim)
        True
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    if name == "small_cnn":
        if weights is not None:
            raise ValueError(f"small_cnn has no pretrained weights (asked for {weights!r}); use weights=None")
        return _without_final_layer(name, SmallCNN())
    member = _weights_enum(name, weights) if weights is not None else None
    try:
        model = get_model(name, weights=member)
    except OSError as error:  # URLError, HTTPError, socket errors: offline and not cached
        folder = os.path.join(torch.hub.get_dir(), "checkpoints")
        raise PretrainedWeightsUnavailableError(
            f"cannot load {member} for backbone {name!r} ({error}). Download {member.url} "
            f"and place it in {folder} (the torch hub cache, torch.hub.get_dir()), or use weights=None."
        ) from error
    return _without_final_layer(name, model)


def _without_final_layer(name: str, model: nn.Module) -> tuple[nn.Module, int]:
    """``model`` with the layer the paper replaces set to ``nn.Identity``, and the dimension of h."""
    replaced, final_linear = _FINAL_LAYER[name]
    feature_dim = model.get_submodule(final_linear).in_features
    model.set_submodule(replaced, nn.Identity())
    return model, feature_dim
