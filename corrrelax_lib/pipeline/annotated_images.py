"""The test images the maps are computed on: preprocessed ROI image plus boxes per label in ROI pixels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from corrrelax_lib.data.image_store import PreprocessedImageStore
from corrrelax_lib.data.vindr import BOX_COLUMNS
from corrrelax_lib.preprocess.roi import boxes_to_roi


@dataclass(frozen=True)
class AnnotatedImage:
    """One preprocessed mammogram and its findings.

    Attributes:
        study_id, image_id: VinDr-Mammo identifiers.
        image: ``(h, w, 3)`` uint8 ROI image (channels: original, CLAHE 1.0, CLAHE 2.0).
        boxes_by_label: ``{label: (N, 4) float boxes (x0, y0, x1, y1)}`` in ROI pixels, labels in ``LABELS`` order.
    """

    study_id: str
    image_id: str
    image: np.ndarray
    boxes_by_label: dict[str, np.ndarray]


def annotated_test_images(
    samples: pd.DataFrame, store: PreprocessedImageStore, labels: Sequence[str], *, split: str = "test",
) -> list[AnnotatedImage]:
    """Every ``split`` image with at least one box of ``labels``, ordered by ``(study_id, image_id)``.

    Args:
        samples: :func:`corrrelax_lib.data.vindr.finding_samples` (boxes in original-image pixels).
        store: the preprocessed-image cache (gives the ROI image and its offset).
        labels: the findings to keep (e.g. every label but No Finding, as in Table 4).
    """
    boxes = samples[(samples["split"] == split) & samples["xmin"].notna()]
    boxes = boxes[boxes["labels"].map(lambda found: any(label in labels for label in found))]
    images = []
    for (study_id, image_id), rows in boxes.groupby(["study_id", "image_id"], sort=True):
        stored = store.get(study_id, image_id)
        by_label = {}
        for label in labels:
            has_label = rows["labels"].map(lambda found, label=label: label in found)
            if has_label.any():
                by_label[label] = boxes_to_roi(rows.loc[has_label, BOX_COLUMNS].to_numpy(np.float64), stored.roi)
        images.append(AnnotatedImage(study_id, image_id, stored.image, by_label))
    return images
