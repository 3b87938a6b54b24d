"""A small VGG-style CNN for CPU runs (the `tiny` profile), shaped like a torchvision classifier.

A stride-2 stem, then four stages of one 3×3 convolution (BatchNorm, ReLU) and a 2×2
max-pool, 32 → 256 channels, global average pooling and a final ``Linear`` that
:func:`~.backbones.build_backbone` replaces like any torchvision classifier's. About 0.4 M
parameters and 20 M multiply-adds at 64 px: it trains from random weights in a minute on
phantom crops and runs thousands of 64-px windows per second on a CPU, which the masked
forward passes of CorRELAX need. It has no pretrained weights.
"""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """``features`` (stem + 4 conv stages) → ``avgpool`` → ``flatten`` → ``classifier`` (Linear)."""

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128, 256), stem_channels: int = 16,
                 num_classes: int = 1000) -> None:
        super().__init__()
        stages, in_channels = [_conv_block(3, stem_channels, stride=2)], stem_channels
        for out_channels in channels:
            stages.append(nn.Sequential(*_conv_block(in_channels, out_channels), nn.MaxPool2d(2)))
            in_channels = out_channels
        self.features = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(in_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 3, H, W)`` → ``(N, num_classes)``; H and W at least 32."""
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _conv_block(in_channels: int, out_channels: int, stride: int = 1) -> nn.Sequential:
    """Conv 3×3 → BatchNorm → ReLU."""
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))
