import math

import pytest
import torch
import torch.nn.functional as F

from corrrelax_lib.training.focal_loss import focal_loss


def test_matches_a_hand_computation():
    logits = torch.tensor([[0.0, 2.0]])
    targets = torch.tensor([[1.0, 0.0]])
    alpha, gamma = 0.95, 2.5
    p0, p1 = 0.5, 1 / (1 + math.exp(-2.0))
    positive = alpha * (1 - p0) ** gamma * -math.log(p0)
    negative = alpha * p1**gamma * -math.log(1 - p1)
    loss = focal_loss(logits, targets, alpha=alpha, gamma=gamma, reduction="none")
    assert loss[0, 0].item() == pytest.approx(positive, rel=1e-6)
    assert loss[0, 1].item() == pytest.approx(negative, rel=1e-6)
    assert focal_loss(logits, targets, alpha=alpha, gamma=gamma).item() == pytest.approx((positive + negative) / 2)


def test_gamma_zero_is_binary_cross_entropy():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, generator=generator) * 3
    targets = (torch.rand(6, 4, generator=generator) > 0.5).float()
    bce = F.binary_cross_entropy_with_logits(logits, targets)
    assert torch.allclose(focal_loss(logits, targets, alpha=1.0, gamma=0.0), bce, atol=1e-6)
    assert torch.allclose(focal_loss(logits, targets, alpha=0.95, gamma=0.0), 0.95 * bce, atol=1e-6)


def test_well_classified_samples_are_down_weighted():
    easy = focal_loss(torch.tensor([[4.0]]), torch.tensor([[1.0]]), alpha=1.0, gamma=2.5)
    easy_bce = focal_loss(torch.tensor([[4.0]]), torch.tensor([[1.0]]), alpha=1.0, gamma=0.0)
    assert easy < 1e-3 * easy_bce


def test_stable_for_extreme_logits():
    loss = focal_loss(torch.tensor([[-200.0, 200.0]]), torch.tensor([[1.0, 0.0]]), gamma=2.5)
    assert torch.isfinite(loss)
