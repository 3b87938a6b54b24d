"""The embedded phantom dataset: determinism, VinDr-Mammo layout, DICOM encodings, visible lesions."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
import yaml
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless, RLELossless

from corrrelax_lib.data.labels import CATEGORIES, NO_FINDING
from corrrelax_lib.data.phantom import (
    PhantomConfig,
    annotation_tables,
    csv_sha256,
    plan_phantom_dataset,
    planned_csv_sha256,
    render_phantom_image,
    write_phantom_dataset,
    writer,
)
from corrrelax_lib.data.phantom.anatomy import inside_breast
from corrrelax_lib.data.phantom.dicom import DEVICE_PROFILES, encode_dicom, jpeg2000_available
from corrrelax_lib.data.phantom.placement import CONTOUR_CATEGORIES
from corrrelax_lib.data.phantom.render import render_brightness
from corrrelax_lib.data.vindr import clipped_boxes, clipped_boxes_summary, n_finding_boxes, read_finding_annotations
from corrrelax_lib.io.mammogram import read_mammogram_with_record

MANIFEST = Path(__file__).resolve().parents[2] / "data_manifests" / "phantom-tiny.yml"
SMALL = PhantomConfig(seed=3, n_patients=3, image_height_range=(160, 200))
FINDING_COLUMNS = [
    "study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
    "breast_birads", "breast_density", "finding_categories", "finding_birads",
    "xmin", "ymin", "xmax", "ymax", "split",
]  # fmt: skip
BREAST_COLUMNS = [
    "study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
    "breast_birads", "breast_density", "split",
]  # fmt: skip
FINDING_CATEGORIES = [category for category in CATEGORIES if category != NO_FINDING]


def _file_hashes(root: Path) -> dict[str, str]:
    return {
        path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _categories(cell: str) -> list[str]:
    return ast.literal_eval(cell)


def _canonical_xy(plan, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Image-frame points -> canonical frame (chest wall at x = 0)."""
    return (plan.width - x if plan.laterality == "R" else x), y


@pytest.fixture(scope="module")
def small_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_phantom_dataset(tmp_path_factory.mktemp("phantom") / "small", SMALL)


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def manifest_plans():
    return plan_phantom_dataset(PhantomConfig.from_manifest(MANIFEST))


# ---------------------------------------------------------------- determinism and atomicity


def test_same_seed_gives_identical_files_whatever_the_workers(small_root: Path, tmp_path: Path) -> None:
    again = write_phantom_dataset(tmp_path / "again", SMALL, workers=1)
    parallel = write_phantom_dataset(tmp_path / "parallel", SMALL, workers=2)
    hashes = _file_hashes(small_root)
    assert len(hashes) == SMALL.n_images + 2
    assert _file_hashes(again) == hashes
    assert _file_hashes(parallel) == hashes


def test_different_seed_changes_the_annotations() -> None:
    other = dataclasses.replace(SMALL, seed=SMALL.seed + 1)
    assert planned_csv_sha256(other) != planned_csv_sha256(SMALL)


def test_written_csvs_are_the_planned_ones(small_root: Path) -> None:
    assert csv_sha256(small_root) == planned_csv_sha256(SMALL)


def test_complete_root_is_returned_without_regenerating(small_root: Path) -> None:
    stamps = {path: path.stat().st_mtime_ns for path in small_root.rglob("*")}
    assert write_phantom_dataset(small_root, dataclasses.replace(SMALL, seed=99)) == small_root
    assert {path: path.stat().st_mtime_ns for path in small_root.rglob("*")} == stamps


def test_failed_write_leaves_no_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def render_failing_on_third(plan):
        calls.append(plan.index)
        if len(calls) == 3:
            raise RuntimeError("render failed")
        return render_phantom_image(plan)

    monkeypatch.setattr(writer, "render_phantom_image", render_failing_on_third)
    with pytest.raises(RuntimeError, match="render failed"):
        write_phantom_dataset(tmp_path / "root", SMALL)
    assert list(tmp_path.iterdir()) == []  # neither root nor its staging sibling


def test_incomplete_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    with pytest.raises(FileExistsError):
        write_phantom_dataset(tmp_path / "root", SMALL)


def test_planning_is_fast() -> None:
    start = time.perf_counter()
    plan_phantom_dataset(PhantomConfig())
    assert time.perf_counter() - start < 1.0


# ---------------------------------------------------------------- manifest


