"""RELAX (Wickstrøm et al., "RELAX: Representation Learning Explainability", IJCV 131, 2023; arXiv 2112.10161):
how much each pixel keeps the representation similar to itself, and how uncertain that is.

With the representation ``h = f(I)`` (the classifier's feature vector, the ``h`` of
``features_and_logits``), random masks ``M_i`` and ``s_i = cos(h, f(I ⊙ M_i))``:

- importance ``R(x) = Σ_i s_i M_i(x) / Σ_i M_i(x)``, the mask-weighted mean similarity;
- uncertainty ``U(x) = Σ_i (s_i − R(x))² M_i(x) / Σ_i M_i(x)``, its mask-weighted variance.

Both are accumulated chunk by chunk with the weighted form of Chan's pairwise update (mean and
sum of squared deviations of each chunk, merged into running ones), so memory does not grow with
``n_masks`` and the variance does not suffer the cancellation of ``E[s²] − E[s]²`` when every
``s_i`` is close to 1.

RELAX explains the representation, not a prediction: it is label-free, and every class gets the
same importance map. The uncertainty comes with it from :meth:`RELAX.attribute_with_extra`, and
is the ``"uncertainty"`` extra of the result of :meth:`RELAX.explain`. Units: cosine similarity (not
probabilities).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from corrrelax_lib.attribution.masked_input import MaskedInputExplainer


class RELAX(MaskedInputExplainer):
    """RELAX importance (the same for every class) and uncertainty maps.

    Args:
        model, labels: as :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`; ``model``
            needs ``features_and_logits(x) -> (h (N, D), logits (N, C))``.
        n_masks: random masks per input.
        **options: ``mask_cells``, ``keep_prob``, ``mask_chunk`` of
            :class:`~corrrelax_lib.attribution.masked_input.MaskedInputExplainer` and the keyword arguments of
            :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`; ``seed`` seeds the masks.

    Example:
        >>> from corrrelax_lib.models.classifier import MultiLabelClassifier
        >>> explainer = RELAX(MultiLabelClassifier("small_cnn", 2), ["a", "b"], n_masks=32, progress=False)
        >>> importance, extra = explainer.attribute_with_extra(torch.rand(3, 3, 64, 64))
        >>> importance.shape, extra["uncertainty"].shape
        (torch.Size([3, 2, 64, 64]), torch.Size([3, 64, 64]))
    """

    method = "RELAX"

    def __init__(self, model: nn.Module, labels: Sequence[str], *, n_masks: int = 3000, **options: Any) -> None:
        super().__init__(model, labels, n_masks=n_masks, **options)

    def attribute(self, x: Tensor) -> Tensor:
        """``(N, 3, H, W)`` images in [0, 1] → ``(N, C, H, W)``: the importance ``R``, repeated for each class."""
        return self.attribute_with_extra(x)[0]

    def attribute_with_extra(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """``(N, 3, H, W)`` images in [0, 1] → the importance ``R`` ``(N, C, H, W)`` (repeated for each class)
        and ``{"uncertainty": U}``, ``(N, H, W)``. Pixels no mask ever keeps are NaN in both."""
        n, _, height, width = x.shape
        weight = x.new_zeros((height, width))  # Σ_i M_i, the same for every image
        importance = x.new_zeros((n, height, width))  # running weighted mean of s
        squares = x.new_zeros((n, height, width))  # running weighted sum of squared deviations
        with torch.no_grad():
            h = self.model.features_and_logits(x)[0]
            for chunk, masked in self.masked_chunks(x):  # M_i (m, H, W), I ⊙ M_i (N·m, 3, H, W)
                h_masked = self.model.features_and_logits(masked)[0].view(n, len(chunk), -1)
                similarity = F.cosine_similarity(h[:, None], h_masked, dim=2)  # s_i: (N, m)
                # The chunk's own weighted mean and squared deviations.
                chunk_weight = chunk.sum(dim=0)
                chunk_mean = torch.einsum("nm,mhw->nhw", similarity, chunk) / chunk_weight.clamp_min(1e-12)
                deviations = similarity[:, :, None, None] - chunk_mean[:, None]
                chunk_squares = torch.einsum("mhw,nmhw->nhw", chunk, deviations**2)
                # Merge with the running sums (Chan et al.): the means' gap adds W_a W_b / W δ².
                total = weight + chunk_weight
                share = chunk_weight / total.clamp_min(1e-12)
                delta = chunk_mean - importance
                importance += delta * share
                squares += chunk_squares + delta**2 * weight * share
                weight = total
        never_kept = weight == 0
        importance = importance.masked_fill(never_kept, float("nan"))
        uncertainty = (squares / weight).masked_fill(never_kept, float("nan"))
        return importance[:, None].repeat(1, len(self.labels), 1, 1), {"uncertainty": uncertainty}
