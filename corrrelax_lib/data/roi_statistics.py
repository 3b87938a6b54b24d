"""Image and ROI sizes over a dataset (paper §3.1 reports their mean ± std)."""

from __future__ import annotations

import os

import pandas as pd
from tqdm.auto import tqdm

from corrrelax_lib.data.vindr import image_path
from corrrelax_lib.io.mammogram import read_mammogram
from corrrelax_lib.preprocess.roi import EmptyBreastError, breast_roi


def roi_size_table(data_root: str | os.PathLike[str], images: pd.DataFrame, *, apply_voi_lut: bool) -> pd.DataFrame:
    """Per image: original and ROI size in pixels.

    Args:
        data_root: dataset root in the VinDr-Mammo layout.
        images: one row per image with ``study_id``, ``image_id``, ``split``, ``view_position``
            (e.g. ``breast-level_annotations.csv``).
        apply_voi_lut: read each DICOM through its VOI LUT or window first, as the study's preprocessing
            does (``ImagePreprocessing.apply_voi_lut``): a window that clips the background moves the ROI.

    Returns:
        Columns ``image_id, split, view_position, height, width, roi_height, roi_width``.
    """
    rows = []
    for row in tqdm(images.itertuples(index=False), total=len(images), desc="ROI sizes"):
        path = image_path(data_root, row.study_id, row.image_id)
        image = read_mammogram(path, apply_voi_lut=apply_voi_lut)
        try:
            x0, y0, x1, y1 = breast_roi(image)
        except EmptyBreastError as error:
            raise EmptyBreastError(f"{path}: {error}") from error
        rows.append((row.image_id, row.split, row.view_position, *image.shape, y1 - y0, x1 - x0))
    columns = ["image_id", "split", "view_position", "height", "width", "roi_height", "roi_width"]
    return pd.DataFrame(rows, columns=columns)


def size_summary(sizes: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation of the sizes: index ``image``/``roi``, columns width/height mean/std."""
    summary = {
        "image": sizes[["width", "height"]],
        "roi": sizes[["roi_width", "roi_height"]].set_axis(["width", "height"], axis=1),
    }
    return pd.DataFrame(
        {
            name: {"width mean": f["width"].mean(), "width std": f["width"].std(),
                   "height mean": f["height"].mean(), "height std": f["height"].std()}
            for name, f in summary.items()
        }
    ).T