def test_manifest_matches_the_planner(manifest: dict) -> None:
    config = PhantomConfig.from_manifest(MANIFEST)
    assert config.to_dict() == manifest["generator"]
    assert PhantomConfig.from_dict(config.to_dict()) == config
    assert planned_csv_sha256(config) == manifest["sha256"]
    assert manifest["n_images"] == config.n_images == len(plan_phantom_dataset(config))
    assert manifest["n_files"] == config.n_images + 2
    assert "SYNTHETIC" in manifest["description"]


def test_manifest_dataset_has_one_full_size_training_study(manifest_plans) -> None:
    config = PhantomConfig.from_manifest(MANIFEST)
    low, high = config.full_size_height_range
    full_size = [plan for plan in manifest_plans if plan.height > config.image_height_range[1]]
    assert len(full_size) == 4 * config.full_size_studies == 4
    assert {plan.ids.study_id for plan in full_size} == {full_size[0].ids.study_id}
    assert {plan.split for plan in full_size} == {"training"}
    assert all(low <= plan.height <= high and 0.72 <= plan.width / plan.height <= 0.85 for plan in full_size)
    assert 3300 * 2300 < full_size[0].height * full_size[0].width < 3500 * 3000  # VinDr-Mammo: 3387 x 2647 mean
    others = [plan for plan in manifest_plans if plan not in full_size]
    assert all(config.image_height_range[0] <= plan.height <= config.image_height_range[1] for plan in others)


def test_full_size_studies_leave_every_other_image_as_it_was() -> None:
    config = PhantomConfig(seed=2, n_patients=6, image_height_range=(160, 200))
    plain = plan_phantom_dataset(config)
    full = dataclasses.replace(config, full_size_studies=1, full_size_height_range=(900, 950))
    with_full = plan_phantom_dataset(full)
    changed = [index for index, (a, b) in enumerate(zip(plain, with_full, strict=True)) if a != b]
    assert len(changed) == 4 and with_full[changed[0]].height >= 900 and with_full[changed[0]].split == "training"
    with pytest.raises(ValueError, match="full_size_studies"):
        PhantomConfig(n_patients=5, full_size_studies=5)  # only 4 of them are training studies


def test_device_profiles_are_as_messy_as_vindr(manifest_plans) -> None:
    """Windows, a VOI LUT Sequence, PresentationLUTShape present and absent, MONOCHROME1 with INVERSE."""
    encodings = {dataclasses.replace(plan.encoding, transfer_syntax_uid="") for plan in manifest_plans}
    assert encodings == set(DEVICE_PROFILES)  # every simulated scanner is used
    assert any(e.bits_stored == 12 and e.window is not None for e in encodings)  # 12 bits in a 16-bit container
    assert any(e.voi_lut for e in encodings) and any(e.window is None for e in encodings)
    assert {e.presentation_lut_shape for e in encodings} == {"IDENTITY", "INVERSE", None}
    for encoding in encodings:  # what DX/MG images must carry when they carry the tag (PS3.3 C.8.11.3)
        expected = {"MONOCHROME1": "INVERSE", "MONOCHROME2": "IDENTITY"}[encoding.photometric]
        assert encoding.presentation_lut_shape in (expected, None)


@pytest.mark.parametrize("device", DEVICE_PROFILES, ids=lambda e: f"{e.photometric}-{e.bits_stored}-"
                         f"{'lut' if e.voi_lut else 'window' if e.window else 'nowindow'}-{e.presentation_lut_shape}")
def test_every_device_profile_reads_back_breast_bright(tmp_path: Path, device) -> None:
    plan = plan_phantom_dataset(SMALL)[1]
    plan = dataclasses.replace(plan, encoding=dataclasses.replace(device, transfer_syntax_uid=ExplicitVRLittleEndian))
    path = tmp_path / "image.dicom"
    path.write_bytes(encode_dicom(plan, render_phantom_image(plan)))
    brightness = np.clip(render_brightness(plan), 0.0, 1.0)
    image, record = read_mammogram_with_record(path)
    assert record.inverted == (device.photometric == "MONOCHROME1") and record.voi_applied == "none"
    assert record.presentation_lut_shape == device.presentation_lut_shape
    assert record.bits_stored == device.bits_stored and (record.window is None) == (device.window is None)
    expected = (brightness - brightness.min()) / (brightness.max() - brightness.min())
    np.testing.assert_allclose(image, expected, atol=2 / 2**device.bits_stored)
    windowed, windowed_record = read_mammogram_with_record(path, apply_voi_lut=True)
    assert windowed_record.voi_applied == ("lut" if device.voi_lut else "window" if device.window else "none")
    if device.window is not None:  # the window's low end turns black, its high end white: still breast bright
        low, high = device.window
        if not device.voi_lut:  # a linear window, then min-max scaling
            clipped = np.clip((brightness - low) / (high - low), 0, 1)
            expected = (clipped - clipped.min()) / (clipped.max() - clipped.min())
            np.testing.assert_allclose(windowed, expected, atol=0.002)
        assert np.corrcoef(windowed.ravel(), brightness.ravel())[0, 1] > 0.95


