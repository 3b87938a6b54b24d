"""Figure 2: the preprocessing steps of one mammogram, and example crops per label."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from textwrap import fill

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from corrrelax_lib.preprocess.pipeline import PreprocessingSteps


def plot_preprocessing_steps(
    examples: Mapping[str, PreprocessingSteps], clip_limits: Sequence[float], *, credit: str | None = None
) -> Figure:
    """Figure 2, one row per mammogram: full image with its ROI, then the ROI normalised, CLAHE per clip, fused RGB.

    Args:
        examples: row label (say what the image is: a real scan or a SYNTHETIC phantom) -> its
            :func:`~corrrelax_lib.preprocess.pipeline.preprocessing_steps`.
        clip_limits: the CLAHE clip limit of channels 1..C-1.
        credit: source and licence of the real images, written under the figure.
    """
    titles = ["normalised, full", "normalised ROI"] + [f"CLAHE clip {c:g}" for c in clip_limits] + ["fused (RGB)"]
    fig, axes = plt.subplots(len(examples), len(titles), figsize=(2.2 * len(titles), 3.6 * len(examples)),
                             squeeze=False)
    for row, (label, steps) in zip(axes, examples.items(), strict=True):
        row[0].imshow(steps.normalised, cmap="gray", vmin=0, vmax=1)
        x0, y0, x1, y1 = steps.roi
        row[0].add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="tab:red", lw=1.5))
        fused_roi = steps.fused_roi
        for channel, ax in enumerate(row[1:-1]):
            ax.imshow(fused_roi[..., channel], cmap="gray", vmin=0, vmax=1)
        row[-1].imshow(np.clip(fused_roi[..., :3], 0, 1))
        height, width = steps.normalised.shape
        for ax, title in zip(row, titles, strict=True):
            ax.set_title(title, fontsize=9)
            ax.axis("off")
        row[0].set_title(f"{titles[0]}, {width} x {height} px", fontsize=9)
        row[0].text(-0.06, 0.5, label, transform=row[0].transAxes, rotation=90, ha="right", va="center",
                    fontsize=9, fontweight="bold")
    fig.tight_layout()
    if credit:
        fig.subplots_adjust(bottom=0.06)
        fig.text(0.01, 0.005, fill(credit, 160), fontsize=6.5, va="bottom")
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
