"""What the focal loss's α does under Adam in each of its two forms (§3.3, Eq. 1; the classifier chapter).

A linear multi-label classifier is trained on fixed seeded data with rare positives, as in
Table 1, for each form and α: in the printed form (α on both terms) every α gives the same
weights, because α is a constant factor of the loss and Adam normalises the gradient's scale;
in Lin et al.'s α_t form α trades positives against negatives and moves the predictions.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

import pandas as pd
import torch

from corrrelax_lib.training.focal_loss import ALPHA_FORMS, AlphaForm, focal_loss


def weights_after_adam(
    alpha: float, alpha_form: AlphaForm, *, gamma: float = 2.5, reduction: Literal["mean", "sum"] = "mean",
    learning_rate: float = 1e-2, weight_decay: float = 0.0, steps: int = 200, seed: int = 0,
    positive_rate: float = 0.2,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train a 16 → 4 linear classifier ``steps`` full-batch Adam steps with the focal loss.

    The data (64 Gaussian inputs, multi-hot targets with ``positive_rate`` positives) and the
    initial weights come from ``seed`` alone, so two calls differ only by the loss and optimiser settings:
    ``alpha``, ``alpha_form``, ``gamma``, the batch's ``reduction`` of the 64 × 4 terms, Adam's constant
    ``learning_rate`` and its L2 ``weight_decay``.

    Returns:
        ``(weights (4·16 + 4,), probabilities (64, 4))``: the trained weights and biases, flattened, and the
        classifier's sigmoid outputs on its training inputs (the targets are :func:`toy_targets`).
    """
    inputs, targets = _toy_data(seed, positive_rate)
    torch.manual_seed(seed)
    model = torch.nn.Linear(16, 4)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
    with _one_thread():
        for _ in range(steps):
            optimizer.zero_grad()
            focal_loss(model(inputs), targets, alpha=alpha, gamma=gamma, alpha_form=alpha_form,
                       reduction=reduction).backward()
            optimizer.step()
        with torch.no_grad():
            probabilities = torch.sigmoid(model(inputs))
    return torch.cat([model.weight.detach().ravel(), model.bias.detach()]), probabilities


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one CPU thread, then restore the count: on a problem this small, threads only cost
    (15x slower on a shared 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def toy_targets(*, seed: int = 0, positive_rate: float = 0.2) -> torch.Tensor:
    """``(64, 4)`` 0/1 targets of :func:`weights_after_adam`'s problem with the same ``seed`` and ``positive_rate``."""
    return _toy_data(seed, positive_rate)[1]


def _toy_data(seed: int, positive_rate: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(64, 16)`` Gaussian inputs and ``(64, 4)`` targets with ``positive_rate`` positives, from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(64, 16, generator=generator)
    return inputs, (torch.rand(64, 4, generator=generator) < positive_rate).float()


def focal_alpha_effect(alphas: Sequence[float] = (0.95, 0.8, 0.5, 0.25), *, steps: int = 200) -> pd.DataFrame:
    """Per form and α: how far the trained weights move from those at ``alphas[0]``, and the predictions.

    Returns:
        One row per ``(alpha_form, alpha)`` with columns ``alpha_form, alpha``, ``max |Δ weight|`` (against
        the same form at ``alphas[0]``) and ``mean prediction`` (mean sigmoid output on the training inputs).
    """
    rows = []
    for alpha_form in ALPHA_FORMS:
        reference, _ = weights_after_adam(alphas[0], alpha_form, steps=steps)
        for alpha in alphas:
            weights, probabilities = weights_after_adam(alpha, alpha_form, steps=steps)
            rows.append({"alpha_form": alpha_form, "alpha": alpha,
                         "max |Δ weight|": float((weights - reference).abs().max()),
                         "mean prediction": float(probabilities.mean())})
    return pd.DataFrame(rows)
