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
import csv
import hashlib
import os
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

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
#: Where :func:`read_finding_annotations` keeps the coordinates of a box it clipped (NaN elsewhere).
ORIGINAL_BOX_COLUMNS: list[str] = [f"{column}_original" for column in BOX_COLUMNS]
ID_COLUMNS: tuple[str, ...] = ("study_id", "image_id")
SIZE_COLUMNS: tuple[str, ...] = ("height", "width")
MAX_PROBLEMS_SHOWN = 10  # an AnnotationError's message lists this many problems, then counts the rest


class AnnotationError(ValueError):
    """An annotation table that breaks the VinDr-Mammo schema; the message names the file and the lines.

    Attributes:
        problems: every problem found, in file order (the message shows the first few).
    """

    def __init__(self, problems: Sequence[AnnotationProblem]) -> None:
        self.problems = tuple(problems)
        shown = [str(problem) for problem in self.problems[:MAX_PROBLEMS_SHOWN]]
        if len(self.problems) > len(shown):
            shown.append(f"... and {len(self.problems) - len(shown)} more problem(s)")
        super().__init__("\n".join(shown))


@dataclass(frozen=True)
class AnnotationProblem:
    """One reason an annotation file cannot be used: the file, the CSV line (``None``: the whole file), what."""

    csv_file: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = str(self.csv_file) if self.line is None else f"{self.csv_file}, line {self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class ClippedBox:
    """A finding box that reached past its image and was clipped to it (a documented repair).

    About 2 % of VinDr-Mammo's boxes (42 of 2,254 finding boxes) extend a few pixels past the image
    edge (negative ``xmin``/``ymin`` down to about -27 px, or ``xmax``/``ymax`` beyond ``width``/
    ``height``); none lies entirely outside. Their part inside the image is the finding.

    Attributes:
        line: the box's CSV line (line 1 is the header).
        image_id: the image it belongs to.
        original, clipped: ``(xmin, ymin, xmax, ymax)`` as written and after clipping, pixels.
    """

    line: int
    image_id: str
    original: tuple[float, float, float, float]
    clipped: tuple[float, float, float, float]


def image_path(root: str | os.PathLike[str], study_id: str, image_id: str) -> Path:
    """Path of one image in the VinDr-Mammo layout: ``<root>/images/<study_id>/<image_id>.dicom``."""
    return Path(root) / "images" / study_id / f"{image_id}.dicom"


