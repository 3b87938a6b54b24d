"""Check a VinDr-Mammo download against its data manifest, before any pixel is read.

The manifest (``data_manifests/vindr-mammo.yml``) gives the layout, the CSV columns and
the published counts. :func:`validate_dataset` reads the CSVs with the functions training reads
them with (so every row training would refuse is reported, with its file and line) and walks
``<root>/images`` once, so a full download (20 000 DICOM files) is checked in about a second on a
local disk. The report separates what breaks a run (missing CSVs, columns or images; images not at
``images/<study_id>/<image_id>.dicom``; unreadable rows) from repairs (boxes reaching past their image,
clipped and counted) and from what is only information (files no CSV lists; counts below the
manifest's, as when working on a subset).

>>> from corrrelax_lib.paths import manifest_path
>>> report = validate_dataset(Path("data/vindr"), manifest_path("vindr-mammo"))  # doctest: +SKIP
>>> print(report.summary())  # doctest: +SKIP
VinDr-Mammo at data/vindr: OK
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from corrrelax_lib.data.vindr import (
    FINDINGS_CSV,
    AnnotationError,
    AnnotationProblem,
    ClippedBox,
    clipped_boxes,
    clipped_boxes_summary,
    n_finding_boxes,
    read_breast_annotations,
    read_finding_annotations,
)

CSV_KEYS = ("finding_annotations", "breast_level_annotations")  # manifest ``layout`` keys, checked in this order
N_UNEXPECTED_KEPT = 50  # paths of unlisted files kept as examples; the count covers all of them


@dataclass(frozen=True)
class MissingImage:
    """An image a CSV lists that is nowhere under ``images/``.

    Attributes:
        path: where the layout puts it, relative to the root (``images/<study_id>/<image_id>.dicom``).
        csv_file: the CSV whose row first names it.
        line: that row's line in the CSV (line 1 is the header).
    """

    path: str
    csv_file: str
    line: int


@dataclass(frozen=True)
class MisplacedImage:
    """An image a CSV lists, absent at its layout path but present elsewhere under ``images/``.

    Attributes:
        path: where the layout puts it, relative to the root.
        found: where files named ``<image_id>.<any extension>`` are instead, relative to the root.
    """

    path: str
    found: tuple[str, ...]


@dataclass(frozen=True)
class CountCheck:
    """One count of the data found beside the manifest's ``expected`` value (``None``: not given)."""

    what: str
    found: int
    expected: int | None


