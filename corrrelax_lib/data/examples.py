"""Example crops per label for the dataset chapter (paper §3.2)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from corrrelax_lib.data.labels import LABELS, NO_FINDING
from corrrelax_lib.data.vindr import BOX_COLUMNS, image_path
from corrrelax_lib.preprocess.pipeline import PreprocessedMammogram, preprocess_mammogram
from corrrelax_lib.viz.preprocessing import crop_with_context


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
