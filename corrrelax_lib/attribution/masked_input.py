"""Input-level explainers that occlude the whole input with random masks (RISE, RELAX): the mask set and the
masked batches they share.

A mask set is ``n_masks`` Bernoulli grids of ``mask_cells × mask_cells`` cells, each kept with probability
``keep_prob``, bilinearly upsampled to the input's longer side and randomly shifted
(:class:`~corrrelax_lib.attribution.masks.RandomMasks`, seeded by the explainer's ``seed``: the same masks for
every window and image). The masked inputs go through the model ``mask_chunk`` masks at a time, so memory does
not grow with ``n_masks``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from torch import Tensor, nn

from corrrelax_lib.attribution.masks import RandomMasks
from corrrelax_lib.attribution.roi_explainer import RoiExplainer


class MaskedInputExplainer(RoiExplainer):
    """A :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer` whose maps come from random masks of its input.

    Args:
        model, labels: as :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`.
        n_masks: random masks per input.
        mask_cells: cells across the mask's side (CorRELAX's 8: 32-pixel cells on a 256-pixel window, like RISE's
            7 cells on 224 pixels). A non-square input gets square cells: masks of its longer side, cropped.
        keep_prob: probability that a cell is kept (not occluded).
        mask_chunk: masks per forward pass, per input (``N × mask_chunk`` masked images at once).
        **options: the keyword arguments of :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`;
            ``seed`` seeds the masks.
    """

    def __init__(self, model: nn.Module, labels: Sequence[str], *, n_masks: int, mask_cells: int = 8,
                 keep_prob: float = 0.5, mask_chunk: int = 16, **options: Any) -> None:
        super().__init__(model, labels, **options)
        if mask_chunk < 1:
            raise ValueError(f"mask_chunk must be at least 1, got {mask_chunk}")
        self.n_masks, self.mask_cells, self.keep_prob, self.mask_chunk = n_masks, mask_cells, keep_prob, mask_chunk

    def method_parameters(self) -> dict[str, Any]:
        """The mask set's parameters (not ``mask_chunk``, which does not change the maps)."""
        return {"n_masks": self.n_masks, "mask_cells": self.mask_cells, "keep_prob": self.keep_prob}

    def masked_chunks(self, x: Tensor) -> Iterator[tuple[Tensor, Tensor]]:
        """The mask set over ``x``, chunk by chunk.

        Args:
            x: ``(N, 3, H, W)`` images in [0, 1].

        Yields:
            ``(M, masked)``: ``M`` the chunk's ``(m, H, W)`` masks ``M_i`` and ``masked`` the ``(N·m, 3, H, W)``
            inputs ``I ⊙ M_i`` (image-major: image ``n``'s ``m`` masked copies are rows ``n·m … n·m + m − 1``).
        """
        _, _, height, width = x.shape
        masks = RandomMasks(self.n_masks, max(height, width), mask_cells=self.mask_cells, keep_prob=self.keep_prob,
                            shift=True, seed=self.seed, device=x.device)
        for start in range(0, self.n_masks, self.mask_chunk):
            chunk = masks[start:start + self.mask_chunk][:, 0, :height, :width]
            yield chunk, (x[:, None] * chunk[None, :, None]).flatten(0, 1)