@dataclass(frozen=True)
class DataValidationReport:
    """What a data root holds compared with its manifest.

    Attributes:
        root: the data root checked.
        manifest_name: the manifest's ``name`` (e.g. ``"VinDr-Mammo"``).
        manifest_file: the manifest, which says how to obtain the data.
        images_layout: the manifest's image path template, ``images/<study_id>/<image_id>.dicom``.
        missing_csvs: annotation CSVs absent from the root, in manifest order.
        missing_columns: per CSV present, the manifest's columns its header lacks.
        has_images_dir: whether ``<root>/images`` exists.
        n_image_files: files found under ``<root>/images``.
        missing_images: listed images found nowhere, in CSV order.
        misplaced_images: listed images found only at another path, in CSV order.
        n_unexpected_files: files under ``images/`` that no CSV lists (information only).
        unexpected_files: the first of them, sorted, at most ``N_UNEXPECTED_KEPT``.
        counts: images, studies and images per split listed in the CSVs, against the manifest.
        annotation_problems: what the loaders training uses refuse in the CSVs' contents, with file and line.
        clipped_boxes: finding boxes that reached past their image and were clipped (a counted repair).
        n_boxes: finding boxes in ``finding_annotations.csv`` (0 when it could not be read).
    """

    root: Path
    manifest_name: str
    manifest_file: Path
    images_layout: str
    missing_csvs: tuple[str, ...]
    missing_columns: Mapping[str, tuple[str, ...]]
    has_images_dir: bool
    n_image_files: int
    missing_images: tuple[MissingImage, ...]
    misplaced_images: tuple[MisplacedImage, ...]
    n_unexpected_files: int
    unexpected_files: tuple[str, ...]
    counts: tuple[CountCheck, ...]
    annotation_problems: tuple[AnnotationProblem, ...] = ()
    clipped_boxes: tuple[ClippedBox, ...] = ()
    n_boxes: int = 0

    @property
    def ok(self) -> bool:
        """Whether a run can use the root: every CSV, column and listed image in place, every row readable."""
        return not (self.missing_csvs or self.missing_columns or self.missing_images or self.misplaced_images
                    or self.annotation_problems)

    def repairs_summary(self, max_lines: int = 5) -> str:
        """How many finding boxes were clipped to their image, with the CSV lines of the first ``max_lines``."""
        return clipped_boxes_summary(self.clipped_boxes, self.n_boxes, FINDINGS_CSV, max_lines)

    def summary(self, max_items: int = 10) -> str:
        """A readable report: status and what to do first, then details and counts.

        Args:
            max_items: longest list printed per section; the rest is counted as "... and N more".
        """
        lines = [f"{self.manifest_name} at {self.root}: {'OK' if self.ok else 'NOT OK'}"]
        lines += [f"- {problem}" for problem in self._problems()]
        if self.annotation_problems:
            lines.append("Annotation rows training would refuse:")
            rows = [str(problem) for problem in self.annotation_problems]
            lines += _indented(rows, max_items, len(rows))
        lines.append(f"Repairs: {self.repairs_summary()}")
        if self.missing_images:
            lines.append("Missing images (first CSV row naming each):")
            rows = [f"{image.path}  ({image.csv_file}, line {image.line})" for image in self.missing_images]
            lines += _indented(rows, max_items, len(rows))
        if self.misplaced_images:
            lines.append(f"Misplaced images (expected at {self.images_layout}):")
            rows = [f"{image.path}  found at {', '.join(image.found)}" for image in self.misplaced_images]
            lines += _indented(rows, max_items, len(rows))
        if self.n_unexpected_files:
            lines.append(f"Files under images/ that no CSV lists: {self.n_unexpected_files} (not an error), e.g.")
            lines += _indented(list(self.unexpected_files), max_items, self.n_unexpected_files)
        lines.append("Counts (information only: a subset of the data is fine):")
        for count in self.counts:
            expected = "" if count.expected is None else f" (manifest: {count.expected})"
            lines.append(f"  {count.what}: {count.found}{expected}")
        lines.append(f"  files under images/: {self.n_image_files}")
        return "\n".join(lines)

    def _problems(self) -> list[str]:
        """One line per kind of problem, each saying what to do."""
        problems = []
        if self.missing_csvs:
            problems.append(
                f"missing {list(self.missing_csvs)}: point CORRRELAX_DATA at the folder that holds them "
                f"and images/; {self.manifest_file} says how to obtain {self.manifest_name}."
            )
        for csv_file, columns in self.missing_columns.items():
            problems.append(
                f"{csv_file} lacks column(s) {list(columns)}: "
                f"it is not the {self.manifest_name} file; download it again."
            )
        if not self.has_images_dir:
            problems.append(f"no images/ folder in {self.root}: images belong at {self.images_layout}.")
        if self.missing_images:
            problems.append(
                f"{len(self.missing_images)} image(s) listed in the CSVs are not under images/: download them "
                "again, or drop their rows from both CSVs to work on a subset."
            )
        if self.misplaced_images:
            problems.append(
                f"{len(self.misplaced_images)} image(s) are not where the layout puts them: "
                f"move each to {self.images_layout}."
            )
        if self.annotation_problems:
            problems.append(
                f"{len(self.annotation_problems)} problem(s) in the annotation CSVs' contents (listed below): "
                f"training would stop on them; fix the rows or download the files again."
            )
        return problems


@dataclass(frozen=True)
class _Listed:
    """An image as the first CSV row naming it gives it."""

    image_id: str
    study_id: str
    split: str
    csv_file: str
    line: int


