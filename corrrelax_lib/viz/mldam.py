"""The MLDAM chapter's figure: every arm's gradient saliency beside the attention (Gonçalves 2021, Figs. 3–8)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from corrrelax_lib.attribution.saliency import GradientSaliency
from corrrelax_lib.models.mldam import MLDAMClassifier


def plot_mldam_maps(
    models: Mapping[str, MLDAMClassifier], images: Tensor, label_indices: Sequence[int], row_titles: Sequence[str],
) -> Figure:
    """One row per crop: the crop, each model's saliency, and each MLDAM's spatial attention over the crop.

    Saliency is :class:`~corrrelax_lib.attribution.saliency.GradientSaliency` of the row's label,
    scaled to its own maximum (as the paper's figures, it compares where, not how much). Attention
    is :attr:`~corrrelax_lib.models.mldam.AttentionMaps.spatial` (weight each grid cell receives,
    in [0, 1], summing to 1), drawn on ``I_C``'s grid over the crop on a shared 0–1 colour scale.

    Args:
        models: titled models, e.g. ``{title: run.model for title, run in experiment.runs.items()}``.
        images: ``(N, 3, S, S)`` crops in [0, 1]; channel 0 (the original intensities) is shown.
        label_indices: the ``N`` output columns whose logits are differentiated.
        row_titles: the ``N`` row labels.
    """
    columns: list[tuple[str, str, MLDAMClassifier | None]] = [("crop", "crop", None)]
    for title, model in models.items():
        columns.append((f"{title}\nsaliency", "saliency", model))
        if model.attention:
            columns.append((f"{title}\nattention", "attention", model))
    edge = images.shape[-1] - 0.5  # imshow's pixel-centred extent of the crop
    fig, axes = plt.subplots(len(images), len(columns), figsize=(1.9 * len(columns), 2.0 * len(images)),
                             squeeze=False)
    for col, (title, kind, model) in enumerate(columns):
        if kind == "saliency":
            per_label = GradientSaliency(model, range(model.n_labels), progress=False).attribute(images).detach()
            saliency = per_label[torch.arange(len(images)), torch.as_tensor(label_indices)]
            saliency = saliency / saliency.amax(dim=(1, 2), keepdim=True).clamp_min(torch.finfo(saliency.dtype).tiny)
        elif kind == "attention":
            with torch.no_grad():
                attention = model.eval().attention_maps(images).spatial
        for row, ax in enumerate(axes[:, col]):
            if kind == "saliency":
                ax.imshow(saliency[row], cmap="hot", vmin=0, vmax=1)
            else:
                ax.imshow(images[row, 0], cmap="gray", vmin=0, vmax=1)
            if kind == "attention":
                ax.imshow(attention[row], cmap="viridis", vmin=0, vmax=1, alpha=0.55,
                          extent=(-0.5, edge, edge, -0.5), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, col].set_title(title, fontsize=7)
    for row, ax in enumerate(axes[:, 0]):
        ax.set_ylabel(row_titles[row], fontsize=7)
    fig.tight_layout()
    return fig
