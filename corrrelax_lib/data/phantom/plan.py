"""Deterministic plan of a phantom dataset: patients, splits, images, findings and boxes (no pixels).

Dataset-level choices (split, density, which images get which findings, encodings) use
one generator seeded from ``[seed, DATASET_STREAM]``; each image's geometry uses a child of
``SeedSequence([seed, image_index])``, so images are independent of each other.

Every split receives a *quota* of boxes: first one box of each multi-label combination in
:data:`REQUIRED_BOXES` and one of each of the 10 VinDr finding categories, then boxes in
the fixed proportions of :data:`EXTRA_BOX_WEIGHTS` (largest-remainder rounding, no
sampling noise). So every category appears in both splits whenever a split has at least
5 images with findings (13 required boxes, at most 3 per image).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from corrrelax_lib.data.labels import CATEGORIES, NO_FINDING
from corrrelax_lib.data.phantom.anatomy import BreastShape, plan_breast_shape
from corrrelax_lib.data.phantom.config import MAX_BOXES_PER_IMAGE, VIEWS_PER_PATIENT, PhantomConfig
from corrrelax_lib.data.phantom.dicom import DicomEncoding, plan_encodings
from corrrelax_lib.data.phantom.film_labels import FilmLabel, plan_film_label
from corrrelax_lib.data.phantom.identifiers import dicom_uid, hex_id, study_date_time
from corrrelax_lib.data.phantom.lesions import Box, Lesion, union_box
from corrrelax_lib.data.phantom.placement import CONTOUR_CATEGORIES, LesionLayout, place_finding

SPLITS = ("training", "test")
VIEWS: tuple[tuple[str, str], ...] = (("L", "CC"), ("L", "MLO"), ("R", "CC"), ("R", "MLO"))
DATASET_STREAM = 0xFFFFFFFF  # second SeedSequence word of the dataset-level generator (images use their index)

#: Boxes every split gets first: the multi-label combinations, then each category once.
REQUIRED_BOXES: tuple[tuple[str, ...], ...] = (
    ("Mass", "Suspicious Calcification"),
    ("Focal Asymmetry", "Architectural Distortion"),
    ("Nipple Retraction", "Skin Retraction"),
    *((category,) for category in CATEGORIES if category != NO_FINDING),
)
#: Proportions of the remaining boxes: masses and calcifications dominate, as in VinDr-Mammo.
EXTRA_BOX_WEIGHTS: dict[tuple[str, ...], float] = {
    ("Mass",): 0.36,
    ("Suspicious Calcification",): 0.24,
    ("Mass", "Suspicious Calcification"): 0.06,
    ("Asymmetry",): 0.05,
    ("Focal Asymmetry",): 0.06,
    ("Global Asymmetry",): 0.03,
    ("Architectural Distortion",): 0.05,
    ("Suspicious Lymph Node",): 0.05,
    ("Skin Thickening",): 0.04,
    ("Nipple Retraction",): 0.03,
    ("Skin Retraction",): 0.03,
}
#: Categories drawn at most once per image (they change the contour or cover a large area).
ONCE_PER_IMAGE = frozenset({"Nipple Retraction", "Skin Retraction", "Skin Thickening", "Global Asymmetry"})
#: BI-RADS assessments a finding of each category may get (drawn uniformly).
FINDING_BIRADS: dict[str, tuple[int, ...]] = {
    "Mass": (3, 4, 4, 5),
    "Suspicious Calcification": (3, 4, 4, 5),
    "Asymmetry": (3, 3, 4),
    "Focal Asymmetry": (3, 4),
    "Global Asymmetry": (3,),
    "Architectural Distortion": (4, 5),
    "Suspicious Lymph Node": (3, 4),
    "Skin Thickening": (3, 4),
    "Nipple Retraction": (4,),
    "Skin Retraction": (4, 5),
}
DENSITY_PROBABILITIES = {"A": 0.1, "B": 0.35, "C": 0.4, "D": 0.15}
#: Boxes drawn past the image edge: chosen among those within this fraction of the height of an edge, and
#: reaching up to this far past it (VinDr-Mammo: up to ~27 px at ~3400 rows).
EDGE_CANDIDATE_FRACTION = 0.03
EDGE_OVERSHOOT_FRACTION = 0.008
LYMPH_NODE_MLO_PREFERENCE = 0.85  # probability a lymph node is sent to an MLO image when one is free


@dataclass(frozen=True)
class ImageIds:
    """Identifiers of one image: VinDr-style 32-hex ids and the DICOM UIDs."""

    patient_id: str
    study_id: str
    series_id: str
    image_id: str
    study_instance_uid: str
    series_instance_uid: str
    sop_instance_uid: str


@dataclass(frozen=True)
class Finding:
    """One annotated box: its VinDr categories, BI-RADS, drawn lesions and box.

    ``box_xyxy`` is in the *image* frame (right breasts mirrored), pixels, rounded to 0.01,
    inside the image except for the few boxes :func:`plan_phantom_dataset` draws a few pixels
    past its edge (``PhantomConfig.edge_crossing_fraction``); the lesions are in the canonical frame.
    """

    categories: tuple[str, ...]
    birads: int
    lesions: tuple[Lesion, ...]
    box_xyxy: Box


@dataclass(frozen=True)
class ImagePlan:
    """Everything needed to render and encode one image, and its annotation rows."""

    seed: int
    index: int
    ids: ImageIds
    split: str
    laterality: str
    view_position: str
    height: int
    width: int
    breast_birads: int
    density: str
    patient_age: int
    study_date: str
    study_time: str
    texture_beta: float
    shape: BreastShape
    findings: tuple[Finding, ...]
    film_label: FilmLabel
    encoding: DicomEncoding

    def pixel_rng(self) -> np.random.Generator:
        """Generator of this image's pixel noise and texture (independent of every other image)."""
        return np.random.default_rng(np.random.SeedSequence([self.seed, self.index]).spawn(2)[1])