def test_written_file_count_matches_the_config(small_root: Path) -> None:
    assert len(list(small_root.rglob("*.dicom"))) == SMALL.n_images
    assert len([path for path in small_root.rglob("*") if path.is_file()]) == SMALL.n_images + 2


# ---------------------------------------------------------------- VinDr-Mammo tables


def test_every_category_in_both_splits(manifest_plans) -> None:
    findings, _ = annotation_tables(manifest_plans)
    for split in ("training", "test"):
        rows = findings[findings["split"] == split]
        present = {category for cell in rows["finding_categories"] for category in _categories(cell)}
        assert set(FINDING_CATEGORIES) <= present, split
    training = findings[findings["split"] == "training"]["finding_categories"].map(_categories)
    assert sum("Mass" in cats for cats in training) >= 25
    assert sum("Suspicious Calcification" in cats for cats in training) >= 20
    all_boxes = set(findings["finding_categories"])
    for multi_label in (
        "['Mass', 'Suspicious Calcification']",
        "['Focal Asymmetry', 'Architectural Distortion']",
        "['Nipple Retraction', 'Skin Retraction']",
    ):
        assert multi_label in all_boxes


def test_tables_follow_the_vindr_layout(manifest_plans) -> None:
    findings, breasts = annotation_tables(manifest_plans)
    assert list(findings.columns) == FINDING_COLUMNS
    assert list(breasts.columns) == BREAST_COLUMNS
    assert len(breasts) == len(manifest_plans) == breasts["image_id"].nunique()
    for column in ("study_id", "series_id", "image_id"):
        assert breasts[column].str.fullmatch(r"[0-9a-f]{32}").all()
    assert set(breasts["laterality"]) == {"L", "R"} and set(breasts["view_position"]) == {"CC", "MLO"}
    assert breasts["breast_birads"].str.fullmatch(r"BI-RADS [1-5]").all()
    assert breasts["breast_density"].str.fullmatch(r"DENSITY [A-D]").all()
    assert breasts.groupby("study_id")["split"].nunique().eq(1).all()  # split by patient
    assert breasts.groupby("split")["study_id"].nunique().to_dict() == {"training": 32, "test": 8}

    no_finding = findings["finding_categories"] == str([NO_FINDING])
    assert findings.loc[no_finding, ["finding_birads", "xmin", "ymin", "xmax", "ymax"]].isna().all().all()
    assert findings[no_finding].groupby("image_id").size().eq(1).all()
    assert not set(findings.loc[no_finding, "image_id"]) & set(findings.loc[~no_finding, "image_id"])
    boxes = findings[~no_finding]
    assert boxes["finding_birads"].str.fullmatch(r"BI-RADS [1-5]").all()
    assert (boxes["xmin"] < boxes["xmax"]).all() and (boxes["ymin"] < boxes["ymax"]).all()
    # Inside the image, but for the few drawn past its edge by at most 0.8 % of the height (none entirely outside).
    reach = 0.008 * boxes["height"]
    assert (-reach <= boxes["xmin"]).all() and (boxes["xmax"] <= boxes["width"] + reach).all()
    assert (-reach <= boxes["ymin"]).all() and (boxes["ymax"] <= boxes["height"] + reach).all()
    assert ((boxes["xmin"] < boxes["width"]) & (boxes["xmax"] > 0) & (boxes["ymin"] < boxes["height"])
            & (boxes["ymax"] > 0)).all()
    assert np.allclose(boxes[["xmin", "ymin", "xmax", "ymax"]], boxes[["xmin", "ymin", "xmax", "ymax"]].round(2))


