"""Example crops per label for the dataset chapter (paper §3.2)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from corrrelax_lib.data.image_store import PreprocessedImageStore, StoredImage
from corrrelax_lib.data.labels import LABELS, NO_FINDING
from corrrelax_lib.data.vindr import BOX_COLUMNS


def label_example_crops(
    store: PreprocessedImageStore, samples: pd.DataFrame, n_per_label: int, *, seed: int = 0,
    context: float = 0.5, normal_crop_fraction: float = 0.25,
) -> dict[str, list[np.ndarray]]:
    """Up to ``n_per_label`` preprocessed crops per label, drawn at random with ``seed``.

    Args:
        store: the preprocessed images, as the classifier reads them (e.g. ``Study.image_store()``).
        samples: :func:`corrrelax_lib.data.vindr.finding_samples` output.
        n_per_label: crops per label.
        context: margin around a box, as a fraction of its longer side.
        normal_crop_fraction: No-Finding crops are centred squares of this fraction of the ROI height.

    Returns:
        ``{label: [(h, w, 3) float32 crop in [0, 1], ...]}`` in ``LABELS`` order.
    """
    rng = np.random.default_rng(seed)
    crops: dict[str, list[np.ndarray]] = {}
    for label in LABELS:
        rows = samples[samples["labels"].map(lambda labels, label=label: label in labels)]
        chosen = rows.iloc[rng.permutation(len(rows))[:n_per_label]]
        crops[label] = [_crop(store.get(row["study_id"], row["image_id"]), row, context, normal_crop_fraction,
                              label == NO_FINDING) for _, row in chosen.iterrows()]
    return crops


def _crop(stored: StoredImage, row: pd.Series, context: float, normal_crop_fraction: float,
          is_normal: bool) -> np.ndarray:
    """The crop of one sample from its preprocessed image, as float32 in [0, 1]."""
    height, width = stored.image.shape[:2]
    if is_normal:
        half = normal_crop_fraction * height / 2
        box = (width / 2 - half, height / 2 - half, width / 2 + half, height / 2 + half)
    else:
        x0, y0 = stored.roi[:2]
        xmin, ymin, xmax, ymax = row[BOX_COLUMNS].astype(float)
        box = (xmin - x0, ymin - y0, xmax - x0, ymax - y0)
    crop = crop_with_context(stored.image, box, context=0 if is_normal else context)
    return crop.astype(np.float32) / 255


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
