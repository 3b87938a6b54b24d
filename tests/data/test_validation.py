"""Validation of a VinDr-Mammo root: missing or misplaced images and CSVs are named, subsets are fine."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from corrrelax_lib.data.phantom import PhantomConfig, write_phantom_dataset
from corrrelax_lib.data.sources import DatasetUnavailableError, DataValidationError, prepare_dataset
from corrrelax_lib.data.validation import DataValidationReport, validate_dataset
from corrrelax_lib.data.vindr import BREAST_CSV, FINDINGS_CSV, image_path
from corrrelax_lib.paths import manifest_path

MANIFEST = manifest_path("vindr-mammo")
CONFIG = PhantomConfig(seed=7, n_patients=2, test_fraction=0.5, image_height_range=(128, 140))


@pytest.fixture(scope="module")
def phantom_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-study, 8-image phantom in the VinDr layout, written once per module."""
    return write_phantom_dataset(tmp_path_factory.mktemp("master") / "vindr", CONFIG)


@pytest.fixture
def root(phantom_master: Path, tmp_path: Path) -> Path:
    """A private copy of the phantom that a test may break."""
    return Path(shutil.copytree(phantom_master, tmp_path / "vindr"))


def _rows(csv_path: Path) -> list[dict[str, str]]:
    with csv_path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def _first_finding(root: Path) -> tuple[str, str, int]:
    """(study_id, image_id, CSV line) of the image on the first data row of the findings CSV."""
    row = _rows(root / FINDINGS_CSV)[0]
    return row["study_id"], row["image_id"], 2


def test_phantom_root_validates_ok(root):
    report = validate_dataset(root, MANIFEST)
    assert report.ok
    assert not (report.missing_csvs or report.missing_columns or report.missing_images or report.misplaced_images)
    assert report.n_image_files == CONFIG.n_images == 8
    counts = {count.what: (count.found, count.expected) for count in report.counts}
    assert counts == {
        "images": (8, 20000), "studies": (2, 5000), "training images": (4, 16000), "test images": (4, 4000)
    }  # fmt: skip
    summary = report.summary()
    assert summary.splitlines()[0] == f"VinDr-Mammo at {root}: OK"
    assert "images: 8 (manifest: 20000)" in summary
    assert prepare_dataset("vindr-mammo", root) == root


def test_deleted_image_is_missing_with_its_csv_line(root):
    study_id, image_id, line = _first_finding(root)
    image_path(root, study_id, image_id).unlink()
    report = validate_dataset(root, MANIFEST)
    assert not report.ok
    assert [(m.path, m.csv_file, m.line) for m in report.missing_images] == [
        (f"images/{study_id}/{image_id}.dicom", FINDINGS_CSV, line)
    ]
    assert f"images/{study_id}/{image_id}.dicom  ({FINDINGS_CSV}, line {line})" in report.summary()
    assert "1 image(s) listed in the CSVs are not under images/" in report.summary()


def test_image_only_in_breast_csv_names_that_csv(root):
    rows = _rows(root / BREAST_CSV)
    kept = [row for row in _rows(root / FINDINGS_CSV) if row["image_id"] != rows[2]["image_id"]]
    with (root / FINDINGS_CSV).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(kept[0]))
        writer.writeheader()
        writer.writerows(kept)
    image_path(root, rows[2]["study_id"], rows[2]["image_id"]).unlink()
    missing = validate_dataset(root, MANIFEST).missing_images
    assert [(m.csv_file, m.line) for m in missing] == [(BREAST_CSV, 4)]


@pytest.mark.parametrize(
    ("where", "describe"),
    [
        ("flat", lambda study, image: f"images/{image}.dicom"),
        ("dcm", lambda study, image: f"images/{study}/{image}.dcm"),
        ("other study", lambda study, image: f"images/other-study/{image}.dicom"),
    ],
)
def test_moved_image_is_misplaced_with_where_it_was_found(root, where, describe):
    study_id, image_id, _ = _first_finding(root)
    found = describe(study_id, image_id)
    (root / found).parent.mkdir(exist_ok=True)
    image_path(root, study_id, image_id).rename(root / found)
    report = validate_dataset(root, MANIFEST)
    assert not report.ok and report.missing_images == ()
    [misplaced] = report.misplaced_images
    assert (misplaced.path, misplaced.found) == (f"images/{study_id}/{image_id}.dicom", (found,))
    assert report.n_unexpected_files == 0, "a misplaced image is not also an unexpected file"
    summary = report.summary()
    assert f"images/{study_id}/{image_id}.dicom  found at {found}" in summary
    assert "move each to images/<study_id>/<image_id>.dicom" in summary