def test_a_few_boxes_cross_the_image_edge_and_the_reader_clips_them(manifest_plans, tmp_path: Path) -> None:
    """As about 2 % of VinDr-Mammo's boxes do (up to ~27 px at ~3400 rows): 3 % here, by 1 px to 0.8 % of H."""
    config = PhantomConfig.from_manifest(MANIFEST)
    findings, _ = annotation_tables(manifest_plans)
    boxes = findings.dropna(subset=["xmin"])
    crossing = ((boxes["xmin"] < 0) | (boxes["ymin"] < 0) | (boxes["xmax"] > boxes["width"])
                | (boxes["ymax"] > boxes["height"]))
    assert crossing.sum() == round(config.edge_crossing_fraction * len(boxes)) > 0
    csv_file = tmp_path / "finding_annotations.csv"
    csv_file.write_text(writer.annotation_csv_texts(manifest_plans)["finding_annotations.csv"])
    read = read_finding_annotations(csv_file)
    assert read["box_clipped"].sum() == crossing.sum()
    clipped = read[read["box_clipped"]]
    assert (clipped[["xmin", "ymin"]] >= 0).all().all() and (clipped["xmax"] <= clipped["width"]).all()
    assert (clipped["ymax"] <= clipped["height"]).all()
    assert f"{crossing.sum()} of {len(boxes)} finding boxes" in clipped_boxes_summary(
        clipped_boxes(read), n_finding_boxes(read), csv_file)


def test_edge_crossing_leaves_every_other_box_as_it_was() -> None:
    config = PhantomConfig.from_manifest(MANIFEST)
    plain = plan_phantom_dataset(dataclasses.replace(config, edge_crossing_fraction=0.0))
    crossing = plan_phantom_dataset(config)
    changed = [(a, b) for p, q in zip(plain, crossing, strict=True)
               for a, b in zip(p.findings, q.findings, strict=True) if a != b]
    assert len(changed) == round(config.edge_crossing_fraction * sum(len(p.findings) for p in plain))
    for before, after in changed:  # one side moved outwards; the lesions are untouched
        assert before.lesions == after.lesions
        moved = [side for side in range(4) if before.box_xyxy[side] != after.box_xyxy[side]]
        assert len(moved) == 1
        side = moved[0]  # xmin, ymin move below 0; xmax, ymax grow (past width, height: checked above)
        assert after.box_xyxy[side] < 0 if side < 2 else after.box_xyxy[side] > before.box_xyxy[side]


def test_written_csv_reads_back_with_empty_no_finding_cells(small_root: Path) -> None:
    findings = pd.read_csv(small_root / "finding_annotations.csv")
    breasts = pd.read_csv(small_root / "breast-level_annotations.csv")
    assert list(findings.columns) == FINDING_COLUMNS and list(breasts.columns) == BREAST_COLUMNS
    no_finding = findings["finding_categories"] == "['No Finding']"
    assert no_finding.any() and findings.loc[no_finding, ["xmin", "finding_birads"]].isna().all().all()
    for row in breasts.itertuples():
        assert (small_root / "images" / row.study_id / f"{row.image_id}.dicom").is_file()


def test_interior_boxes_lie_inside_the_breast(manifest_plans) -> None:
    for plan in manifest_plans:
        for finding in plan.findings:
            if CONTOUR_CATEGORIES & set(finding.categories):
                continue
            x0, y0, x1, y1 = np.clip(finding.box_xyxy, 0, [plan.width, plan.height] * 2)  # as the reader clips
            xs, ys = np.meshgrid(np.linspace(x0, x1, 5), np.linspace(y0, y1, 5))
            assert inside_breast(plan.shape, *_canonical_xy(plan, xs, ys)).all(), (plan.index, finding.categories)


def test_film_labels_keep_a_gap_to_the_breast(manifest_plans) -> None:
    for plan in manifest_plans:
        gap = 0.03 * plan.width
        for x0, y0, x1, y1 in (plan.film_label.label_xyxy, plan.film_label.marker_xyxy):
            assert 0 <= x0 < x1 <= plan.width and 0 <= y0 < y1 <= plan.height
            xs, ys = np.meshgrid(np.linspace(x0 - gap, x1 + gap, 15), np.linspace(y0 - gap, y1 + gap, 15))
            assert not inside_breast(plan.shape, *_canonical_xy(plan, xs, ys)).any(), plan.index


# ---------------------------------------------------------------- DICOM files


