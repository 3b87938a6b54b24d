"""Random occlusion masks: Bernoulli cells, bilinearly upsampled to the window (paper §3.4, §3.5)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


class RandomMasks:
    """``n_masks`` masks of ``window_size²`` pixels, each a ``mask_cells × mask_cells`` Bernoulli grid.

    Each cell is kept (1) with probability ``keep_prob`` and occluded (0) otherwise; the grid is
    upsampled bilinearly to the window, so a masked window is ``X ⊙ M`` with soft cell borders.
    (The paper states the probability of a cell being *masked*, 0.5; at 0.5 both readings agree.)
    With ``shift=True`` the grid is upsampled to one cell more than the window and cropped at a
    random sub-cell offset, as in RISE (Petsiuk et al. 2018), so cell borders do not always fall
    on the same pixels.

    The Bernoulli draws (``n_masks × mask_cells²`` numbers) come from a CPU ``torch.Generator``
    seeded with ``seed``, so every device sees the same masks; the upsampling, the part that
    costs memory and time, runs on ``device`` one slice at a time, so memory does not grow with
    ``n_masks``.

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
        device: str | torch.device = "cpu",
    ) -> None:
        if n_masks < 1 or mask_cells < 1 or not 0.0 < keep_prob <= 1.0:
            raise ValueError(f"need n_masks >= 1, mask_cells >= 1, 0 < keep_prob <= 1; got {n_masks}, "
                             f"{mask_cells}, {keep_prob}")
        generator = torch.Generator().manual_seed(seed)
        self.window_size = window_size
        self.mask_cells = mask_cells
        self.keep_prob = keep_prob
        self.shift = shift
        self.device = torch.device(device)
        self.cells = (torch.rand((n_masks, 1, mask_cells, mask_cells), generator=generator) < keep_prob).float()
        self.cell_size = math.ceil(window_size / mask_cells)
        self.offsets = (torch.randint(0, self.cell_size, (n_masks, 2), generator=generator) if shift
                        else torch.zeros((n_masks, 2), dtype=torch.int64))

    def __len__(self) -> int:
        return self.cells.shape[0]

    def __getitem__(self, index: slice) -> Tensor:
        """Masks ``index`` (a slice) as ``(n, 1, window_size, window_size)`` float32 in [0, 1] on the device.

        Clamped to [0, 1]: bilinear upsampling by a non-integer factor can overshoot 1 by a float32 ulp.
        """
        cells = self.cells[index].to(self.device)
        size = self.window_size
        if not self.shift:
            return F.interpolate(cells, size=(size, size), mode="bilinear", align_corners=False).clamp_(0, 1)
        larger = F.interpolate(cells, size=(size + self.cell_size,) * 2, mode="bilinear", align_corners=False)
        offsets = self.offsets[index].to(self.device)
        steps = torch.arange(size, device=self.device)
        rows = (offsets[:, 0, None] + steps)[:, :, None]
        cols = (offsets[:, 1, None] + steps)[:, None, :]
        picked = torch.arange(len(offsets), device=self.device)[:, None, None]
        return larger[picked, 0, rows, cols].unsqueeze(1).clamp_(0, 1)
