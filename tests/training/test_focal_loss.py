import math

import pytest
import torch
import torch.nn.functional as F

from corrrelax_lib.training.focal_alpha import focal_alpha_effect, weights_after_adam
from corrrelax_lib.training.focal_loss import focal_loss


@pytest.mark.parametrize(("alpha_form", "negative_weight"), [("printed", 0.95), ("alpha_t", 0.05)])
def test_matches_a_hand_computation(alpha_form, negative_weight):
    logits = torch.tensor([[0.0, 2.0]])
    targets = torch.tensor([[1.0, 0.0]])
    alpha, gamma = 0.95, 2.5
    p0, p1 = 0.5, 1 / (1 + math.exp(-2.0))
    positive = alpha * (1 - p0) ** gamma * -math.log(p0)
    negative = negative_weight * p1**gamma * -math.log(1 - p1)
    loss = focal_loss(logits, targets, alpha=alpha, gamma=gamma, alpha_form=alpha_form, reduction="none")
    assert loss[0, 0].item() == pytest.approx(positive, rel=1e-6)
    assert loss[0, 1].item() == pytest.approx(negative, rel=1e-6)
    mean = focal_loss(logits, targets, alpha=alpha, gamma=gamma, alpha_form=alpha_form).item()
    assert mean == pytest.approx((positive + negative) / 2)


def test_gamma_zero_is_a_weighted_binary_cross_entropy():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(6, 4, generator=generator) * 3
    targets = (torch.rand(6, 4, generator=generator) > 0.5).float()
    bce = F.binary_cross_entropy_with_logits(logits, targets)
    assert torch.allclose(focal_loss(logits, targets, alpha=1.0, gamma=0.0, alpha_form="printed"), bce, atol=1e-6)
    assert torch.allclose(focal_loss(logits, targets, alpha=0.95, gamma=0.0, alpha_form="printed"), 0.95 * bce,
                          atol=1e-6)
    assert torch.allclose(focal_loss(logits, targets, alpha=0.5, gamma=0.0), 0.5 * bce, atol=1e-6)


def test_well_classified_samples_are_down_weighted():
    easy = focal_loss(torch.tensor([[4.0]]), torch.tensor([[1.0]]), alpha=1.0, gamma=2.5)
    easy_bce = focal_loss(torch.tensor([[4.0]]), torch.tensor([[1.0]]), alpha=1.0, gamma=0.0)
    assert easy < 1e-3 * easy_bce


@pytest.mark.parametrize("alpha_form", ["alpha_t", "printed"])
def test_stable_for_extreme_logits(alpha_form):
    loss = focal_loss(torch.tensor([[-200.0, 200.0]]), torch.tensor([[1.0, 0.0]]), gamma=2.5, alpha_form=alpha_form)
    assert torch.isfinite(loss)


def test_unknown_alpha_form_is_refused():
    with pytest.raises(ValueError, match="alpha_form must be one of"):
        focal_loss(torch.zeros(1, 1), torch.ones(1, 1), alpha_form="lin")  # type: ignore[arg-type]


def test_printed_alpha_changes_nothing_under_adam():
    # α multiplies the whole loss, and Adam divides the gradient by its own scale: the same weights.
    at_one, _ = weights_after_adam(1.0, "printed")
    at_paper, _ = weights_after_adam(0.95, "printed")
    assert (at_one - at_paper).abs().max() < 1e-5


def test_alpha_t_changes_the_trained_weights_and_raises_positive_predictions():
    (low, low_predictions), (high, high_predictions) = weights_after_adam(0.25, "alpha_t"), weights_after_adam(
        0.95, "alpha_t")
    assert (low - high).abs().max() > 0.1
    # α_t weights positives by α and negatives by 1 - α: a larger α moves every bias and prediction up.
    assert (high[-4:] > low[-4:]).all()
    assert high_predictions.mean() > low_predictions.mean() + 0.1


def test_alpha_effect_table_has_both_forms_against_the_first_alpha():
    table = focal_alpha_effect((0.95, 0.5), steps=50)
    assert table[["alpha_form", "alpha"]].values.tolist() == [["alpha_t", 0.95], ["alpha_t", 0.5],
                                                              ["printed", 0.95], ["printed", 0.5]]
    moved = table.set_index(["alpha_form", "alpha"])["max |Δ weight|"]
    assert moved[("alpha_t", 0.95)] == 0 and moved[("printed", 0.95)] == 0
    assert moved[("alpha_t", 0.5)] > 100 * moved[("printed", 0.5)]