def test_dicoms_decode_to_the_rendered_pixels(small_root: Path) -> None:
    syntaxes, photometrics, bits = set(), set(), set()
    for plan in plan_phantom_dataset(SMALL):
        path = small_root / "images" / plan.ids.study_id / f"{plan.ids.image_id}.dicom"
        assert path.read_bytes()[128:132] == b"DICM"  # preamble + file meta
        ds = pydicom.dcmread(path)
        assert ds.Modality == "MG" and ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.2"
        assert (ds.ImageLaterality, ds.ViewPosition) == (plan.laterality, plan.view_position)
        assert (ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.BitsAllocated) == (plan.height, plan.width, 1, 16)
        assert ds.HighBit == ds.BitsStored - 1 and ds.PixelRepresentation == 0
        assert ds.SOPInstanceUID == plan.ids.sop_instance_uid == ds.file_meta.MediaStorageSOPInstanceUID
        assert "SYNTHETIC" in str(ds.PatientName) and "SYNTHETIC" in ds.ImageComments
        assert "SYNTHETIC" in ds.SeriesDescription
        np.testing.assert_array_equal(ds.pixel_array, render_phantom_image(plan))
        syntaxes.add(ds.file_meta.TransferSyntaxUID)
        photometrics.add(ds.PhotometricInterpretation)
        bits.add(ds.BitsStored)
    expected = {ExplicitVRLittleEndian, RLELossless} | ({JPEG2000Lossless} if jpeg2000_available() else set())
    assert syntaxes == expected
    assert photometrics == {"MONOCHROME1", "MONOCHROME2"}
    assert len(bits) >= 2


def test_monochrome1_stores_the_breast_dark() -> None:
    plans = plan_phantom_dataset(SMALL)
    for photometric in ("MONOCHROME1", "MONOCHROME2"):
        plan = next(p for p in plans if p.encoding.photometric == photometric)
        stored = render_phantom_image(plan).astype(float) / (2**plan.encoding.bits_stored - 1)
        centre, corner = stored[plan.height // 2, plan.width // 2], np.median(stored[:5, :5])
        assert (centre > corner) == (photometric == "MONOCHROME2")


# ---------------------------------------------------------------- lesions are drawn


@pytest.fixture(scope="module")
def small_image_plans():
    """Many small images, so every lesion kind appears and renders quickly."""
    return plan_phantom_dataset(PhantomConfig(seed=1, n_patients=40, image_height_range=(160, 200)))


def test_every_finding_changes_pixels_only_inside_its_box(small_image_plans) -> None:
    seen_kinds = set()
    for plan in small_image_plans:
        new_kinds = {lesion.kind for finding in plan.findings for lesion in finding.lesions} - seen_kinds
        if not new_kinds:
            continue
        seen_kinds |= new_kinds
        change = np.abs(render_brightness(plan) - render_brightness(dataclasses.replace(plan, findings=())))
        outside = np.ones_like(change, dtype=bool)
        for finding in plan.findings:
            x0, y0, x1, y1 = finding.box_xyxy
            rows = slice(max(int(y0) - 1, 0), int(np.ceil(y1)) + 1)
            cols = slice(max(int(x0) - 1, 0), int(np.ceil(x1)) + 1)
            outside[rows, cols] = False
            assert change[rows, cols].max() > 0.02, (plan.index, finding.categories)
        assert change[outside].max() == 0.0, plan.index
    assert len(seen_kinds) == 11


def test_mass_box_is_brighter_than_its_surroundings(manifest_plans) -> None:
    plan, finding = max(
        ((p, f) for p in manifest_plans for f in p.findings if f.lesions[0].kind == "mass"),
        key=lambda pair: pair[1].lesions[0].contrast,
    )
    brightness = render_brightness(plan)
    x = np.arange(plan.width)[None, :] + 0.5
    y = np.arange(plan.height)[:, None] + 0.5
    x0, y0, x1, y1 = finding.box_xyxy
    in_box = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
    pad = 0.5 * (x1 - x0)
    near_box = (x >= x0 - pad) & (x <= x1 + pad) & (y >= y0 - pad) & (y <= y1 + pad)
    ring = near_box & ~in_box & inside_breast(plan.shape, *_canonical_xy(plan, x, y), margin=10.0)
    assert brightness[in_box].mean() - brightness[ring].mean() > 0.03


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        PhantomConfig(test_fraction=1.0)
    with pytest.raises(ValueError):
        PhantomConfig(image_height_range=(300, 200))
    with pytest.raises(ValueError):
        PhantomConfig(boxes_per_finding_image=4.0)
    with pytest.raises(ValueError):
        PhantomConfig(full_size_height_range=(3500, 3300))
    with pytest.raises(ValueError):
        PhantomConfig(edge_crossing_fraction=0.5)