def test_dropped_column_is_named(root):
    rows = _rows(root / BREAST_CSV)
    with (root / BREAST_CSV).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[c for c in rows[0] if c != "breast_density"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    report = validate_dataset(root, MANIFEST)
    assert not report.ok
    assert report.missing_columns == {BREAST_CSV: ("breast_density",)}
    assert f"{BREAST_CSV} lacks column(s) ['breast_density']" in report.summary()


def test_removed_csv_is_reported_and_its_images_are_not_checked_from_it(root):
    (root / FINDINGS_CSV).unlink()
    report = validate_dataset(root, MANIFEST)
    assert not report.ok
    assert report.missing_csvs == (FINDINGS_CSV,)
    assert report.missing_images == () and report.n_unexpected_files == 0, "the breast CSV lists every image"
    assert f"missing ['{FINDINGS_CSV}']: point CORRRELAX_DATA at the folder" in report.summary()


def test_missing_images_folder_is_reported_not_raised(root):
    shutil.rmtree(root / "images")
    report = validate_dataset(root, MANIFEST)
    assert not report.has_images_dir and report.n_image_files == 0
    assert len(report.missing_images) == 8
    summary = report.summary(max_items=3)
    assert f"no images/ folder in {root}" in summary
    assert "  ... and 5 more" in summary


def test_unlisted_file_is_information_not_failure(root):
    (root / "images" / "notes.txt").write_text("downloaded 2024-01-01")
    report = validate_dataset(root, MANIFEST)
    assert report.ok
    assert (report.n_unexpected_files, report.unexpected_files) == (1, ("images/notes.txt",))
    assert "Files under images/ that no CSV lists: 1 (not an error)" in report.summary()


def test_summary_names_every_problem_and_truncates(root):
    rows = _rows(root / FINDINGS_CSV)
    for row in rows:
        image_path(root, row["study_id"], row["image_id"]).unlink(missing_ok=True)
    (root / BREAST_CSV).unlink()
    report = validate_dataset(root, MANIFEST)
    summary = report.summary(max_items=2)
    head = summary.splitlines()[:3]
    assert head[0] == f"VinDr-Mammo at {root}: NOT OK"
    assert head[1].startswith(f"- missing ['{BREAST_CSV}']") and "CORRRELAX_DATA" in head[1]
    assert head[2].startswith("- 8 image(s) listed in the CSVs are not under images/")
    assert "  ... and 6 more" in summary


def test_prepare_dataset_raises_with_the_report(root):
    study_id, image_id, line = _first_finding(root)
    image_path(root, study_id, image_id).unlink()
    with pytest.raises(DataValidationError, match=rf"{FINDINGS_CSV}, line {line}") as raised:
        prepare_dataset("vindr-mammo", root)
    assert isinstance(raised.value, DatasetUnavailableError)
    assert isinstance(raised.value.report, DataValidationReport)
    assert str(raised.value) == raised.value.report.summary()


def _rewrite_first_box(root: Path, xmin: str, xmax: str) -> int:
    """Move the first finding box's x-extent to ``[xmin, xmax]``; returns its CSV line."""
    rows = _rows(root / FINDINGS_CSV)
    index = next(i for i, row in enumerate(rows) if row["xmin"])
    rows[index]["xmin"], rows[index]["xmax"] = xmin, xmax
    with (root / FINDINGS_CSV).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return index + 2


def test_box_past_the_edge_is_a_counted_repair_not_a_failure(root, caplog):
    line = _rewrite_first_box(root, "-6.25", "20")
    report = validate_dataset(root, MANIFEST)
    assert report.ok
    assert [box.line for box in report.clipped_boxes] == [line]
    assert report.clipped_boxes[0].original[0] == -6.25 and report.clipped_boxes[0].clipped[0] == 0.0
    assert f"Repairs: {FINDINGS_CSV}: 1 of {report.n_boxes} finding boxes reached past their image and were " \
           f"clipped to it (line {line})" in report.summary()
    with caplog.at_level("WARNING", logger="corrrelax_lib.data.sources"):
        prepare_dataset("vindr-mammo", root)
    assert f"1 of {report.n_boxes} finding boxes reached past their image" in caplog.text
    assert f"(line {line})" in caplog.text


def test_box_outside_its_image_fails_validation_with_file_and_line(root):
    line = _rewrite_first_box(root, "5000", "5020")
    report = validate_dataset(root, MANIFEST)
    assert not report.ok
    [problem] = report.annotation_problems
    assert (problem.csv_file.name, problem.line) == (FINDINGS_CSV, line)
    assert "lies entirely outside" in problem.message
    summary = report.summary()
    assert summary.splitlines()[0].endswith("NOT OK")
    assert f"{FINDINGS_CSV}, line {line}: (image_id" in summary
    with pytest.raises(DataValidationError, match="lies entirely outside"):
        prepare_dataset("vindr-mammo", root)
