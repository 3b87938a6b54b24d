"""Example crops per label for the dataset chapter (paper §3.2)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from corrrelax_lib.data.labels import LABELS, NO_FINDING
from corrrelax_lib.data.vindr import BOX_COLUMNS, image_path
from corrrelax_lib.preprocess.pipeline import PreprocessedMammogram, preprocess_mammogram


def label_example_crops(
    data_root: str | os.PathLike[str], samples: pd.DataFrame, n_per_label: int, *, seed: int = 0,
    context: float = 0.5, normal_crop_fraction: float = 0.25,
) -> dict[str, list[np.ndarray]]:
    """Up to ``n_per_label`` preprocessed crops per label, drawn at random with ``seed``.

    Args:
        data_root: dataset root in the VinDr-Mammo layout.
        samples: :func:`corrrelax_lib.data.vindr.finding_samples` output.
        n_per_label: crops per label.
        context: margin around a box, as a fraction of its longer side.
        normal_crop_fraction: No-Finding crops are centred squares of this fraction of the ROI height.

    Returns:
        ``{label: [(h, w, 3) float32 crop, ...]}`` in ``LABELS`` order.
    """
    rng = np.random.default_rng(seed)
    cache: dict[str, PreprocessedMammogram] = {}
    crops: dict[str, list[np.ndarray]] = {}
    for label in LABELS:
        rows = samples[samples["labels"].map(lambda labels, label=label: label in labels)]
        chosen = rows.iloc[rng.permutation(len(rows))[:n_per_label]]
        crops[label] = [_crop(data_root, row, cache, context, normal_crop_fraction, label == NO_FINDING)
                        for _, row in chosen.iterrows()]
    return crops


def _crop(data_root: str | os.PathLike[str], row: pd.Series, cache: dict[str, PreprocessedMammogram],
          context: float, normal_crop_fraction: float, is_normal: bool) -> np.ndarray:
    """The crop of one sample from its (cached) preprocessed image."""
    if row["image_id"] not in cache:
        cache[row["image_id"]] = preprocess_mammogram(image_path(data_root, row["study_id"], row["image_id"]))
    mammogram = cache[row["image_id"]]
    height, width = mammogram.image.shape[:2]
    if is_normal:
        half = normal_crop_fraction * height / 2
        box = (width / 2 - half, height / 2 - half, width / 2 + half, height / 2 + half)
    else:
        x0, y0 = mammogram.roi[:2]
        xmin, ymin, xmax, ymax = row[BOX_COLUMNS].astype(float)
        box = (xmin - x0, ymin - y0, xmax - x0, ymax - y0)
    return crop_with_context(mammogram.image, box, context=0 if is_normal else context)


def crop_with_context(image: np.ndarray, box_xyxy: Sequence[float], context: float = 0.5) -> np.ndarray:
    """Square crop around a box, enlarged by ``context`` of its longer side on every side.

    Args:
        image: ``(h, w, C)`` or ``(h, w)`` array.
        box_xyxy: ``(xmin, ymin, xmax, ymax)`` in the image's pixels.
    """
    xmin, ymin, xmax, ymax = box_xyxy
    half = 0.5 * max(xmax - xmin, ymax - ymin) * (1 + 2 * context)
    cx, cy = 0.5 * (xmin + xmax), 0.5 * (ymin + ymax)
    x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
    x1, y1 = min(image.shape[1], int(np.ceil(cx + half))), min(image.shape[0], int(np.ceil(cy + half)))
    return image[y0:y1, x0:x1]
