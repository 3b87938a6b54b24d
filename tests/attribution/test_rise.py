"""RISE (Petsiuk et al. 2018): the mask-weighted mean of the masked predictions, in probability units."""

from __future__ import annotations

import torch

from corrrelax_lib.attribution.masks import RandomMasks
from corrrelax_lib.attribution.rise import RISE
from corrrelax_lib.testing.models import QuadrantMeans


def _quadrant_model() -> QuadrantMeans:
    """``logit_a = 10 · mean(top-left) − 5``, ``logit_b = 10 · mean(top-right) − 5`` (first channel)."""
    return QuadrantMeans(10 * torch.eye(4, 2), torch.full((2,), -5.0))


def test_a_constant_model_gives_its_probability_times_the_normalised_mask_sum():
    # p_c(I ⊙ M) = σ(b_c) for every mask: S_c = σ(b_c) · Σ_i M_i / (n · keep_prob). The 12 × 16 input
    # gets masks of side 16, cropped to 12 rows.
    bias = torch.tensor([0.0, 2.0])
    model = QuadrantMeans(torch.zeros(4, 2), bias)
    x = torch.rand(2, 3, 12, 16, generator=torch.Generator().manual_seed(0))
    maps = RISE(model, ["a", "b"], n_masks=40, mask_cells=4, keep_prob=0.25, mask_chunk=7, seed=3,
                progress=False).attribute(x)
    masks = RandomMasks(40, 16, mask_cells=4, keep_prob=0.25, shift=True, seed=3)[0:40][:, 0, :12]
    normalised_sum = masks.sum(dim=0) / (40 * 0.25)
    torch.testing.assert_close(maps, torch.sigmoid(bias)[None, :, None, None] * normalised_sum.expand(2, 2, 12, 16))


def test_matches_the_sum_over_masks_whatever_the_chunk_size():
    model = _quadrant_model()
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    masks = RandomMasks(50, 16, mask_cells=4, shift=True, seed=0)[0:50][:, 0]
    probabilities = torch.stack([torch.sigmoid(model(x * mask)) for mask in masks])  # (masks, N, C)
    expected = torch.einsum("mnc,mhw->nchw", probabilities, masks) / (50 * 0.5)
    for mask_chunk in (1, 8, 50, 64):
        maps = RISE(model, ["a", "b"], n_masks=50, mask_cells=4, mask_chunk=mask_chunk, progress=False).attribute(x)
        torch.testing.assert_close(maps, expected)


def test_mass_lies_on_the_quadrant_that_drives_each_class():
    maps = RISE(_quadrant_model(), ["a", "b"], n_masks=300, mask_cells=4, progress=False).attribute(
        torch.ones(1, 3, 16, 16))[0]
    top_left, top_right = maps[:, :8, :8].mean(dim=(1, 2)), maps[:, :8, 8:].mean(dim=(1, 2))
    bottom = maps[:, 8:].mean(dim=(1, 2))
    # Keeping a top-left pixel raises the expected top-left mean, hence logit_a: about +0.1 in probability.
    assert top_left[0] > max(top_right[0], bottom[0]) + 0.05
    assert top_right[1] > max(top_left[1], bottom[1]) + 0.05
    # Probability units: far from the driving quadrant, the map is the mean prediction (about σ(0) = 0.5).
    assert 0.35 < bottom.min() and bottom.max() < 0.65


def test_same_seed_same_map_other_seed_other_map():
    model = _quadrant_model()
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))

    def rise(seed: int) -> torch.Tensor:
        return RISE(model, ["a", "b"], n_masks=20, mask_cells=4, seed=seed, progress=False).attribute(x)

    assert torch.equal(rise(5), rise(5))
    assert not torch.equal(rise(5), rise(6))
    explainer = RISE(model, ["a", "b"], n_masks=20, mask_cells=4, seed=5, progress=False)
    assert explainer.parameters == {"method": "RISE", "mode": "whole", "seed": 5, "n_masks": 20, "mask_cells": 4,
                                    "keep_prob": 0.5, "image_size": 512}
    assert RISE.probability_kinds == frozenset({"heatmap"})
