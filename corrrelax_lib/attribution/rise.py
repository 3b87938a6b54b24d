"""RISE (Petsiuk, Das & Saenko, "RISE: Randomized Input Sampling for Explanation of Black-box Models",
BMVC 2018): each pixel's expected prediction over random masks that keep it.

With ``n_masks`` random masks ``M_i`` (Bernoulli cells kept with probability ``keep_prob``,
bilinearly upsampled and randomly shifted) and the sigmoid output ``p_c`` of class ``c``, the
Monte Carlo estimate of the paper's Eq. 6 is

    ``S_c(x) = Σ_i p_c(I ⊙ M_i) · M_i(x) / (n_masks · keep_prob)``,

the expected probability of class ``c`` given that pixel ``x`` is kept: **probability units**
(so the pointing game's 25% / 50% thresholds apply). Masks are processed ``mask_chunk`` at a
time, so memory does not grow with ``n_masks``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from corrrelax_lib.attribution.explainer import HEATMAP
from corrrelax_lib.attribution.masked_input import MaskedInputExplainer


class RISE(MaskedInputExplainer):
    """RISE maps in probability units, one per class.

    Args:
        model, labels: as :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`.
        n_masks: random masks per image (the paper: 4000 for ResNet-50).
        **options: ``mask_cells``, ``keep_prob`` (the paper: 0.5), ``mask_chunk`` of
            :class:`~corrrelax_lib.attribution.masked_input.MaskedInputExplainer` and the keyword arguments of
            :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`; ``seed`` seeds the masks.

    Example:
        >>> from corrrelax_lib.models.classifier import MultiLabelClassifier
        >>> explainer = RISE(MultiLabelClassifier("small_cnn", 2), ["a", "b"], n_masks=32, progress=False)
        >>> explainer.attribute(torch.rand(3, 3, 64, 64)).shape
        torch.Size([3, 2, 64, 64])
    """

    method = "RISE"
    probability_kinds = frozenset({HEATMAP})

    def __init__(self, model: nn.Module, labels: Sequence[str], *, n_masks: int = 4000, **options: Any) -> None:
        super().__init__(model, labels, n_masks=n_masks, **options)

    def attribute(self, x: Tensor) -> Tensor:
        """``(N, 3, H, W)`` images in [0, 1] → ``(N, C, H, W)`` maps, probabilities (about [0, 1])."""
        n, _, height, width = x.shape
        saliency = x.new_zeros((n, len(self.labels), height, width))
        with torch.no_grad():
            for chunk, masked in self.masked_chunks(x):  # M_i (m, H, W), I ⊙ M_i (N·m, 3, H, W)
                probabilities = torch.sigmoid(self.model(masked)).view(n, len(chunk), -1)  # p_c: (N, m, C)
                saliency += torch.einsum("nmc,mhw->nchw", probabilities, chunk)
        return saliency / (self.n_masks * self.keep_prob)
