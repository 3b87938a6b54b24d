"""Figures of the classifier chapter: training curves and per-label ROC curves (paper §4.1)."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from corrrelax_lib.metrics.classification import roc_auc, roc_curve


def plot_training_curves(history: pd.DataFrame, title: str) -> Figure:
    """Loss (training and, if present, validation), validation weighted F1 and learning rate per epoch.

    Args:
        history: :func:`corrrelax_lib.training.loop.fit` output.
    """
    panels = ["loss", "validation_weighted_f1", "learning_rate"]
    panels = [p for p in panels if p == "loss" or p in history]
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.0), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "loss":
            ax.plot(history["epoch"], history["train_loss"], marker="o", ms=3, label="training crops")
            if "validation_loss" in history:
                ax.plot(history["epoch"], history["validation_loss"], marker="o", ms=3, label="test crops")
            ax.set_ylabel("mean focal loss")
            ax.legend(frameon=False)
        elif panel == "validation_weighted_f1":
            ax.plot(history["epoch"], history[panel], marker="o", ms=3, color="tab:green")
            ax.set_ylabel("weighted F1 (test crops)")
            ax.set_ylim(0, 1)
        else:
            ax.plot(history["epoch"], history[panel], color="tab:gray")
            ax.set_yscale("log")
            ax.set_ylabel("learning rate")
        ax.set_xlabel("epoch")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_roc_curves(targets: np.ndarray, probabilities: np.ndarray, labels: Sequence[str], title: str) -> Figure:
    """One ROC curve per label that has both positive and negative samples, AUC in the legend.

    Args:
        targets: ``(N, C)`` multi-hot ground truth.
        probabilities: ``(N, C)`` sigmoid outputs.
        labels: the ``C`` label names.
    """
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    targets = np.asarray(targets, dtype=bool)
    for column, label in enumerate(labels):
        truth = targets[:, column]
        if 0 < truth.sum() < len(truth):
            fpr, tpr = roc_curve(truth, probabilities[:, column])
            auc = roc_auc(truth, probabilities[:, column])
            ax.plot(fpr, tpr, drawstyle="default", label=f"{label} (AUC {auc:.2f}, n={truth.sum()})")
    ax.plot([0, 1], [0, 1], color="0.6", linestyle="--", linewidth=1, label="chance")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", xlim=(0, 1), ylim=(0, 1.01), title=title)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    fig.tight_layout()
    return fig
