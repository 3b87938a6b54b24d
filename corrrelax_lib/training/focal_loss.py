"""Multi-label focal loss (paper §3.3, Eq. 1; Lin et al. 2017), in both of its forms.

The paper prints Eq. 1 with α multiplying both terms::

    FL(p) = -α [ y (1 - p)^γ log p + (1 - y) p^γ log(1 - p) ]          ("printed")

and calls α "a weighting factor between positive and negative labels", which is Lin et al.'s
α_t: α for positive labels, 1 - α for negative ones (``torchvision.ops.sigmoid_focal_loss``,
which the authors' training code uses)::

    FL(p) = -[ α y (1 - p)^γ log p + (1 - α)(1 - y) p^γ log(1 - p) ]   ("alpha_t")

In the printed form α is a constant factor of the loss, and Adam's update is invariant to a
constant factor of the gradient (up to its ε): α does nothing, so the paper's grid search over
α could only have found something under the α_t form. The profiles therefore use ``"alpha_t"``
(the paper's text and the authors' code agree on it; only the equation as printed differs);
``"printed"`` is kept to show that (tests/training/test_focal_loss.py trains both under Adam).
With ``gamma=0`` the printed form is α times the binary cross-entropy, and α_t at α = 0.5 half of it.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

#: How α weights the two terms of Eq. 1: Lin et al.'s α_t, or α on both terms as the paper prints it.
AlphaForm = Literal["alpha_t", "printed"]
ALPHA_FORMS: tuple[str, ...] = ("alpha_t", "printed")


def focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    alpha: float = 0.95,
    gamma: float = 2.5,
    alpha_form: AlphaForm = "alpha_t",
    reduction: Literal["mean", "sum", "none"] = "mean",
) -> torch.Tensor:
    """Focal loss of sigmoid outputs ``p = sigmoid(logits)`` against multi-hot ``targets`` (Eq. 1).

    Args:
        logits: ``(N, C)`` raw scores.
        targets: ``(N, C)`` 0/1 (float) labels.
        alpha: the weight α (paper: 0.95): of positive labels, with ``1 - α`` on negative ones
            (``"alpha_t"``), or of both terms (``"printed"``).
        gamma: focusing exponent γ ≥ 0 (paper: 2.5); 0 gives a weighted cross-entropy.
        alpha_form: ``"alpha_t"`` (Lin et al., torchvision, the authors' code) or ``"printed"``.
        reduction: ``"mean"`` over all N·C terms, ``"sum"``, or ``"none"`` for ``(N, C)``.

    >>> focal_loss(torch.zeros(1, 1), torch.ones(1, 1), alpha=1.0, gamma=0.0)  # -log(0.5)
    tensor(0.6931)
    """
    if alpha_form not in ALPHA_FORMS:
        raise ValueError(f"alpha_form must be one of {ALPHA_FORMS}, got {alpha_form!r}")
    targets = targets.to(logits.dtype)
    probability = torch.sigmoid(logits)
    # log p and log(1 - p) from the logits, stable for large |logits|.
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    positive = targets * (1 - probability).pow(gamma) * log_p
    negative = (1 - targets) * probability.pow(gamma) * log_not_p
    # α_t: α on the positive term, 1 - α on the negative one; printed: α on both.
    negative_weight = 1 - alpha if alpha_form == "alpha_t" else alpha
    loss = -(alpha * positive + negative_weight * negative)
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss
