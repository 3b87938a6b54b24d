"""MLDAM head: shapes, attention weights, and Eqs. (M1)-(M3) worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from corrrelax_lib.models.mldam import MLDAMClassifier, channel_attention, position_attention


@pytest.mark.parametrize(("backbone", "channels"), [("small_cnn", 256), ("resnet18", 512)])
def test_shapes_of_mldam_and_baseline(backbone, channels):
    x = torch.rand(2, 3, 64, 64)
    for attention in (True, False):
        model = MLDAMClassifier(backbone, n_labels=5, attention=attention, input_size=64).eval()
        h, logits = model.features_and_logits(x)
        assert model.grid == (2, 2) and model.channels == channels  # 64 px / stride 32
        assert h.shape == (2, channels * 4) and model.feature_dim == channels * 4
        assert logits.shape == (2, 5) and torch.equal(model(x), logits)


def test_attention_maps_are_weights_in_unit_interval():
    model = MLDAMClassifier("small_cnn", n_labels=3, input_size=64).eval()
    maps = model.attention_maps(torch.rand(2, 3, 64, 64))
    assert maps.position.shape == (2, 4, 4) and maps.channel.shape == (2, 256, 256) and maps.spatial.shape == (2, 2, 2)
    for weights in (maps.position, maps.channel, maps.spatial):
        assert weights.min() >= 0 and weights.max() <= 1
    torch.testing.assert_close(maps.position.sum(-1), torch.ones(2, 4))
    torch.testing.assert_close(maps.channel.sum(-1), torch.ones(2, 256))
    torch.testing.assert_close(maps.spatial.sum((1, 2)), torch.ones(2))


def test_position_attention_by_hand():
    # Two positions, one channel. Keys k = (1, 0); queries q = (ln 3, 0) give energies q_i k_j
    # (ln 3, 0) and (0, 0): weights (3/4, 1/4) and (1/2, 1/2). Values v = (4, 8):
    # PAM_0 = 3/4·4 + 1/4·8 + 4 = 9, PAM_1 = 1/2·4 + 1/2·8 + 8 = 14.
    value = torch.tensor([4.0, 8.0]).view(1, 1, 1, 2)
    query = torch.tensor([math.log(3.0), 0.0]).view(1, 1, 1, 2)
    key = torch.tensor([1.0, 0.0]).view(1, 1, 1, 2)
    refined, weights = position_attention(value, query, key)
    torch.testing.assert_close(weights, torch.tensor([[[0.75, 0.25], [0.5, 0.5]]]))
    torch.testing.assert_close(refined.flatten(), torch.tensor([9.0, 14.0]))


def test_position_attention_with_weights_forced_to_one_doubles_the_values():
    # One position: softmax over a single key is 1, so PAM = v + v.
    value = torch.tensor([1.0, -2.0, 3.0]).view(1, 3, 1, 1)
    refined, weights = position_attention(value, torch.randn(1, 5, 1, 1), torch.randn(1, 5, 1, 1))
    assert weights.item() == 1.0
    torch.testing.assert_close(refined, 2 * value)


def test_channel_attention_by_hand():
    # Channel maps x_0 = (1, 0), x_1 = (0, 1): Gram matrix I, weights softmax rows (e, 1) / (e + 1).
    features = torch.tensor([[1.0, 0.0], [0.0, 1.0]]).view(1, 2, 1, 2)
    refined, weights = channel_attention(features)
    a, b = math.e / (math.e + 1), 1 / (math.e + 1)
    torch.testing.assert_close(weights, torch.tensor([[[a, b], [b, a]]]))
    torch.testing.assert_close(refined.view(2, 2), torch.tensor([[1 + a, b], [b, 1 + a]]))


def test_with_position_weights_forced_to_one_the_module_is_equation_m3():
    # small_cnn at 32 px ends on a 1 × 1 grid: S = [[1]], PAM = 2 I_C. The baseline with the same
    # stages gives I_C; at initialisation LayerNorm is a plain standardisation over channels.
    model = MLDAMClassifier("small_cnn", n_labels=2, input_size=32).eval()
    baseline = MLDAMClassifier("small_cnn", n_labels=2, attention=False, input_size=32).eval()
    baseline.stages.load_state_dict(model.stages.state_dict())
    x = torch.rand(3, 3, 32, 32)
    level_c = baseline.features_and_logits(x)[0]  # (3, 256)
    maps = model.attention_maps(x)
    assert torch.equal(maps.position, torch.ones(3, 1, 1))
    channel = (maps.channel @ level_c.unsqueeze(-1)).squeeze(-1) + level_c  # Eq. (M2) with P = 1

    def standardise(z):
        return F.layer_norm(z, (256,), eps=1e-5)

    expected = 0.5 * (standardise(F.relu(2 * level_c)) + standardise(F.relu(channel)))
    h, logits = model.features_and_logits(x)
    torch.testing.assert_close(h, expected)
    torch.testing.assert_close(logits, model.head(expected))


def test_unknown_backbone_and_baseline_maps_raise():
    with pytest.raises(ValueError, match="small_cnn, resnet18, resnet50"):
        MLDAMClassifier("vgg19", n_labels=2)
    baseline = MLDAMClassifier("small_cnn", n_labels=2, attention=False, input_size=32)
    with pytest.raises(ValueError, match="no attention maps"):
        baseline.attention_maps(torch.rand(1, 3, 32, 32))
