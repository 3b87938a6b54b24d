"""Tiny classifiers whose features and predictions can be worked out by hand, for tests."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class QuadrantMeans(nn.Module):
    """``h`` = mean intensity of the four quadrants of the first channel; ``logits = h @ weight + bias``.

    For an ``(N, 3, S, S)`` input (``S`` even) the features are ``(N, 4)`` in the order
    top-left, top-right, bottom-left, bottom-right; the logits are ``(N, C)``.

    Args:
        weight: ``(4, C)`` head weights.
        bias: ``(C,)`` head bias.
    """

    def __init__(self, weight: Tensor, bias: Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.as_tensor(weight, dtype=torch.float32), requires_grad=False)
        self.bias = nn.Parameter(torch.as_tensor(bias, dtype=torch.float32), requires_grad=False)

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(h (N, 4), logits (N, C))``."""
        half = x.shape[-1] // 2
        channel = x[:, 0]
        h = torch.stack([channel[:, :half, :half].mean((1, 2)), channel[:, :half, half:].mean((1, 2)),
                         channel[:, half:, :half].mean((1, 2)), channel[:, half:, half:].mean((1, 2))], dim=1)
        return h, h @ self.weight + self.bias

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, C)``."""
        return self.features_and_logits(x)[1]
