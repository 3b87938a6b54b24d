"""VinDr-Mammo annotation schema, validation and the paper's sample counting (§3.2, Table 1).

Layout of a VinDr-Mammo root (PhysioNet, credentialed; never committed)::

    <root>/finding_annotations.csv
    <root>/breast-level_annotations.csv
    <root>/images/<study_id>/<image_id>.dicom

Each annotated box is one multi-label sample; each image without findings is one
"No Finding" sample. The embedded phantom dataset uses exactly the same layout.
"""

from __future__ import annotations

import ast
import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd

from corrrelax_lib.data.labels import LABELS, NO_FINDING, group_categories

FINDINGS_CSV = "finding_annotations.csv"
BREAST_CSV = "breast-level_annotations.csv"
FINDING_COLUMNS: tuple[str, ...] = (
    "study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
    "breast_birads", "breast_density", "finding_categories", "finding_birads",
    "xmin", "ymin", "xmax", "ymax", "split",
)
BREAST_COLUMNS: tuple[str, ...] = (
    "study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
    "breast_birads", "breast_density", "split",
)
SPLITS: tuple[str, ...] = ("training", "test")
BOX_COLUMNS: list[str] = ["xmin", "ymin", "xmax", "ymax"]


class AnnotationError(ValueError):
    """An annotation table that breaks the VinDr-Mammo schema; the message names file and row."""


def image_path(root: str | os.PathLike[str], study_id: str, image_id: str) -> Path:
    """Path of one image in the VinDr-Mammo layout: ``<root>/images/<study_id>/<image_id>.dicom``."""
    return Path(root) / "images" / study_id / f"{image_id}.dicom"


def read_finding_annotations(csv_path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate ``finding_annotations.csv``.

    Adds two columns: ``categories`` (tuple of VinDr category strings parsed from
    ``finding_categories``) and ``labels`` (tuple of the paper's labels, each once).

    Raises:
        AnnotationError: missing column, unknown split, unparsable categories, a finding
            row without a box, or a box outside its image; the message names the file and
            the CSV line.
    """
    frame = _read_csv(csv_path, FINDING_COLUMNS)
    frame["categories"] = [
        _parse_categories(text, csv_path, line) for line, text in _lines(frame, "finding_categories")
    ]
    frame["labels"] = frame["categories"].map(group_categories)
    for line, (_, row) in zip(_line_numbers(frame), frame.iterrows(), strict=True):
        _check_box(row, csv_path, line)
    return frame


def read_breast_annotations(csv_path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate ``breast-level_annotations.csv`` (one row per image)."""
    return _read_csv(csv_path, BREAST_COLUMNS)


def finding_samples(findings: pd.DataFrame) -> pd.DataFrame:
    """One row per training sample: every annotated box, and every image without findings.

    Args:
        findings: output of :func:`read_finding_annotations`.

    Returns:
        Columns ``study_id, image_id, split, labels, xmin, ymin, xmax, ymax``; boxes are
        NaN for No-Finding samples. ``labels`` is a tuple in ``LABELS`` order. Boxes whose
        categories all fall outside the paper's grouping are dropped.
    """
    is_normal = findings["categories"].map(lambda cats: cats == (NO_FINDING,))
    normal_images = findings.loc[is_normal].drop_duplicates("image_id")
    normal = normal_images.assign(labels=[(NO_FINDING,)] * len(normal_images))
    normal.loc[:, BOX_COLUMNS] = np.nan
    boxes = findings.loc[~is_normal & findings["labels"].map(bool)]
    columns = ["study_id", "image_id", "split", "labels", *BOX_COLUMNS]
    return pd.concat([normal[columns], boxes[columns]], ignore_index=True)


def label_counts(samples: pd.DataFrame) -> pd.DataFrame:
    """Count samples per label and split: index ``LABELS``, columns ``SPLITS``, int64."""
    counts = pd.DataFrame(0, index=pd.Index(LABELS, name="label"), columns=list(SPLITS), dtype="int64")
    for split, labels in zip(samples["split"], samples["labels"], strict=True):
        for label in labels:
            counts.loc[label, split] += 1
    return counts


def table1_counts(finding_annotations_csv: str | os.PathLike[str]) -> pd.DataFrame:
    """Paper Table 1: number of samples per label in the training and test splits.

    Rule (§3.2): every annotated box is one multi-label sample, counted once for each of
    its labels (Nipple + Skin Retraction on one box count once as Retractions); every
    image without findings is one No Finding sample.

    Returns:
        DataFrame, index = the 8 labels in ``LABELS`` order, columns ``training``, ``test``.
    """
    return label_counts(finding_samples(read_finding_annotations(finding_annotations_csv)))


def _read_csv(csv_path: str | os.PathLike[str], columns: tuple[str, ...]) -> pd.DataFrame:
    """Read a CSV with string ids, check its columns and split values."""
    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise AnnotationError(f"{csv_path}: no such file")
    frame = pd.read_csv(
        csv_path, dtype={c: "string" for c in ("study_id", "series_id", "image_id")}, keep_default_na=True
    )
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise AnnotationError(f"{csv_path}: missing column(s) {missing}; expected {list(columns)}")
    for line, split in _lines(frame, "split"):
        if split not in SPLITS:
            raise AnnotationError(f"{csv_path}, line {line}: split {split!r} is not one of {SPLITS}")
    return frame


def _line_numbers(frame: pd.DataFrame) -> range:
    """CSV line of each row (line 1 is the header)."""
    return range(2, len(frame) + 2)


def _lines(frame: pd.DataFrame, column: str) -> zip[tuple[int, object]]:
    """Pairs (CSV line, value) of one column."""
    return zip(_line_numbers(frame), frame[column], strict=True)


def _parse_categories(text: object, csv_path: str | os.PathLike[str], line: int) -> tuple[str, ...]:
    """Parse a Python-list string such as ``"['Mass', 'Suspicious Calcification']"``."""
    try:
        parsed = ast.literal_eval(str(text))
    except (ValueError, SyntaxError) as error:
        raise AnnotationError(f"{csv_path}, line {line}: finding_categories {text!r} is not a list") from error
    if not isinstance(parsed, list) or not parsed or not all(isinstance(c, str) for c in parsed):
        raise AnnotationError(f"{csv_path}, line {line}: finding_categories {text!r} is not a list of names")
    return tuple(parsed)


def _check_box(row: pd.Series, csv_path: str | os.PathLike[str], line: int) -> None:
    """A finding row needs a box inside its ``width`` x ``height`` image; No Finding rows may lack one."""
    box = row[BOX_COLUMNS].astype("float64")
    where = f"{csv_path}, line {line} (image_id {row['image_id']})"
    if box.isna().all():
        if row["categories"] != (NO_FINDING,):
            raise AnnotationError(f"{where}: finding {list(row['categories'])} has no box")
        return
    if box.isna().any():
        raise AnnotationError(f"{where}: incomplete box {box.tolist()}")
    xmin, ymin, xmax, ymax = box.tolist()
    width, height = float(row["width"]), float(row["height"])
    if not (0 <= xmin < xmax <= width and 0 <= ymin < ymax <= height):
        raise AnnotationError(
            f"{where}: box ({xmin}, {ymin}, {xmax}, {ymax}) is empty or outside the "
            f"{width:g} x {height:g} image"
        )


def findings_sha256(root: str | os.PathLike[str]) -> str:
    """SHA-256 of ``<root>/finding_annotations.csv``: identifies the data a model was trained on."""
    return hashlib.sha256((Path(root) / FINDINGS_CSV).read_bytes()).hexdigest()
