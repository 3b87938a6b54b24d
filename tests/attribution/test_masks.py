"""Random occlusion masks (paper §3.4–3.5): Bernoulli cells, bilinear upsampling, RISE shifts, seeding."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from corrrelax_lib.attribution.masks import FreshMasks, RandomMasks


def test_same_seed_gives_the_same_masks_and_another_seed_does_not():
    first = RandomMasks(16, 32, seed=3)[0:16]
    again = RandomMasks(16, 32, seed=3)[0:16]
    other = RandomMasks(16, 32, seed=4)[0:16]
    assert torch.equal(first, again)
    assert not torch.equal(first, other)


@pytest.mark.parametrize("keep_prob", [0.5, 0.25])
def test_share_of_kept_cells_is_keep_prob(keep_prob):
    masks = RandomMasks(2560, 32, keep_prob=keep_prob, seed=0)
    # 2560 × 64 cells: the standard error of the share is below 0.0012.
    assert masks.cells.shape == (2560, 1, 8, 8)
    assert set(masks.cells.unique().tolist()) == {0.0, 1.0}
    assert abs(masks.cells.mean().item() - keep_prob) < 0.02
    # Bilinear upsampling keeps the share of unoccluded pixels close to keep_prob as well.
    assert abs(masks[0:2560].mean().item() - keep_prob) < 0.02


@pytest.mark.parametrize("shift", [False, True])
def test_masks_have_the_window_shape_and_lie_in_zero_one(shift):
    masks = RandomMasks(20, 48, mask_cells=6, shift=shift, seed=1)
    assert len(masks) == 20
    batch = masks[5:12]
    assert batch.shape == (7, 1, 48, 48)
    assert batch.dtype == torch.float32
    # Scale factors 48 / 6 and 56 / 6 are not powers of two: allow float32 rounding (about 1e-7) above 1.
    assert batch.min() >= 0.0 and batch.max() <= 1.0 + 1e-6
    # Soft borders: some pixels are strictly between the two cell values.
    assert ((batch > 0) & (batch < 1)).any()


def test_unshifted_mask_corners_are_the_corner_cells():
    masks = RandomMasks(64, 256, seed=2)
    pixels, cells = masks[0:64], masks.cells
    # align_corners=False clamps the corner pixels onto the corner cells' centres.
    assert torch.equal(pixels[:, 0, 0, 0], cells[:, 0, 0, 0])
    assert torch.equal(pixels[:, 0, 0, -1], cells[:, 0, 0, -1])
    assert torch.equal(pixels[:, 0, -1, 0], cells[:, 0, -1, 0])
    assert torch.equal(pixels[:, 0, -1, -1], cells[:, 0, -1, -1])


def test_unshifted_masks_are_the_bilinear_upsampled_cells():
    masks = RandomMasks(8, 40, mask_cells=5, seed=5)
    expected = F.interpolate(masks.cells, size=(40, 40), mode="bilinear", align_corners=False)
    assert torch.equal(masks[0:8], expected)


def test_shift_moves_the_pixels_but_keeps_the_cells():
    plain = RandomMasks(32, 64, seed=7)
    shifted = RandomMasks(32, 64, shift=True, seed=7)
    assert torch.equal(plain.cells, shifted.cells)
    assert not torch.equal(plain[0:32], shifted[0:32])
    assert torch.equal(shifted[0:32], RandomMasks(32, 64, shift=True, seed=7)[0:32])
    assert not torch.equal(shifted[0:32], RandomMasks(32, 64, shift=True, seed=8)[0:32])


def test_shifted_mask_is_a_crop_of_the_upsampled_cells_at_its_offset():
    masks = RandomMasks(12, 30, mask_cells=8, shift=True, seed=9)
    cell_size = 4  # ceil(30 / 8)
    assert masks.cell_size == cell_size
    assert masks.offsets.min() >= 0 and masks.offsets.max() < cell_size
    larger = F.interpolate(masks.cells, size=(30 + cell_size,) * 2, mode="bilinear", align_corners=False)
    batch = masks[0:12]
    for i, (dy, dx) in enumerate(masks.offsets.tolist()):
        assert torch.equal(batch[i, 0], larger[i, 0, dy : dy + 30, dx : dx + 30])
    # With 12 masks and 16 possible offsets, not all crops start at the corner.
    assert masks.offsets.abs().sum() > 0


@pytest.mark.parametrize("shift", [False, True])
def test_keep_prob_one_keeps_everything(shift):
    # The paper's 256-pixel window over 8 × 8 cells: exactly one everywhere.
    masks = RandomMasks(4, 256, keep_prob=1.0, shift=shift, seed=0)
    assert torch.equal(masks[0:4], torch.ones(4, 1, 256, 256))
    # Other sizes: one up to float32 rounding of the bilinear weights.
    other = RandomMasks(4, 30, keep_prob=1.0, shift=shift, seed=0)
    torch.testing.assert_close(other[0:4], torch.ones(4, 1, 30, 30), rtol=0, atol=1e-6)


@pytest.mark.parametrize("shift", [False, True])
def test_paper_masks_lie_exactly_in_zero_one(shift):
    batch = RandomMasks(16, 256, shift=shift, seed=6)[0:16]
    assert batch.min() == 0.0 and batch.max() == 1.0


@pytest.mark.parametrize(
    "kwargs",
    [{"n_masks": 0}, {"mask_cells": 0}, {"keep_prob": 0.0}, {"keep_prob": -0.5}, {"keep_prob": 1.5}],
)
def test_bad_arguments_raise(kwargs):
    arguments = {"n_masks": 4, "window_size": 16} | kwargs
    with pytest.raises(ValueError):
        RandomMasks(**arguments)


@pytest.mark.parametrize("shift", [False, True])
def test_two_slices_equal_one_slice(shift):
    masks = RandomMasks(10, 24, mask_cells=4, shift=shift, seed=11)
    whole = masks[0:10]
    assert torch.equal(torch.cat([masks[0:3], masks[3:10]]), whole)
    assert torch.equal(masks[4:7], whole[4:7])


# Fresh masks per window (the authors' code draws a new set for every window).

def _all_masks(masks, window):
    return masks.of(torch.full((len(masks),), window), torch.arange(len(masks)))


def test_fresh_masks_differ_per_window_and_seed_and_reproduce():
    first = FreshMasks(32, 32, seed=3)
    assert torch.equal(_all_masks(first, 5), _all_masks(FreshMasks(32, 32, seed=3), 5))
    assert not torch.equal(_all_masks(first, 5), _all_masks(first, 6))
    assert not torch.equal(_all_masks(first, 5), _all_masks(FreshMasks(32, 32, seed=4), 5))
    # No two of 32 × 4 masks share their cells.
    cells = torch.cat([first.cells(torch.full((32,), w), torch.arange(32))[0] for w in range(4)]).flatten(1)
    assert len(torch.unique(cells, dim=0)) == 128


def test_a_fresh_mask_does_not_depend_on_its_batch():
    masks = FreshMasks(64, 24, mask_cells=4, shift=True, seed=1)
    windows, mask_ids = torch.tensor([7, 2, 7, 40]), torch.tensor([0, 63, 5, 5])
    batch = masks.of(windows, mask_ids)
    for i in range(4):
        assert torch.equal(batch[i], masks.of(windows[i:i + 1], mask_ids[i:i + 1])[0])
    # A round hands out the masks first + i.
    assert torch.equal(masks.for_round(16, 32)(windows, mask_ids % 16), masks.of(windows, mask_ids % 16 + 16))


@pytest.mark.parametrize("keep_prob", [0.5, 0.25])
def test_fresh_cells_are_bernoulli_keep_prob_and_upsampled_like_the_shared_set(keep_prob):
    masks = FreshMasks(40, 40, mask_cells=5, keep_prob=keep_prob, seed=0)
    window_ids, mask_ids = torch.arange(64).repeat_interleave(40), torch.arange(40).repeat(64)
    cells, offsets = masks.cells(window_ids, mask_ids)
    # 64 × 40 × 25 cells: the standard error of the share is below 0.0011.
    assert set(cells.unique().tolist()) <= {0.0, 1.0} and abs(cells.mean().item() - keep_prob) < 0.01
    assert (offsets == 0).all()
    expected = F.interpolate(cells[:8], size=(40, 40), mode="bilinear", align_corners=False)
    assert torch.equal(masks.of(window_ids[:8], mask_ids[:8]), expected)


def test_fresh_shifted_masks_are_crops_at_offsets_inside_one_cell():
    masks = FreshMasks(12, 30, mask_cells=8, shift=True, seed=9)
    window_ids, mask_ids = torch.zeros(12, dtype=torch.int64), torch.arange(12)
    cells, offsets = masks.cells(window_ids, mask_ids)
    assert offsets.min() >= 0 and offsets.max() < 4 and offsets.abs().sum() > 0
    larger = F.interpolate(cells, size=(34, 34), mode="bilinear", align_corners=False)
    batch = masks.of(window_ids, mask_ids)
    for i, (dy, dx) in enumerate(offsets.tolist()):
        assert torch.equal(batch[i, 0], larger[i, 0, dy:dy + 30, dx:dx + 30])


def test_fresh_masks_refuse_bad_arguments():
    with pytest.raises(ValueError):
        FreshMasks(0, 16)
