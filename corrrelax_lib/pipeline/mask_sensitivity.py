"""Figure 7: how far are correlations from fewer masks from those of the reference count? (§3.5, §4.3)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.preprocess.roi import breast_mask
from corrrelax_lib.windows.grid import foreground_fraction, window_grid


def sample_windows(image: np.ndarray, explainer: CorRELAX, n_windows: int, seed: int) -> np.ndarray:
    """A seeded sample of ``n_windows`` breast windows: ``(n_rows, n_cols)`` bool selection for ``explain``.

    Args:
        image: ``(H, W, 3)`` uint8 ROI image.
        explainer: gives the window grid and the breast-share threshold.
    """
    grid = window_grid(image.shape[0], image.shape[1], explainer.window_size, explainer.stride)
    fraction = foreground_fraction(breast_mask(image[..., 0] / 255.0), grid)
    candidates = np.flatnonzero(fraction.ravel() >= explainer.min_foreground)
    chosen = np.random.default_rng(seed).choice(candidates, size=min(n_windows, len(candidates)), replace=False)
    selection = np.zeros(grid.n_rows * grid.n_cols, dtype=bool)
    selection[chosen] = True
    return selection.reshape(grid.shape)


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
    """``{image_id: maps}`` of the selected windows only, one cached ``.npz`` per image (written atomically)."""
    maps = {}
    for image in images:
        path = Path(directory) / f"{image.image_id}.npz"
        if not path.is_file():
            explainer.explain(image.image, windows=selections[image.image_id]).save(path)
        maps[image.image_id] = CorrelaxMaps.load(path)
    return maps