def validate_dataset(root: Path, manifest_file: Path) -> DataValidationReport:
    """Compare a data root with its manifest; never raises for missing data, it reports them.

    Args:
        root: folder expected to hold the annotation CSVs and ``images/``.
        manifest_file: YAML manifest with ``name``, ``layout`` (``finding_annotations``,
            ``breast_level_annotations``, ``images``), ``<csv key>_columns`` and ``expected``
            (``n_images``, ``n_studies``, ``splits``).

    Returns:
        The report; ``report.ok`` says whether a run can use the root.

    >>> validate_dataset(Path("/nowhere"), Path("data_manifests/vindr-mammo.yml")).missing_csvs  # doctest: +SKIP
    ('finding_annotations.csv', 'breast-level_annotations.csv')
    """
    root = Path(root)
    manifest = yaml.safe_load(Path(manifest_file).read_text(encoding="utf-8"))
    layout = manifest["layout"]
    template = str(layout["images"])
    images_dir = root / template.split("/", 1)[0]

    # Read each CSV's header and id columns; the first row naming an image stands for it.
    missing_csvs: list[str] = []
    missing_columns: dict[str, tuple[str, ...]] = {}
    listed: dict[str, _Listed] = {}
    for key in CSV_KEYS:
        csv_file = str(layout[key])
        if not (root / csv_file).is_file():
            missing_csvs.append(csv_file)
            continue
        header, rows = _read_ids(root / csv_file)
        # An empty file has no header at all: its reader below says so, rather than "lacks every column".
        lacking = tuple(column for column in manifest[f"{key}_columns"] if header and column not in header)
        if lacking:
            missing_columns[csv_file] = lacking
        for image in rows:
            listed.setdefault(_layout_path(template, image.study_id, image.image_id), image)

    # One walk over images/, then match each listed image by path, else by file name.
    present, by_image_id = _walk_files(images_dir, root)
    missing: list[MissingImage] = []
    misplaced: list[MisplacedImage] = []
    accounted = set(listed)
    for path, image in listed.items():
        if path in present:
            continue
        found = by_image_id.get(image.image_id, [])
        if found:
            misplaced.append(MisplacedImage(path, tuple(found)))
            accounted.update(found)
        else:
            missing.append(MissingImage(path, image.csv_file, image.line))
    unexpected = sorted(present - accounted)
    # The contents, read by the functions training reads them with, when the headers are complete.
    problems: list[AnnotationProblem] = []
    clipped: tuple[ClippedBox, ...] = ()
    n_boxes = 0
    readers = {"finding_annotations": read_finding_annotations, "breast_level_annotations": read_breast_annotations}
    for key, reader in readers.items():
        csv_file = str(layout[key])
        if csv_file in missing_csvs or csv_file in missing_columns:
            continue
        try:
            frame = reader(root / csv_file)
        except AnnotationError as error:
            problems += error.problems
            continue
        if key == "finding_annotations":
            clipped, n_boxes = tuple(clipped_boxes(frame)), n_finding_boxes(frame)

    return DataValidationReport(
        root=root,
        manifest_name=str(manifest.get("name", Path(manifest_file).stem)),
        manifest_file=Path(manifest_file),
        images_layout=template,
        missing_csvs=tuple(missing_csvs),
        missing_columns=missing_columns,
        has_images_dir=images_dir.is_dir(),
        n_image_files=len(present),
        missing_images=tuple(missing),
        misplaced_images=tuple(misplaced),
        n_unexpected_files=len(unexpected),
        unexpected_files=tuple(unexpected[:N_UNEXPECTED_KEPT]),
        counts=_counts(list(listed.values()), manifest.get("expected", {})),
        annotation_problems=tuple(problems),
        clipped_boxes=clipped,
        n_boxes=n_boxes,
    )


def _read_ids(csv_path: Path) -> tuple[list[str], list[_Listed]]:
    """Header of a CSV and its rows' image ids, study ids and splits, with their line numbers.

    Rows without ``study_id`` or ``image_id`` (blank lines, a CSV lacking those columns) are skipped.
    """
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        rows = [(reader.line_num, row) for row in reader]
    if "study_id" not in header or "image_id" not in header:
        return header, []
    study, image = header.index("study_id"), header.index("image_id")
    split = header.index("split") if "split" in header else len(header)
    return header, [
        _Listed(
            image_id=row[image],
            study_id=row[study],
            split=row[split] if split < len(row) else "",
            csv_file=csv_path.name,
            line=line,
        )
        for line, row in rows
        if len(row) > max(study, image) and row[study] and row[image]
    ]


def _layout_path(template: str, study_id: str, image_id: str) -> str:
    """``images/<study_id>/<image_id>.dicom`` filled in, relative to the root."""
    return template.replace("<study_id>", study_id).replace("<image_id>", image_id)


def _walk_files(images_dir: Path, root: Path) -> tuple[set[str], dict[str, list[str]]]:
    """All files under ``images_dir`` as root-relative POSIX paths, and the same grouped by image id.

    The image id of a file is its name up to the first dot (VinDr ids are hex strings), so
    ``<id>.dicom`` and ``<id>.dcm`` share one. One ``os.walk`` (directory entries only, no stat
    per file); symlinked folders are followed. A missing ``images_dir`` yields nothing.
    """
    present: set[str] = set()
    by_image_id: dict[str, list[str]] = {}
    for directory, subdirectories, files in os.walk(images_dir, followlinks=True):
        subdirectories.sort()
        relative = Path(directory).relative_to(root).as_posix()
        for name in sorted(files):
            path = f"{relative}/{name}"
            present.add(path)
            by_image_id.setdefault(name.split(".", 1)[0], []).append(path)
    return present, by_image_id


def _counts(images: Collection[_Listed], expected: Mapping[str, Any]) -> tuple[CountCheck, ...]:
    """Listed images, studies and images per split, each beside the manifest's expected value."""
    expected_splits: Mapping[str, int] = expected.get("splits", {})
    per_split = Counter(image.split for image in images if image.split)
    return (
        CountCheck("images", len(images), expected.get("n_images")),
        CountCheck("studies", len({image.study_id for image in images}), expected.get("n_studies")),
        *(
            CountCheck(f"{split} images", per_split[split], expected_splits.get(split))
            for split in [*expected_splits, *sorted(per_split.keys() - expected_splits.keys())]
        ),
    )


def _indented(rows: list[str], max_items: int, total: int) -> list[str]:
    """The first ``max_items`` rows, indented, and "... and N more" for the rest of ``total``."""
    shown = [f"  {row}" for row in rows[:max_items]]
    if total > len(shown):
        shown.append(f"  ... and {total - len(shown)} more")
    return shown
