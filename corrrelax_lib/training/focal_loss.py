"""Multi-label focal loss, exactly as the paper's Eq. 1 prints it (Lin et al. 2017).

    FL(p) = -α [ y (1 - p)^γ log p + (1 - y) p^γ log(1 - p) ]

α multiplies both terms. The paper's text calls α "a weighting factor between positive and
negative labels", which would be Lin et al.'s α_t (α for positives, 1 - α for negatives,
as in ``torchvision.ops.sigmoid_focal_loss``). We keep the printed equation: with α_t = 0.95
every label at the prevalence weighted sampling gives it (about 1/8) would be pushed above
0.5, so rare labels would get high recall and low precision, while the paper's Table 3 shows
the opposite (e.g. Architectural Distortion: precision 0.50, recall 0.04). With ``gamma=0``
the loss is ``alpha`` times the binary cross-entropy.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    alpha: float = 0.95,
    gamma: float = 2.5,
    reduction: Literal["mean", "sum", "none"] = "mean",
) -> torch.Tensor:
    """Focal loss of sigmoid outputs ``p = sigmoid(logits)`` against multi-hot ``targets``.

    Args:
        logits: ``(N, C)`` raw scores.
        targets: ``(N, C)`` 0/1 (float) labels.
        alpha: weight α of both terms (paper: 0.95).
        gamma: focusing exponent γ ≥ 0; 0 gives α times the cross-entropy.
        reduction: ``"mean"`` over all N·C terms, ``"sum"``, or ``"none"`` for ``(N, C)``.

    >>> focal_loss(torch.zeros(1, 1), torch.ones(1, 1), alpha=1.0, gamma=0.0)  # -log(0.5)
    tensor(0.6931)
    """
    targets = targets.to(logits.dtype)
    probability = torch.sigmoid(logits)
    # log p and log(1 - p) from the logits, stable for large |logits|.
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    positive = targets * (1 - probability).pow(gamma) * log_p
    negative = (1 - targets) * probability.pow(gamma) * log_not_p
    loss = -alpha * (positive + negative)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
