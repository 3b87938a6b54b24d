"""LEM pooling (Zhu et al. 2025, Eq. 1–5) on hand-made score maps, and the classifier's two poolings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from corrrelax_lib.models.lem import (
    LEMClassifier,
    conv_trunk,
    extremum_masks,
    gap_logits,
    lem_aggregates,
    lem_logits,
    local_extrema,
    to_model_input,
)

# A 3 × 4 score map. Worked out by hand with 3×3 neighbourhoods cut at the border:
# local maxima 4 (row 0, col 1) and 5 (row 2, col 3); local minima -2 (row 1, col 0) and -3 (row 1, col 2).
SCORES = torch.tensor([[
    [1.0, 4.0, 2.0, 1.0],
    [-2.0, 1.0, -3.0, 1.0],
    [-1.0, 0.0, 1.0, 5.0],
]])[None]  # (N=1, C=1, h=3, w=4)


def test_local_extrema_of_a_hand_made_map() -> None:
    is_max, is_min = local_extrema(SCORES)
    assert is_max[0, 0].int().tolist() == [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]
    assert is_min[0, 0].int().tolist() == [[0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]


def test_neighbourhoods_are_cut_at_the_border() -> None:
    # The corner 3 sees only its 4-point neighbourhood (3, 2, 2, 2): a maximum although 9 is in the map.
    scores = torch.tensor([[[[3.0, 2.0, 9.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]]]])
    is_max, _ = local_extrema(scores)
    assert is_max[0, 0, 0].tolist() == [True, False, True]


def test_sampling_maps_keep_positive_maxima_and_negative_minima() -> None:
    scores = torch.tensor([[[[-1.0, -4.0, -1.0, 2.0, 1.0, 3.0]]]])
    positive_max, negative_min = extremum_masks(scores)
    # Maxima: -1 (col 0, not positive), 2 (col 3), 3 (col 5); minima: -4 (col 1), 1 (col 4, not negative).
    assert positive_max[0, 0, 0].int().tolist() == [0, 0, 0, 1, 0, 1]
    assert negative_min[0, 0, 0].int().tolist() == [0, 1, 0, 0, 0, 0]


def test_lem_score_is_the_mean_maximum_plus_the_mean_minimum() -> None:
    s_max, s_min = lem_aggregates(SCORES)
    assert s_max.item() == pytest.approx((4 + 5) / 2)
    assert s_min.item() == pytest.approx((-2 - 3) / 2)
    assert lem_logits(SCORES).item() == pytest.approx(4.5 - 2.5)


def test_a_map_without_positive_maxima_has_no_evidence_for_the_label() -> None:
    scores = torch.tensor([[[[-1.0, -2.0], [-3.0, -1.5]]]])
    s_max, s_min = lem_aggregates(scores)
    assert s_max.item() == 0.0
    assert s_min.item() == -3.0


def test_only_the_extrema_receive_gradient() -> None:
    scores = SCORES.clone().requires_grad_(True)
    lem_logits(scores).sum().backward()
    expected = torch.zeros_like(SCORES)
    expected[0, 0, 0, 1] = expected[0, 0, 2, 3] = 1 / 2  # each of the 2 maxima is half of s⁺
    expected[0, 0, 1, 0] = expected[0, 0, 1, 2] = 1 / 2  # each of the 2 minima is half of s⁻
    torch.testing.assert_close(scores.grad, expected)


def test_gap_is_the_mean_score_and_equals_gap_then_fully_connected() -> None:
    assert gap_logits(SCORES).item() == pytest.approx(SCORES.mean().item())
    # Eq. 1: a 1×1 convolution then GAP is GAP then the same fully connected layer.
    torch.manual_seed(0)
    model = LEMClassifier("small_cnn", n_labels=3).eval()
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        pooled = model.feature_map(x).mean((2, 3))
        expected = pooled @ model.score.weight[:, :, 0, 0].T + model.score.bias
        torch.testing.assert_close(model(x, pooling="gap"), expected, rtol=1e-5, atol=1e-5)


def test_forward_switches_between_gap_and_lem() -> None:
    torch.manual_seed(0)
    model = LEMClassifier("small_cnn", n_labels=2).eval()
    x = torch.rand(2, 3, 96, 64)
    with torch.no_grad():
        scores = model.score_maps(x)
        torch.testing.assert_close(model(x), lem_logits(scores))
        torch.testing.assert_close(model(x, pooling="gap"), gap_logits(scores))
    with pytest.raises(ValueError, match="pooling"):
        model(x, pooling="max")


@pytest.mark.parametrize(("backbone", "channels"), [("small_cnn", 256), ("resnet18", 512)])
def test_shapes_of_score_maps_and_logits(backbone: str, channels: int) -> None:
    model = LEMClassifier(backbone, n_labels=4).eval()
    assert model.feature_channels == channels
    x = torch.rand(2, 3, 128, 96)
    with torch.no_grad():
        assert model.feature_map(x).shape == (2, channels, 4, 3)
        assert model.score_maps(x).shape == (2, 4, 4, 3)
        assert model(x).shape == model(x, pooling="gap").shape == (2, 4)
    assert isinstance(conv_trunk(backbone)[0], nn.Sequential)


def test_other_backbones_are_refused() -> None:
    with pytest.raises(ValueError, match="mobilenet_v3_small"):
        LEMClassifier("mobilenet_v3_small", n_labels=2)


def test_model_input_is_the_resized_roi_in_unit_range() -> None:
    image = np.full((60, 40, 3), 255, dtype=np.uint8)
    image[:, 20:] = 0
    x = to_model_input(image, (30, 20))
    assert x.shape == (3, 30, 20) and x.dtype == torch.float32
    assert x[:, :, :10].eq(1).all() and x[:, :, 10:].eq(0).all()
