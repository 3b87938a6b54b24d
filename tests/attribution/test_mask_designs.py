"""Mask designs (beyond the paper): antithetic pairs, Sobol draws; each deterministic per seed."""

from __future__ import annotations

import pytest
import torch

from corrrelax_lib.attribution.mask_designs import MASK_DESIGNS, design_cells
from corrrelax_lib.attribution.masks import RandomMasks


def _cells(design: str, n_masks: int = 64, seed: int = 0, **options) -> torch.Tensor:
    return design_cells(design, n_masks, 8, 0.5, torch.Generator().manual_seed(seed), **options)


@pytest.mark.parametrize("design", MASK_DESIGNS)
def test_every_design_is_deterministic_per_seed_binary_and_shaped(design):
    first, again, other = _cells(design), _cells(design), _cells(design, seed=1)
    assert first.shape == (64, 1, 8, 8) and first.dtype == torch.float32
    assert set(first.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


def test_bernoulli_cells_are_the_papers_independent_draws():
    # Unchanged from before designs existed: one uniform per cell from the seeded generator, kept below keep_prob.
    expected = (torch.rand((32, 1, 8, 8), generator=torch.Generator().manual_seed(7)) < 0.5).float()
    assert torch.equal(RandomMasks(32, 16, seed=7).cells, expected)


def test_antithetic_pairs_sum_to_one_in_cells_and_in_upsampled_pixels():
    cells = _cells("antithetic", n_masks=10)
    assert torch.equal(cells[0::2] + cells[1::2], torch.ones(5, 1, 8, 8))
    pixels = RandomMasks(10, 40, seed=3, design="antithetic")[0:10]
    torch.testing.assert_close(pixels[0::2] + pixels[1::2], torch.ones(5, 1, 40, 40), atol=1e-6, rtol=0)


def test_antithetic_needs_keep_prob_one_half():
    with pytest.raises(ValueError, match=r"keep_prob 0\.5"):
        design_cells("antithetic", 4, 8, 0.25, torch.Generator())


def test_sobol_keeps_each_cell_exactly_half_of_the_first_power_of_two_masks():
    cells = _cells("sobol", n_masks=32)
    assert (cells.reshape(32, 64).sum(dim=0) == 16).all()
    assert (cells[:16].reshape(16, 64).sum(dim=0) == 8).all()


def test_unknown_design_is_refused():
    with pytest.raises(ValueError, match="unknown mask design"):
        _cells("balanced")
