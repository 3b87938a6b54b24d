"""Mask designs (beyond the paper): how the ``n × mask_cells²`` keep/occlude cells of a mask set are drawn.

The paper draws every cell independently (``"bernoulli"``, §3.5). Variance-reduced designs keep each
mask's marginal law (every cell kept with probability ``keep_prob``) but couple the masks of a set:

* ``"antithetic"``: pairs ``M, 1 − M`` (``keep_prob`` 0.5 only); bilinear upsampling is linear, so the
  two upsampled masks of a pair sum to one in every pixel.
* ``"sobol"``: a scrambled Sobol sequence in ``mask_cells²`` dimensions thresholded at ``keep_prob``
  (low-discrepancy: over the first ``2^k`` masks every cell and pair of cells is stratified).

Chapter 06 and ``benchmarks/mask_budget.py`` measure what each design does to the maps. (Balanced blocks,
every cell kept in exactly half of each round, were measured too and dropped: on the tiny profile they
doubled the distance-correlation error of independent masks; see ``benchmarks/README.md``.)
"""

from __future__ import annotations

from typing import Literal

import torch

#: How the cells of a mask set are drawn.
MaskDesign = Literal["bernoulli", "antithetic", "sobol"]

#: Every design, in the order the comparison shows them.
MASK_DESIGNS: tuple[MaskDesign, ...] = ("bernoulli", "antithetic", "sobol")


def design_cells(design: MaskDesign, n_masks: int, mask_cells: int, keep_prob: float,
                 generator: torch.Generator) -> torch.Tensor:
    """The cells of ``n_masks`` masks drawn by ``design``: ``(n_masks, 1, mask_cells, mask_cells)`` float32 in {0, 1}.

    Args:
        design: one of :data:`MASK_DESIGNS`.
        n_masks: masks ``N``.
        mask_cells: cells per side (paper: 8).
        keep_prob: probability that a cell is kept (paper: 0.5).
        generator: a seeded CPU generator (every device sees the same cells); ``"bernoulli"`` takes exactly
            ``n_masks · mask_cells²`` uniforms from it, ``"sobol"`` one integer (the scrambling seed).

    Raises:
        ValueError: an unknown design, or ``"antithetic"`` with ``keep_prob != 0.5``.

    Example:
        >>> cells = design_cells("antithetic", 4, 2, 0.5, torch.Generator().manual_seed(0))
        >>> bool(torch.equal(cells[0] + cells[1], torch.ones(1, 2, 2)))
        True
    """
    shape = (n_masks, 1, mask_cells, mask_cells)
    if design == "bernoulli":
        return (torch.rand(shape, generator=generator) < keep_prob).float()
    if design == "antithetic":
        if keep_prob != 0.5:
            raise ValueError(f"antithetic masks need keep_prob 0.5, got {keep_prob}")
        first = (torch.rand(((n_masks + 1) // 2, 1, mask_cells, mask_cells), generator=generator) < 0.5).float()
        return torch.stack([first, 1 - first], dim=1).reshape(-1, 1, mask_cells, mask_cells)[:n_masks]
    if design == "sobol":
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        engine = torch.quasirandom.SobolEngine(mask_cells**2, scramble=True, seed=seed)
        return (engine.draw(n_masks) < keep_prob).float().reshape(shape)
    raise ValueError(f"unknown mask design {design!r}; choose from {MASK_DESIGNS}")

