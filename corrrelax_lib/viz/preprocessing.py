"""Figure 2: the preprocessing steps of one mammogram, and example crops per label."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from corrrelax_lib.preprocess.roi import Box


def plot_preprocessing_steps(
    normalised: np.ndarray, fused_roi: np.ndarray, roi: Box, clip_limits: Sequence[float]
) -> Figure:
    """Figure 2: original with its ROI, then the ROI as normalised, CLAHE at each clip, fused RGB.

    Args:
        normalised: ``(H, W)`` full image in [0, 1] (``read_mammogram``).
        fused_roi: ``(h, w, C)`` fused ROI crop (``preprocess_mammogram(...).image``).
        roi: ``(x0, y0, x1, y1)`` of the crop.
        clip_limits: the CLAHE clip limit of channels 1..C-1.
    """
    titles = ["normalised, full", "normalised ROI"] + [f"CLAHE clip {c:g}" for c in clip_limits] + ["fused (RGB)"]
    fig, axes = plt.subplots(1, len(titles), figsize=(2.2 * len(titles), 3.6))
    axes[0].imshow(normalised, cmap="gray", vmin=0, vmax=1)
    x0, y0, x1, y1 = roi
    axes[0].add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="tab:red", lw=1.5))
    for channel, ax in enumerate(axes[1:-1]):
        ax.imshow(fused_roi[..., channel], cmap="gray", vmin=0, vmax=1)
    axes[-1].imshow(np.clip(fused_roi[..., :3], 0, 1))
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    return fig


def plot_crop_grid(crops: dict[str, list[np.ndarray]], *, suptitle: str | None = None) -> Figure:
    """One row per label, one column per example crop (fused RGB)."""
    n_cols = max(1, max((len(v) for v in crops.values()), default=1))
    fig, axes = plt.subplots(len(crops), n_cols, figsize=(1.8 * n_cols, 1.8 * len(crops)), squeeze=False)
    for row, (label, images) in zip(axes, crops.items(), strict=True):
        for col, ax in enumerate(row):
            _show_crop(ax, images[col] if col < len(images) else None)
        row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def _show_crop(ax: Axes, crop: np.ndarray | None) -> None:
    """Show one crop without ticks; an empty frame where there is none."""
    ax.set_xticks([])
    ax.set_yticks([])
    if crop is not None:
        ax.imshow(np.clip(crop, 0, 1), cmap=None if crop.ndim == 3 else "gray")
