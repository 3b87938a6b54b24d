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


class PointwiseConvHead(nn.Module):
    """A 1×1 convolution ``conv`` as the last feature map, global average pooling, and a linear head.

    ``A = conv(x)``: ``A_k = Σ_ch conv_weight[k, ch] x_ch + conv_bias[k]``, ``(N, K, H, W)`` at the input's
    resolution (no non-linearity); ``h = mean_ij A`` ``(N, K)``; ``logits = h @ weight + bias`` ``(N, C)``.
    So ``∂logit_c / ∂A_k,ij = weight[k, c] / (H W)`` everywhere, and Grad-CAM is
    ``ReLU(Σ_k weight[k, c] A_k) / (H W)``. All parameters require grad, as in a trained classifier.

    Args:
        conv_weight: ``(K, 3)``; conv_bias: ``(K,)``; weight: ``(K, C)``; bias: ``(C,)``.
    """

    def __init__(self, conv_weight: Tensor, conv_bias: Tensor, weight: Tensor, bias: Tensor) -> None:
        super().__init__()
        conv_weight = torch.as_tensor(conv_weight, dtype=torch.float32)
        self.conv = nn.Conv2d(3, conv_weight.shape[0], kernel_size=1)
        with torch.no_grad():
            self.conv.weight.copy_(conv_weight[:, :, None, None])
            self.conv.bias.copy_(torch.as_tensor(conv_bias, dtype=torch.float32))
        self.weight = nn.Parameter(torch.as_tensor(weight, dtype=torch.float32))
        self.bias = nn.Parameter(torch.as_tensor(bias, dtype=torch.float32))

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(h (N, K), logits (N, C))``."""
        h = self.conv(x).mean(dim=(2, 3))
        return h, h @ self.weight + self.bias

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, C)``."""
        return self.features_and_logits(x)[1]


class TopLeftFeature(nn.Module):
    """``h = (m, 1 − m)`` with ``m`` the mean of the first channel's top-left quadrant; ``logits = m · ones(C)``.

    Only the top-left quadrant changes the representation, and masking it turns its direction: for a
    white quadrant ``cos(h, h_M) = m' / √(m'² + (1 − m')²)`` with ``m'`` the masked mean, from 0 (all
    occluded) to 1 (all kept), so RELAX must put importance there. A black top-left quadrant makes
    ``h = (0, 1)`` whatever the rest and the masks: every similarity is 1.

    Args:
        n_labels: number of logits ``C``.
    """

    def __init__(self, n_labels: int = 2) -> None:
        super().__init__()
        self.n_labels = n_labels

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(h (N, 2), logits (N, C))`` for ``(N, 3, S, S)`` inputs, ``S`` even."""
        half = x.shape[-1] // 2
        m = x[:, 0, :half, :half].mean(dim=(1, 2))
        return torch.stack([m, 1 - m], dim=1), m[:, None].repeat(1, self.n_labels)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, C)``."""
        return self.features_and_logits(x)[1]


class CentreWeightedBrightness(nn.Module):
    """``m`` = the first channel's mean under a Gaussian centred on the window; ``h = (m, 1 − m)``.

    ``logits = scale · (m − offset)`` for every label, so a window's prediction is highest when a
    bright spot sits at its centre and falls off with the spot's distance from it, as a trained
    classifier's does for a finding: the window whose centre is nearest a finding predicts it most.

    Args:
        n_labels: number of logits ``C``.
        sigma_fraction: the Gaussian's standard deviation as a fraction of the window side.
        scale, offset: the logit's slope and the ``m`` at which the prediction is 0.5.
    """

    def __init__(self, n_labels: int = 1, sigma_fraction: float = 0.25, scale: float = 40.0,
                 offset: float = 0.02) -> None:
        super().__init__()
        self.n_labels, self.sigma_fraction, self.scale, self.offset = n_labels, sigma_fraction, scale, offset

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(h (N, 2), logits (N, C))`` for ``(N, 3, S, S)`` inputs."""
        size = x.shape[-1]
        offsets = (torch.arange(size, dtype=x.dtype, device=x.device) - (size - 1) / 2) / (self.sigma_fraction * size)
        weight = torch.exp(-0.5 * (offsets[:, None] ** 2 + offsets[None, :] ** 2))
        m = (x[:, 0] * weight).sum(dim=(1, 2)) / weight.sum()
        logits = self.scale * (m - self.offset)
        return torch.stack([m, 1 - m], dim=1), logits[:, None].repeat(1, self.n_labels)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, C)``."""
        return self.features_and_logits(x)[1]


def gradient_state_left(model: nn.Module) -> list[str]:
    """What an attribution left behind on ``model``: parameters' ``.grad``, forward hooks, frozen parameters.

    An explainer that takes gradients must leave the model as it found it (empty list).
    """
    found = [f"{name}.grad" for name, parameter in model.named_parameters() if parameter.grad is not None]
    found += [f"{name} hook" for name, module in model.named_modules() if module._forward_hooks]
    return found + [f"{name} frozen" for name, parameter in model.named_parameters() if not parameter.requires_grad]
