"""RELAX (Wickstrøm et al. 2023): mask-weighted mean and variance of representation similarities."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from corrrelax_lib.attribution.masks import RandomMasks
from corrrelax_lib.attribution.relax import RELAX
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.testing.models import TopLeftFeature


def test_an_unchanging_representation_gives_importance_one_and_no_uncertainty():
    # A black top-left quadrant: h = (0, 1) with or without masks, every similarity is exactly 1.
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    x[:, 0, :8, :8] = 0
    explainer = RELAX(TopLeftFeature(), ["a", "b"], n_masks=30, mask_cells=4, mask_chunk=7, progress=False)
    maps, extra = explainer.attribute_with_extra(x)
    torch.testing.assert_close(maps, torch.ones(2, 2, 16, 16))
    torch.testing.assert_close(extra["uncertainty"], torch.zeros(2, 16, 16))
    assert not hasattr(explainer, "uncertainty")  # the extra comes with the call, not in the explainer's state


def test_streaming_sums_match_the_definitions_whatever_the_chunk_size():
    model = TopLeftFeature()
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    masks = RandomMasks(50, 16, mask_cells=4, shift=True, seed=0)[0:50][:, 0].double()
    h = model.features_and_logits(x)[0].double()
    similarity = torch.stack([F.cosine_similarity(h, model.features_and_logits(x * mask.float())[0].double())
                              for mask in masks], dim=1)  # s_i: (N, masks)
    weight = masks.sum(dim=0)
    importance = torch.einsum("nm,mhw->nhw", similarity, masks) / weight
    uncertainty = torch.einsum("mhw,nmhw->nhw", masks, (similarity[:, :, None, None] - importance[:, None]) ** 2)
    uncertainty = uncertainty / weight
    for mask_chunk in (1, 7, 50, 64):
        explainer = RELAX(model, ["a", "b"], n_masks=50, mask_cells=4, mask_chunk=mask_chunk, progress=False)
        maps, extra = explainer.attribute_with_extra(x)
        torch.testing.assert_close(maps, importance[:, None].expand(3, 2, 16, 16).float(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(extra["uncertainty"], uncertainty.float(), rtol=1e-4, atol=1e-7)


def test_importance_lies_on_the_only_region_the_representation_sees():
    explainer = RELAX(TopLeftFeature(), ["a", "b"], n_masks=300, mask_cells=4, progress=False)
    maps, extra = explainer.attribute_with_extra(torch.ones(1, 3, 16, 16))
    maps = maps[0]
    # Same importance for every class: RELAX is label-free.
    assert torch.equal(maps[0], maps[1])
    top_left, bottom_right = maps[0, :8, :8], maps[0, 8:, 8:]
    # Keeping a top-left pixel keeps h = (m, 1 − m) closer to h = (1, 0) of the white image (measured: 0.79
    # on average); far from it the masks there do not matter and R is the mean similarity (0.66–0.71).
    assert top_left.mean() > bottom_right.max() + 0.05
    assert top_left.min() > bottom_right.mean()
    assert (extra["uncertainty"] >= 0).all()


def test_same_seed_same_map_other_seed_other_map():
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(2))

    def relax(seed: int) -> torch.Tensor:
        return RELAX(TopLeftFeature(), ["a", "b"], n_masks=20, mask_cells=4, seed=seed, progress=False).attribute(x)

    assert torch.equal(relax(5), relax(5))
    assert not torch.equal(relax(5), relax(6))
    assert RELAX.probability_kinds == frozenset() and RELAX.method == "RELAX"


@pytest.mark.parametrize("mode", ["whole", "windows"])
def test_explain_gives_importance_and_uncertainty_maps_in_both_modes(mode):
    torch.manual_seed(0)
    model = MultiLabelClassifier("small_cnn", 2).eval()
    image = np.random.default_rng(0).random((70, 90, 3)).astype(np.float32)
    foreground = np.zeros((70, 90), bool)
    foreground[:, :60] = True
    maps = RELAX(model, ["a", "b"], n_masks=16, mode=mode, image_size=64, window_size=32, stride=16, batch_size=5,
                 progress=False).explain(image, foreground)
    assert maps.heatmaps.shape == (2, 70, 90) and maps.method == "RELAX"
    assert np.isfinite(maps.heatmaps[:, foreground]).all() and (np.abs(maps.heatmaps[:, foreground]) <= 1 + 1e-6).all()
    np.testing.assert_array_equal(maps.pixel_map("heatmap", "a"), maps.pixel_map("heatmap", "b"))
    uncertainty = maps.extra["uncertainty"]
    assert uncertainty.shape == (70, 90) and (uncertainty[foreground] >= 0).all()
    assert np.isnan(maps.heatmaps[:, :, 80:]).all() and np.isnan(uncertainty[:, 80:]).all()
