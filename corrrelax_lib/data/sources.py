"""Make a profile's dataset available: generate the phantoms or check a VinDr-Mammo root."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import yaml

from corrrelax_lib.data.phantom import PhantomConfig, csv_sha256, write_phantom_dataset
from corrrelax_lib.data.validation import DataValidationReport, validate_dataset
from corrrelax_lib.data.vindr import (
    FINDINGS_CSV,
    ClippedBox,
    clipped_boxes,
    clipped_boxes_summary,
    n_finding_boxes,
    read_finding_annotations,
)
from corrrelax_lib.paths import manifest_path

logger = logging.getLogger(__name__)


class DatasetUnavailableError(RuntimeError):
    """The profile's dataset is not where it should be; the message says how to get it."""


class DataValidationError(DatasetUnavailableError):
    """A downloaded dataset that does not match its manifest; the message is the report's summary.

    Attributes:
        report: what is missing or misplaced, from :func:`validate_dataset`.
    """

    def __init__(self, report: DataValidationReport) -> None:
        super().__init__(report.summary())
        self.report = report


def prepare_dataset(dataset: str, data_root: Path, *, workers: int = 1) -> Path:
    """Return a data root in the VinDr-Mammo layout, generating it for phantom datasets.

    Args:
        dataset: manifest name, e.g. ``"phantom-tiny"`` or ``"vindr-mammo"``.
        data_root: where the data live (or will be generated).
        workers: processes used to render phantoms.

    Boxes reaching past their image are clipped when the annotations are read; how many (and the CSV
    lines of the first few) is logged as a warning of this module's logger.

    Raises:
        DataValidationError: a non-generated dataset lacks annotation CSVs, columns or
            images, holds images away from ``images/<study_id>/<image_id>.dicom``, or has
            annotation rows that training would refuse.
        DatasetUnavailableError: generated data on disk do not match their manifest's sha256.
    """
    manifest_file = manifest_path(dataset)
    manifest = yaml.safe_load(manifest_file.read_text())
    if "generator" in manifest:
        root = write_phantom_dataset(data_root, PhantomConfig.from_manifest(manifest_file), workers=workers)
        if csv_sha256(root) != manifest["sha256"]:
            raise DatasetUnavailableError(
                f"{root}: the generated annotations do not match the sha256 in {manifest_file} "
                "(stale data from another generator config, or a changed generator); delete the folder to regenerate."
            )
        findings = read_finding_annotations(root / FINDINGS_CSV)
        _log_repairs(clipped_boxes(findings), n_finding_boxes(findings), root / FINDINGS_CSV)
        return root
    report = validate_dataset(data_root, manifest_file)
    if not report.ok:
        raise DataValidationError(report)
    _log_repairs(report.clipped_boxes, report.n_boxes, data_root / FINDINGS_CSV)
    return data_root


def _log_repairs(clipped: Sequence[ClippedBox], n_boxes: int, csv_file: Path) -> None:
    """Say how many boxes were clipped: a warning, so that it shows without any logging set up."""
    if clipped:
        logger.warning(clipped_boxes_summary(clipped, n_boxes, csv_file))