def read_finding_annotations(csv_path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate ``finding_annotations.csv``; boxes reaching past their image are clipped to it.

    Adds three columns: ``categories`` (tuple of VinDr category strings parsed from
    ``finding_categories``), ``labels`` (tuple of the paper's labels, each once) and
    ``box_clipped`` (bool: the box reached past the image and was clipped, see :class:`ClippedBox`;
    :func:`clipped_boxes` lists them with their CSV lines).

    Raises:
        AnnotationError: every problem of the file, each with its CSV line: a missing file or
            column, an empty or header-only file, a row with too many or too few fields, a missing id,
            size or split, an unknown split, a non-numeric size or coordinate, unparsable categories,
            a finding row without a box, an inverted box, or a box entirely outside its image.
    """
    csv_path = Path(csv_path)
    frame, problems = _read_csv(csv_path, FINDING_COLUMNS)
    frame["categories"] = [_parse_categories(text, csv_path, line, problems) for line, text in
                           _lines(frame, "finding_categories")]
    frame["labels"] = frame["categories"].map(group_categories)
    frame["box_clipped"] = False
    frame[ORIGINAL_BOX_COLUMNS] = np.nan
    for index, line in zip(frame.index, _line_numbers(frame), strict=True):
        _check_box(frame, index, csv_path, line, problems)
    if problems:
        raise AnnotationError(problems)
    return frame


def read_breast_annotations(csv_path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read and validate ``breast-level_annotations.csv`` (one row per image).

    Raises:
        AnnotationError: as :func:`read_finding_annotations`, for the columns of this file.
    """
    csv_path = Path(csv_path)
    frame, problems = _read_csv(csv_path, BREAST_COLUMNS)
    if problems:
        raise AnnotationError(problems)
    return frame


def clipped_boxes(findings: pd.DataFrame) -> list[ClippedBox]:
    """The boxes :func:`read_finding_annotations` clipped to their image, in CSV order."""
    rows = findings.loc[findings["box_clipped"]]
    return [
        ClippedBox(line=int(row["csv_line"]), image_id=str(row["image_id"]),
                   original=tuple(float(v) for v in row[ORIGINAL_BOX_COLUMNS]),
                   clipped=tuple(float(v) for v in row[BOX_COLUMNS]))
        for _, row in rows.iterrows()
    ]


def n_finding_boxes(findings: pd.DataFrame) -> int:
    """Rows of :func:`read_finding_annotations` output that carry a box."""
    return int(findings[BOX_COLUMNS].notna().all(axis=1).sum())


def clipped_boxes_summary(
    clipped: Sequence[ClippedBox], n_boxes: int, csv_file: str | os.PathLike[str], max_lines: int = 5,
) -> str:
    """One line saying how many of ``n_boxes`` boxes were clipped to their image, with the first CSV lines.

    >>> findings = read_finding_annotations(path)  # doctest: +SKIP
    >>> clipped_boxes_summary(clipped_boxes(findings), n_finding_boxes(findings), path)  # doctest: +SKIP
    'finding_annotations.csv: 2 of 40 finding boxes reached past their image and were clipped to it (lines 7, 31)'
    """
    text = f"{csv_file}: {len(clipped)} of {n_boxes} finding boxes reached past their image and were clipped to it"
    if clipped:
        lines = ", ".join(str(box.line) for box in clipped[:max_lines])
        more = f", ... ({len(clipped) - max_lines} more)" if len(clipped) > max_lines else ""
        text += f" (line{'s' if len(clipped) > 1 else ''} {lines}{more})"
    return text


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
    image without findings is one No Finding sample. Boxes reaching past their image count
    (clipped, :func:`read_finding_annotations`).

    Returns:
        DataFrame, index = the 8 labels in ``LABELS`` order, columns ``training``, ``test``.
    """
    return label_counts(finding_samples(read_finding_annotations(finding_annotations_csv)))


def _read_csv(csv_path: Path, columns: tuple[str, ...]) -> tuple[pd.DataFrame, list[AnnotationProblem]]:
    """Read a CSV with string ids and numeric sizes and boxes; collect every problem with its line.

    Adds ``csv_line`` (the CSV line of each row; line 1 is the header). A problem that leaves no table
    to check further (no file, no rows, missing columns) raises at once.
    """
    def fail(line: int | None, message: str) -> AnnotationError:
        return AnnotationError([AnnotationProblem(csv_path, line, message)])

    if not csv_path.is_file():
        raise fail(None, "no such file")
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as handle:
            records = [(line, fields) for line, fields in _records(handle) if any(field.strip() for field in fields)]
    except (UnicodeDecodeError, csv.Error) as error:
        raise fail(None, f"not a readable CSV file ({error})") from error
    if not records:
        raise fail(None, "empty file: no header and no annotations")
    (_, header), rows = records[0], records[1:]
    missing = [column for column in columns if column not in header]
    if missing:
        raise fail(1, f"missing column(s) {missing}; expected {list(columns)}")
    if not rows:
        raise fail(None, "no annotations: the file has a header and no rows")
    problems = [AnnotationProblem(csv_path, line, f"{len(fields)} fields, the header has {len(header)}")
                for line, fields in rows if len(fields) != len(header)]
    if problems:
        raise AnnotationError(problems)

    frame = pd.DataFrame([fields for _, fields in rows], columns=header, dtype=object)
    frame["csv_line"] = [line for line, _ in rows]
    for column in (*ID_COLUMNS, "split"):
        for line, value in _lines(frame, column):
            if not str(value).strip():
                problems.append(AnnotationProblem(csv_path, line, f"{column} is empty"))
    frame = frame.astype({column: "string" for column in (*ID_COLUMNS, "series_id") if column in frame})
    for line, split in _lines(frame, "split"):
        if str(split).strip() and split not in SPLITS:
            problems.append(AnnotationProblem(csv_path, line, f"split {split!r} is not one of {SPLITS}"))
    numeric = [column for column in (*SIZE_COLUMNS, *BOX_COLUMNS) if column in columns]
    for column in numeric:
        text = frame[column].str.strip().replace("", pd.NA)
        values = pd.to_numeric(text, errors="coerce")
        for line, raw, value in zip(frame["csv_line"], text, values, strict=True):
            if not pd.isna(raw) and pd.isna(value):
                problems.append(AnnotationProblem(csv_path, line, f"{column} {raw!r} is not a number"))
            elif column in SIZE_COLUMNS and (pd.isna(raw) or not value > 0):
                problems.append(AnnotationProblem(csv_path, line, f"{column} {raw!r} is not a positive image size"))
        frame[column] = values.astype("float64")
    return frame, problems


def _records(handle: TextIO) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of every CSV record, ``line`` being where the record starts."""
    reader = csv.reader(handle)
    line = 1
    for fields in reader:
        yield line, fields
        line = reader.line_num + 1


def _line_numbers(frame: pd.DataFrame) -> list[int]:
    """CSV line of each row (line 1 is the header)."""
    return [int(line) for line in frame["csv_line"]]


def _lines(frame: pd.DataFrame, column: str) -> zip[tuple[int, object]]:
    """Pairs (CSV line, value) of one column."""
    return zip(_line_numbers(frame), frame[column], strict=True)


def _parse_categories(
    text: object, csv_path: Path, line: int, problems: list[AnnotationProblem],
) -> tuple[str, ...]:
    """Parse a Python-list string such as ``"['Mass', 'Suspicious Calcification']"`` (``()`` on a problem)."""
    try:
        parsed = ast.literal_eval(str(text))
    except (ValueError, SyntaxError):
        problems.append(AnnotationProblem(csv_path, line, f"finding_categories {text!r} is not a list"))
        return ()
    if not isinstance(parsed, list) or not parsed or not all(isinstance(c, str) for c in parsed):
        problems.append(AnnotationProblem(csv_path, line, f"finding_categories {text!r} is not a list of names"))
        return ()
    return tuple(parsed)


def _check_box(
    frame: pd.DataFrame, index: Hashable, csv_path: Path, line: int, problems: list[AnnotationProblem],
) -> None:
    """A finding row needs a box overlapping its ``width`` x ``height`` image; clip the part outside.

    No Finding rows may lack a box. A box reaching past the image is clipped to it and flagged
    (``box_clipped``, original coordinates kept in ``*_original``); an inverted box, or one entirely
    outside the image, is a problem.
    """
    row = frame.loc[index]
    box = row[BOX_COLUMNS].astype("float64")
    width, height = float(row["width"]), float(row["height"])
    where = f"(image_id {row['image_id']})"
    if box.isna().all():
        if row["categories"] and row["categories"] != (NO_FINDING,):
            problems.append(AnnotationProblem(csv_path, line, f"{where} finding {list(row['categories'])} has no box"))
        return
    if box.isna().any() or not (np.isfinite(width) and np.isfinite(height)):
        if box.isna().any():
            problems.append(AnnotationProblem(csv_path, line, f"{where} incomplete box {box.tolist()}"))
        return
    xmin, ymin, xmax, ymax = box.tolist()
    if not (xmin < xmax and ymin < ymax):
        problems.append(AnnotationProblem(
            csv_path, line, f"{where} box ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) is empty or inverted"))
        return
    clipped = (max(xmin, 0.0), max(ymin, 0.0), min(xmax, width), min(ymax, height))
    if not (clipped[0] < clipped[2] and clipped[1] < clipped[3]):
        problems.append(AnnotationProblem(
            csv_path, line, f"{where} box ({xmin:g}, {ymin:g}, {xmax:g}, {ymax:g}) lies entirely outside the "
                            f"{width:g} x {height:g} image"))
        return
    if clipped != (xmin, ymin, xmax, ymax):
        frame.loc[index, ORIGINAL_BOX_COLUMNS] = [xmin, ymin, xmax, ymax]
        frame.loc[index, BOX_COLUMNS] = list(clipped)
        frame.loc[index, "box_clipped"] = True


def findings_sha256(root: str | os.PathLike[str]) -> str:
    """SHA-256 of ``<root>/finding_annotations.csv``: identifies the data a model was trained on."""
    return hashlib.sha256((Path(root) / FINDINGS_CSV).read_bytes()).hexdigest()