# ---------------------------------------------------------------- quotas and their assignment to images


def _apportion(weights: Sequence[float], total: int) -> list[int]:
    """Integer counts proportional to ``weights`` summing to ``total`` (largest remainder)."""
    exact = np.asarray(weights, dtype=float) / sum(weights) * total
    counts = np.floor(exact).astype(int)
    for position in np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]:
        counts[position] += 1
    return counts.tolist()


def box_quota(n_finding_images: int, boxes_per_finding_image: float) -> list[tuple[str, ...]]:
    """Category tuples of all boxes of one split: required boxes first, then fixed proportions.

    >>> len(box_quota(16, 1.6)), box_quota(16, 1.6)[:2]
    (26, [('Mass', 'Suspicious Calcification'), ('Focal Asymmetry', 'Architectural Distortion')])
    """
    capacity = n_finding_images * MAX_BOXES_PER_IMAGE
    n_boxes = min(capacity, max(len(REQUIRED_BOXES), round(n_finding_images * boxes_per_finding_image)))
    boxes = list(REQUIRED_BOXES[:n_boxes])
    counts = _apportion(list(EXTRA_BOX_WEIGHTS.values()), n_boxes - len(boxes))
    for categories, count in zip(EXTRA_BOX_WEIGHTS, counts, strict=True):
        boxes += [categories] * count
    return boxes


def _fits(box: tuple[str, ...], image_boxes: list[tuple[str, ...]]) -> bool:
    if len(image_boxes) >= MAX_BOXES_PER_IMAGE:
        return False
    taken = {category for categories in image_boxes for category in categories}
    return not (ONCE_PER_IMAGE & taken & set(box))


def assign_boxes(
    rng: np.random.Generator, boxes: list[tuple[str, ...]], images: list[int], views: dict[int, str]
) -> dict[int, list[tuple[str, ...]]]:
    """Deal boxes to images: least-loaded first (so every image gets one), lymph nodes mostly to MLO."""
    assigned: dict[int, list[tuple[str, ...]]] = {image: [] for image in images}
    shuffled = [boxes[i] for i in rng.permutation(len(boxes))]
    # Constrained boxes first, while every image still has room for them.
    for box in sorted(shuffled, key=lambda categories: not (ONCE_PER_IMAGE & set(categories))):
        candidates = [image for image in images if _fits(box, assigned[image])]
        if not candidates:
            raise RuntimeError(f"no image can take a {box} box; increase n_patients or finding_image_fraction")
        least = min(len(assigned[image]) for image in candidates)
        candidates = [image for image in candidates if len(assigned[image]) == least]
        if "Suspicious Lymph Node" in box and rng.random() < LYMPH_NODE_MLO_PREFERENCE:
            candidates = [image for image in candidates if views[image] == "MLO"] or candidates
        assigned[candidates[int(rng.integers(len(candidates)))]].append(box)
    return assigned


# ---------------------------------------------------------------- per image


def _image_box(box: Box, laterality: str, width: int, height: int) -> Box:
    """Canonical-frame box -> image frame (mirrored for R), clipped, rounded to 0.01 px."""
    x0, y0, x1, y1 = box
    if laterality == "R":
        x0, x1 = width - x1, width - x0
    return (
        round(max(x0, 0.0), 2),
        round(max(y0, 0.0), 2),
        round(min(x1, float(width)), 2),
        round(min(y1, float(height)), 2),
    )


