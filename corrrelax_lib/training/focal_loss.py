"""Multi-label focal loss (paper Eq. 1; Lin et al. 2017).

    FL(p) = -[ α y (1 - p)^γ log p + (1 - α) (1 - y) p^γ log(1 - p) ]

Eq. 1 as printed multiplies both terms by the same α, which would only scale the loss;
the paper's text describes α as "a weighting factor between positive and negative
labels", which is Lin et al.'s α_t (α for positives, 1 - α for negatives) and what
``torchvision.ops.sigmoid_focal_loss`` computes. We follow the text. With ``gamma=0`` and
``alpha=None`` the loss is exactly the binary cross-entropy.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    alpha: float | None = 0.95,
    gamma: float = 2.5,
    reduction: Literal["mean", "sum", "none"] = "mean",
) -> torch.Tensor:
    """Focal loss of sigmoid outputs ``p = sigmoid(logits)`` against multi-hot ``targets``.

    Args:
        logits: ``(N, C)`` raw scores.
        targets: ``(N, C)`` 0/1 (float) labels.
        alpha: weight of positive labels (negatives get ``1 - alpha``); ``None`` weighs both 1.
        gamma: focusing exponent γ ≥ 0; 0 gives the (α-weighted) cross-entropy.
        reduction: ``"mean"`` over all N·C terms, ``"sum"``, or ``"none"`` for ``(N, C)``.

    >>> focal_loss(torch.zeros(1, 1), torch.ones(1, 1), alpha=None, gamma=0.0)  # -log(0.5)
    tensor(0.6931)
    """
    targets = targets.to(logits.dtype)
    probability = torch.sigmoid(logits)
    # log p and log(1 - p) from the logits, stable for large |logits|.
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    positive = targets * (1 - probability).pow(gamma) * log_p
    negative = (1 - targets) * probability.pow(gamma) * log_not_p
    if alpha is not None:
        positive, negative = alpha * positive, (1 - alpha) * negative
    loss = -(positive + negative)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
