"""Random occlusion masks: Bernoulli cells, bilinearly upsampled to the window (paper §3.4, §3.5).

Two ways to hand masks to the windows: :class:`RandomMasks`, one seeded set shared by every window
and image (this project's default), and :class:`FreshMasks`, a fresh set for every window, as the
authors' code draws them (``rand > p`` per window); each mask there is a function of the seed, the
window's index and the mask's index, so reruns give the same maps. The engine asks either for the
masks of one round with ``for_round(first, last)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from corrrelax_lib.attribution.mask_designs import MaskDesign, design_cells

#: How the windows get their masks: one shared seeded set, or a fresh seeded set per window.
MaskSharing = Literal["shared", "per_window"]

#: ``masks(window_ids (B,), mask_in_round (B,)) -> (B, 1, S, S)``: the mask of each (window, mask) pair of a batch.
RoundMasks = Callable[[Tensor, Tensor], Tensor]


class RandomMasks:
    """``n_masks`` masks of ``window_size²`` pixels, each a ``mask_cells × mask_cells`` Bernoulli grid.

    Each cell is kept (1) with probability ``keep_prob`` and occluded (0) otherwise; the grid is
    upsampled bilinearly to the window, so a masked window is ``X ⊙ M`` with soft cell borders.
    (The paper states the probability of a cell being *masked*, 0.5; at 0.5 both readings agree.)
    With ``shift=True`` the grid is upsampled to one cell more than the window and cropped at a
    random sub-cell offset, as in RISE (Petsiuk et al. 2018), so cell borders do not always fall
    on the same pixels.

    The Bernoulli draws (``n_masks × mask_cells²`` numbers) come from a CPU ``torch.Generator``
    seeded with ``seed`` as ``design`` says (:mod:`~corrrelax_lib.attribution.mask_designs`; the paper's
    independent cells by default), so every device sees the same masks; the upsampling, the part that
    costs memory and time, runs on ``device`` one slice at a time, so memory does not grow with
    ``n_masks``. Every window and image gets the same set.

    Example:
        >>> masks = RandomMasks(2560, 256, seed=0)
        >>> masks[0:128].shape
        torch.Size([128, 1, 256, 256])
    """

    def __init__(
        self,
        n_masks: int,
        window_size: int,
        *,
        mask_cells: int = 8,
        keep_prob: float = 0.5,
        shift: bool = False,
        seed: int = 0,
        design: MaskDesign = "bernoulli",
        device: str | torch.device = "cpu",
    ) -> None:
        _check_arguments(n_masks, mask_cells, keep_prob)
        generator = torch.Generator().manual_seed(seed)
        self.window_size = window_size
        self.mask_cells = mask_cells
        self.keep_prob = keep_prob
        self.shift = shift
        self.device = torch.device(device)
        self.cells = design_cells(design, n_masks, mask_cells, keep_prob, generator)
        self.cell_size = math.ceil(window_size / mask_cells)
        self.offsets = (torch.randint(0, self.cell_size, (n_masks, 2), generator=generator) if shift
                        else torch.zeros((n_masks, 2), dtype=torch.int64))

    def __len__(self) -> int:
        return self.cells.shape[0]

    def __getitem__(self, index: slice) -> Tensor:
        """Masks ``index`` (a slice) as ``(n, 1, window_size, window_size)`` float32 in [0, 1] on the device."""
        return _upsample(self.cells[index].to(self.device), self.offsets[index].to(self.device) if self.shift else None,
                         self.window_size, self.cell_size)

    def for_round(self, first: int, last: int) -> RoundMasks:
        """Masks ``first:last`` for any window: upsampled once per round, then indexed by the mask."""
        chunk = self[first:last]
        return lambda window_ids, mask_in_round: chunk[mask_in_round]


class FreshMasks:
    """A fresh set of ``n_masks`` masks for every window (the authors' code; the paper does not say).

    Mask ``m`` of window ``w`` has the cells, keep probability, upsampling and (with ``shift``) RISE
    offsets of :class:`RandomMasks`, but its ``mask_cells²`` uniform draws (and two more for the
    offsets) are a counter-based hash of ``(seed, w, m, cell)`` (SplitMix64), not a generator's
    stream: a window's masks do not depend on which other windows are computed, on the batch size
    or on the rounds, reruns give the same masks, and nothing is stored: the cells of one batch of
    ``(window, mask)`` pairs are drawn when the batch is masked, so memory is one batch of masks.

    Args:
        n_masks, window_size, mask_cells, keep_prob, shift, seed, device: as :class:`RandomMasks`.

    Example:
        >>> masks = FreshMasks(1280, 256, seed=0)
        >>> masks.of(torch.tensor([0, 1]), torch.tensor([5, 5])).shape  # mask 5 of windows 0 and 1
        torch.Size([2, 1, 256, 256])
    """

    def __init__(
        self,
        n_masks: int,
        window_size: int,
        *,
        mask_cells: int = 8,
        keep_prob: float = 0.5,
        shift: bool = False,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        _check_arguments(n_masks, mask_cells, keep_prob)
        self.n_masks = n_masks
        self.window_size = window_size
        self.mask_cells = mask_cells
        self.keep_prob = keep_prob
        self.shift = shift
        self.seed = seed
        self.device = torch.device(device)
        self.cell_size = math.ceil(window_size / mask_cells)

    def __len__(self) -> int:
        return self.n_masks

    def cells(self, window_ids: Tensor, mask_ids: Tensor) -> tuple[Tensor, Tensor]:
        """The Bernoulli cells ``(B, 1, mask_cells, mask_cells)`` float32 and offsets ``(B, 2)`` int64 (on the CPU)
        of mask ``mask_ids[i]`` of window ``window_ids[i]``; the offsets are 0 without ``shift``."""
        n_cells = self.mask_cells**2
        draws = _uniform(self.seed, window_ids.cpu().numpy(), mask_ids.cpu().numpy(), np.arange(n_cells + 2))
        cells = torch.from_numpy(draws[:, :n_cells] < self.keep_prob).float()
        offsets = np.floor(draws[:, n_cells:] * self.cell_size).astype(np.int64) if self.shift else \
            np.zeros((len(draws), 2), dtype=np.int64)
        return cells.reshape(-1, 1, self.mask_cells, self.mask_cells), torch.from_numpy(offsets)

    def of(self, window_ids: Tensor, mask_ids: Tensor) -> Tensor:
        """Mask ``mask_ids[i]`` of window ``window_ids[i]``: ``(B, 1, window_size, window_size)`` float32 on the
        device."""
        cells, offsets = self.cells(window_ids, mask_ids)
        return _upsample(cells.to(self.device), offsets.to(self.device) if self.shift else None,
                         self.window_size, self.cell_size)

    def for_round(self, first: int, last: int) -> RoundMasks:
        """Masks ``first:last`` of each window, drawn per batch of pairs."""
        return lambda window_ids, mask_in_round: self.of(window_ids, mask_in_round + first)


def _check_arguments(n_masks: int, mask_cells: int, keep_prob: float) -> None:
    if n_masks < 1 or mask_cells < 1 or not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"need n_masks >= 1, mask_cells >= 1, 0 < keep_prob <= 1; got {n_masks}, "
                         f"{mask_cells}, {keep_prob}")


def _upsample(cells: Tensor, offsets: Tensor | None, size: int, cell_size: int) -> Tensor:
    """``(n, 1, c, c)`` cells upsampled bilinearly to ``(n, 1, size, size)``; with ``offsets`` ``(n, 2)`` upsampled
    to one cell more and cropped there (RISE). Clamped to [0, 1]: bilinear upsampling by a non-integer factor
    can overshoot 1 by a float32 ulp."""
    if offsets is None:
        return F.interpolate(cells, size=(size, size), mode="bilinear", align_corners=False).clamp_(0, 1)
    larger = F.interpolate(cells, size=(size + cell_size,) * 2, mode="bilinear", align_corners=False)
    steps = torch.arange(size, device=cells.device)
    rows = (offsets[:, 0, None] + steps)[:, :, None]
    cols = (offsets[:, 1, None] + steps)[:, None, :]
    picked = torch.arange(len(offsets), device=cells.device)[:, None, None]
    return larger[picked, 0, rows, cols].unsqueeze(1).clamp_(0, 1)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _uniform(seed: int, window_ids: np.ndarray, mask_ids: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """``(B, len(draws))`` float64 uniforms in [0, 1): SplitMix64 of ``(seed, window, mask, draw)``, 53 bits each."""
    state = _splitmix64(np.full(1, seed, dtype=np.uint64) + _GOLDEN)
    for key in (window_ids[:, None], mask_ids[:, None], draws[None, :]):
        state = _splitmix64(state ^ (np.asarray(key).astype(np.uint64) + _GOLDEN))
    return (state >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _splitmix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele et al. 2014): a bijection of uint64 with full avalanche; wraps modulo 2⁶⁴."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