def _plan_geometry(
    seed: int, index: int, laterality: str, view: str, height: int, width: int, boxes: list[tuple[str, ...]]
) -> tuple[BreastShape, FilmLabel, tuple[Finding, ...]]:
    """Shape, film label and findings of one image from its own generator."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]).spawn(2)[0])
    layout = LesionLayout(rng, plan_breast_shape(rng, view, height, width))
    film_label = plan_film_label(rng, layout.shape, laterality)
    findings = []
    # Contour findings first (they dent the silhouette), nipple retraction before the others.
    for categories in sorted(boxes, key=lambda c: (not (CONTOUR_CATEGORIES & set(c)), "Nipple Retraction" not in c)):
        lesions = place_finding(layout, categories)
        birads = max(int(rng.choice(FINDING_BIRADS[category])) for category in categories)
        box = _image_box(union_box([lesion.box_xyxy for lesion in lesions]), laterality, width, height)
        findings.append(Finding(categories, birads, lesions, box))
    return layout.shape, film_label, tuple(findings)


def _cross_image_edges(
    rng: np.random.Generator,
    geometry: dict[int, tuple[BreastShape, FilmLabel, tuple[Finding, ...]]],
    heights: np.ndarray,
    widths: np.ndarray,
    fraction: float,
) -> dict[int, tuple[BreastShape, FilmLabel, tuple[Finding, ...]]]:
    """Move the nearest side of ``fraction`` of all boxes 1 px to 0.8 % of the height past the image edge.

    As annotators do on VinDr-Mammo: the box still holds its lesions (it only grows) and is never
    entirely outside the image. Candidates are the boxes within 3 % of the height of an edge.
    """
    candidates = []
    for index, (_, _, findings) in geometry.items():
        height, width = int(heights[index // VIEWS_PER_PATIENT]), int(widths[index // VIEWS_PER_PATIENT])
        for number, finding in enumerate(findings):
            x0, y0, x1, y1 = finding.box_xyxy
            gaps = (x0, y0, width - x1, height - y1)  # to the left, top, right and bottom edge
            side = int(np.argmin(gaps))
            if gaps[side] <= EDGE_CANDIDATE_FRACTION * height:
                candidates.append((index, number, side, height, width))
    n_total = sum(len(findings) for _, _, findings in geometry.values())
    n_crossing = min(len(candidates), round(fraction * n_total))
    geometry = dict(geometry)
    for choice in sorted(rng.permutation(len(candidates))[:n_crossing].tolist()):
        index, number, side, height, width = candidates[choice]
        overshoot = round(float(rng.uniform(1.0, max(1.0, EDGE_OVERSHOOT_FRACTION * height))), 2)
        box = list(geometry[index][2][number].box_xyxy)
        box[side] = -overshoot if side < 2 else (width, height)[side - 2] + overshoot
        shape, film_label, findings = geometry[index]
        findings = tuple(dataclasses.replace(finding, box_xyxy=tuple(box)) if position == number else finding
                         for position, finding in enumerate(findings))
        geometry[index] = (shape, film_label, findings)
    return geometry


def plan_phantom_dataset(config: PhantomConfig) -> list[ImagePlan]:
    """Plan every image of the dataset, in study order (L CC, L MLO, R CC, R MLO per study).

    Fast (no pixels): the default 160-image config plans in well under a second.

    >>> plans = plan_phantom_dataset(PhantomConfig(n_patients=3))
    >>> len(plans), plans[0].laterality, plans[1].view_position
    (12, 'L', 'MLO')
    """
    seed, n_patients = config.seed, config.n_patients
    rng = np.random.default_rng(np.random.SeedSequence([seed, DATASET_STREAM]))
    test_patients = set(rng.permutation(n_patients)[: config.n_test_patients].tolist())
    densities = rng.choice(list(DENSITY_PROBABILITIES), size=n_patients, p=list(DENSITY_PROBABILITIES.values()))
    ages = rng.integers(40, 76, size=n_patients)
    heights = rng.integers(config.image_height_range[0], config.image_height_range[1] + 1, size=n_patients)
    widths = np.rint(heights * rng.uniform(*config.width_ratio_range, size=n_patients)).astype(int)
    quiet_birads = rng.choice([1, 1, 1, 2], size=(n_patients, 2))  # breasts without findings

    split_of = {index: SPLITS[index // VIEWS_PER_PATIENT in test_patients] for index in range(config.n_images)}
    views = {index: VIEWS[index % VIEWS_PER_PATIENT][1] for index in range(config.n_images)}
    boxes_of: dict[int, list[tuple[str, ...]]] = {index: [] for index in range(config.n_images)}
    for split in SPLITS:
        images = [index for index in range(config.n_images) if split_of[index] == split]
        n_finding = round(config.finding_image_fraction * len(images))
        finding_images = sorted(rng.permutation(images)[:n_finding].tolist())
        boxes_of.update(
            assign_boxes(rng, box_quota(n_finding, config.boxes_per_finding_image), finding_images, views)
        )
    encodings = plan_encodings(rng, n_patients, VIEWS_PER_PATIENT)
    if config.full_size_studies:  # drawn last, so that every other draw is the same as without them
        training_patients = [patient for patient in range(n_patients) if patient not in test_patients]
        for patient in sorted(rng.permutation(training_patients)[: config.full_size_studies].tolist()):
            heights[patient] = rng.integers(config.full_size_height_range[0], config.full_size_height_range[1] + 1)
            widths[patient] = round(heights[patient] * rng.uniform(*config.width_ratio_range))

    geometry = {}
    for index in range(config.n_images):
        patient = index // VIEWS_PER_PATIENT
        laterality, view = VIEWS[index % VIEWS_PER_PATIENT]
        geometry[index] = _plan_geometry(
            seed, index, laterality, view, int(heights[patient]), int(widths[patient]), boxes_of[index]
        )
    if config.edge_crossing_fraction:  # drawn after everything else, like the full-size studies
        geometry = _cross_image_edges(rng, geometry, heights, widths, config.edge_crossing_fraction)
    # A breast's BI-RADS is the worst finding over both of its views.
    breast_birads: dict[tuple[int, str], int] = {}
    for index, (_, _, findings) in geometry.items():
        key = (index // VIEWS_PER_PATIENT, VIEWS[index % VIEWS_PER_PATIENT][0])
        breast_birads[key] = max([breast_birads.get(key, 0), *(finding.birads for finding in findings)])

    plans = []
    for index in range(config.n_images):
        patient = index // VIEWS_PER_PATIENT
        laterality, view = VIEWS[index % VIEWS_PER_PATIENT]
        shape, film_label, findings = geometry[index]
        study_date, study_time = study_date_time(seed, patient)
        ids = ImageIds(
            patient_id=hex_id(seed, "patient", patient),
            study_id=hex_id(seed, "study", patient),
            series_id=hex_id(seed, "series", index),
            image_id=hex_id(seed, "image", index),
            study_instance_uid=dicom_uid(seed, "study", patient),
            series_instance_uid=dicom_uid(seed, "series", index),
            sop_instance_uid=dicom_uid(seed, "image", index),
        )
        plans.append(
            ImagePlan(
                seed=seed,
                index=index,
                ids=ids,
                split=split_of[index],
                laterality=laterality,
                view_position=view,
                height=int(heights[patient]),
                width=int(widths[patient]),
                breast_birads=breast_birads[(patient, laterality)]
                or int(quiet_birads[patient, int(laterality == "R")]),
                density=str(densities[patient]),
                patient_age=int(ages[patient]),
                study_date=study_date,
                study_time=study_time,
                texture_beta=config.texture_beta,
                shape=shape,
                findings=findings,
                film_label=film_label,
                encoding=encodings[index],
            )
        )
    return plans


# ---------------------------------------------------------------- VinDr-Mammo tables

FINDING_COLUMNS = (
    "study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
    "breast_birads", "breast_density", "finding_categories", "finding_birads",
    "xmin", "ymin", "xmax", "ymax", "split",
)  # fmt: skip
BREAST_COLUMNS = (
    "study_id", "series_id", "image_id", "laterality", "view_position", "height", "width",
    "breast_birads", "breast_density", "split",
)  # fmt: skip


def annotation_tables(plans: Sequence[ImagePlan]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(finding_annotations, breast_level)`` tables in VinDr-Mammo's layout.

    One finding row per box (images without findings: one ``['No Finding']`` row with
    empty BI-RADS and box); one breast-level row per image.
    """
    breast_rows, finding_rows = [], []
    for plan in plans:
        image = {
            "study_id": plan.ids.study_id,
            "series_id": plan.ids.series_id,
            "image_id": plan.ids.image_id,
            "laterality": plan.laterality,
            "view_position": plan.view_position,
            "height": plan.height,
            "width": plan.width,
            "breast_birads": f"BI-RADS {plan.breast_birads}",
            "breast_density": f"DENSITY {plan.density}",
            "split": plan.split,
        }
        breast_rows.append(image)
        for finding in plan.findings:
            xmin, ymin, xmax, ymax = finding.box_xyxy
            finding_rows.append(
                {
                    **image,
                    "finding_categories": str(list(finding.categories)),
                    "finding_birads": f"BI-RADS {finding.birads}",
                    **dict(xmin=xmin, ymin=ymin, xmax=xmax, ymax=ymax),
                }
            )
        if not plan.findings:
            empty_box = dict.fromkeys(("xmin", "ymin", "xmax", "ymax"), np.nan)
            finding_rows.append(
                {**image, "finding_categories": str([NO_FINDING]), "finding_birads": None, **empty_box}
            )
    findings = pd.DataFrame(finding_rows, columns=list(FINDING_COLUMNS))
    return findings, pd.DataFrame(breast_rows, columns=list(BREAST_COLUMNS))
