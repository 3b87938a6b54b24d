"""Figure 7: how far are correlations from fewer masks from those of the reference count? (§3.5, §4.3)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.attribution.explainer import prepare_roi
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.pipeline.explained_images import explain_images


def sample_windows(image: np.ndarray, explainer: CorRELAX, n_windows: int, seed: int) -> np.ndarray:
    """A seeded sample of ``n_windows`` breast windows: ``(n_rows, n_cols)`` bool selection for ``explain``.

    Args:
        image: ``(H, W, 3)`` ROI image, uint8 or float in [0, 1], prepared as every explainer prepares it
            (:func:`~corrrelax_lib.attribution.explainer.prepare_roi`).
        explainer: gives the window grid and the breast-share threshold.

    Raises:
        EmptyBreastError: no window holds enough breast.
    """
    windows = prepare_roi(image).windows(explainer.window_size, explainer.stride, explainer.min_foreground)
    chosen = np.random.default_rng(seed).choice(windows.kept, size=min(n_windows, len(windows.kept)), replace=False)
    selection = np.zeros(windows.grid.n_rows * windows.grid.n_cols, dtype=bool)
    selection[chosen] = True
    return selection.reshape(windows.grid.shape)


def prefix_errors(maps: CorrelaxMaps, counts: Sequence[int]) -> pd.DataFrame:
    """``|ρ_n − ρ_ref|`` of the distance correlation per computed window and count ``n`` (Figure 7).

    ``maps`` must come from the reference count with ``counts`` as checkpoints; the reference is
    ``maps.window_rho_dist``. Windows where either value is undefined are left out.

    Returns:
        Long format: ``window`` (flat grid index), ``n_masks``, ``abs_error``.
    """
    reference = maps.window_rho_dist.ravel()
    frames = []
    for n in counts:
        error = np.abs(maps.rho_dist_at[n].ravel() - reference)
        present = np.flatnonzero(np.isfinite(error))
        frames.append(pd.DataFrame({"window": present, "n_masks": n, "abs_error": error[present]}))
    return pd.concat(frames, ignore_index=True)


def adaptive_errors(adaptive: CorrelaxMaps, reference: CorrelaxMaps) -> pd.DataFrame:
    """Per window of an adaptive run: masks used and its errors against the reference-count run.

    Returns:
        ``window``, ``masks_used``, ``abs_error`` (distance correlation) and ``max_abs_error``
        (the largest over the distance and every class correlation), for windows computed in both.
    """
    computed = np.flatnonzero(adaptive.masks_used.ravel() > 0)
    distance = np.abs(adaptive.window_rho_dist.ravel() - reference.window_rho_dist.ravel())[computed]
    per_class = np.abs(adaptive.window_rho_class - reference.window_rho_class).reshape(len(adaptive.labels), -1)
    largest = np.fmax(distance, np.nanmax(np.where(np.isnan(per_class), -np.inf, per_class), axis=0)[computed])
    return pd.DataFrame({"window": computed, "masks_used": adaptive.masks_used.ravel()[computed],
                         "abs_error": distance, "max_abs_error": largest})


def explain_window_samples(
    explainer: CorRELAX, images: Sequence[AnnotatedImage], selections: Mapping[str, np.ndarray],
    directory: str | os.PathLike[str],
) -> dict[str, CorrelaxMaps]:
    """``{image_id: maps}`` of the selected windows only: one checksummed artifact per image
    (:func:`~corrrelax_lib.pipeline.explained_images.explain_images`), recomputed when the file is corrupt or
    the parameters or selections changed."""
    return explain_images(explainer, images, directory, windows=selections)
