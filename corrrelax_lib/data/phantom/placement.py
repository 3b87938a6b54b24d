"""Where and how big each finding is: seeded lesion geometry for the VinDr categories (no pixels).

Sizes scale with the image height ``H``: masses 3-12 % of ``H`` across, calcification
clusters 3-8 %, asymmetries 6-38 %. Interior findings are rejection-sampled until
their box lies inside the breast, off the pectoral muscle and clear of the other boxes;
each retry shrinks the lesion a little. Skin and nipple findings sit on the contour.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from corrrelax_lib.data.phantom.anatomy import (
    Arc,
    BreastShape,
    boundary_point,
    boundary_radius,
    inside_breast,
    inside_pectoral,
    pectoral_edge_x,
)
from corrrelax_lib.data.phantom.lesions import Box, Lesion, make_lesion, union_box

_ATTEMPTS = 400
_BOX_MARGIN = 3.0  # pixels between an interior box and the contour, muscle or another box
Point = tuple[float, float]


@dataclass
class LesionLayout:
    """Lesion planning state of one image: its generator, current shape (dents accumulate), used boxes."""

    rng: np.random.Generator
    shape: BreastShape
    occupied: list[Box] = field(default_factory=list)

    @property
    def height(self) -> float:
        return float(self.shape.height)

    def uniform(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))


# ---------------------------------------------------------------- interior lesions


def _lobes(layout: LesionLayout, count: int, max_amplitude: float) -> tuple[tuple[float, float], ...]:
    return tuple((layout.uniform(0, max_amplitude), layout.uniform(0, 2 * np.pi)) for _ in range(count))


def _mass(layout: LesionLayout, center: Point, scale: float) -> Lesion:
    """Circumscribed (60 %) or spiculated (40 %) mass, 3-12 % of H across."""
    radius = layout.uniform(0.015, 0.06) * layout.height * scale
    radii = (radius, radius * layout.uniform(0.65, 1.0))
    angle, contrast = layout.uniform(0, np.pi), layout.uniform(0.06, 0.18)
    if layout.rng.random() >= 0.4:
        return make_lesion("mass", center, contrast, radii_xy=radii, angle=angle, lobes=_lobes(layout, 2, 0.06))
    core = (0.6 * radii[0], 0.6 * radii[1])
    spicules = []
    for direction in np.sort(layout.rng.uniform(0, 2 * np.pi, int(layout.rng.integers(8, 17)))):
        start = 0.7 * core[1]  # inside the core's short axis, so every spicule touches it
        length = core[0] * layout.uniform(0.8, 1.6)
        unit = (np.cos(direction), np.sin(direction))
        spicules.append(
            (
                center[0] + start * unit[0],
                center[1] + start * unit[1],
                center[0] + (start + length) * unit[0],
                center[1] + (start + length) * unit[1],
            )
        )
    return make_lesion(
        "spiculated_mass",
        center,
        contrast + 0.02,
        radii_xy=core,
        angle=angle,
        lobes=_lobes(layout, 3, 0.12),
        segments=tuple(spicules),
        line_width=max(1.2, 0.003 * layout.height),
    )


def _calcification(layout: LesionLayout, center: Point, scale: float, cluster_radius: float | None = None) -> Lesion:
    """Cluster of 5-25 specks 1-3 px across, 3-8 % of H across (round or elongated)."""
    radius = cluster_radius or layout.uniform(0.015, 0.04) * layout.height * scale
    n_dots = int(layout.rng.integers(5, 26))
    direction, elongation = layout.uniform(0, np.pi), layout.uniform(0.4, 1.0)
    distance = radius * np.sqrt(layout.rng.uniform(0, 1, n_dots))
    phase = layout.rng.uniform(0, 2 * np.pi, n_dots)
    u, v = distance * np.cos(phase), distance * np.sin(phase) * elongation
    xs = center[0] + u * np.cos(direction) - v * np.sin(direction)
    ys = center[1] + u * np.sin(direction) + v * np.cos(direction)
    sizes = layout.rng.uniform(0.5, 1.5, n_dots)
    dots = tuple((float(x), float(y), float(s)) for x, y, s in zip(xs, ys, sizes, strict=True))
    return make_lesion("calcification", center, layout.uniform(0.18, 0.4), dots=dots)


def _density(kind: str, diameter: tuple[float, float], contrast: tuple[float, float]) -> Callable[..., Lesion]:
    def build(layout: LesionLayout, center: Point, scale: float) -> Lesion:
        radius = 0.5 * layout.uniform(*diameter) * layout.height * scale
        return make_lesion(
            kind,
            center,
            layout.uniform(*contrast),
            radii_xy=(radius, radius * layout.uniform(0.6, 1.0)),
            angle=layout.uniform(0, np.pi),
            lobes=_lobes(layout, 3, 0.1),
        )

    return build


_asymmetry = _density("asymmetry", (0.10, 0.18), (0.08, 0.14))
_focal_asymmetry = _density("focal_asymmetry", (0.06, 0.11), (0.10, 0.16))
_global_asymmetry = _density("global_asymmetry", (0.25, 0.38), (0.06, 0.10))


def _distortion(layout: LesionLayout, center: Point, scale: float) -> Lesion:
    """8-16 thin lines converging to ``center`` (gap at the centre: no mass), radius 3.5-7 % of H."""
    radius = layout.uniform(0.035, 0.07) * layout.height * scale
    lines = []
    for direction in layout.rng.uniform(0, 2 * np.pi, int(layout.rng.integers(8, 17))):
        inner, outer = radius * layout.uniform(0.12, 0.25), radius * layout.uniform(0.6, 0.95)
        bend = direction + layout.uniform(-0.15, 0.15)
        lines.append(
            (
                center[0] + inner * np.cos(direction),
                center[1] + inner * np.sin(direction),
                center[0] + outer * np.cos(bend),
                center[1] + outer * np.sin(bend),
            )
        )
    return make_lesion(
        "distortion",
        center,
        layout.uniform(0.07, 0.12),
        radii_xy=(radius, radius),
        segments=tuple(lines),
        line_width=max(1.2, 0.0025 * layout.height),
    )


def _lymph_node(layout: LesionLayout, center: Point, scale: float) -> Lesion:
    """Oval node 2-5 % of H long, its long axis roughly along the pectoral edge."""
    half_length = 0.5 * layout.uniform(0.025, 0.05) * layout.height * scale
    return make_lesion(
        "lymph_node",
        center,
        layout.uniform(0.12, 0.22),
        radii_xy=(half_length, half_length * layout.uniform(0.55, 0.75)),
        angle=layout.uniform(-2.3, -1.9) if layout.shape.view == "MLO" else layout.uniform(0, np.pi),
    )


# ---------------------------------------------------------------- where interior lesions go


def _box_points(box: Box, per_side: int = 7) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0.0, 1.0, per_side)
    x0, y0, x1, y1 = box
    xs = np.concatenate([x0 + (x1 - x0) * t, x0 + (x1 - x0) * t, np.full(per_side, x0), np.full(per_side, x1)])
    ys = np.concatenate([np.full(per_side, y0), np.full(per_side, y1), y0 + (y1 - y0) * t, y0 + (y1 - y0) * t])
    return xs, ys


def _overlaps(box: Box, others: list[Box], gap: float) -> bool:
    return any(
        box[0] < o[2] + gap and o[0] < box[2] + gap and box[1] < o[3] + gap and o[1] < box[3] + gap for o in others
    )


def _fits_interior(layout: LesionLayout, box: Box) -> bool:
    """Box inside the image and the breast, off the pectoral muscle, clear of the other boxes."""
    shape = layout.shape
    if box[0] < 1 or box[1] < 1 or box[2] > shape.width - 1 or box[3] > shape.height - 1:
        return False
    xs, ys = _box_points(box)
    return (
        bool(inside_breast(shape, xs, ys, margin=_BOX_MARGIN).all())
        and not bool(inside_pectoral(shape, xs, ys, margin=_BOX_MARGIN).any())
        and not _overlaps(box, layout.occupied, _BOX_MARGIN)
    )


def _breast_point(layout: LesionLayout) -> Point:
    """A point at a random polar angle, 20-85 % of the way from the chest wall to the contour."""
    theta = layout.uniform(-1.25, 1.25)
    radius = layout.uniform(0.2, 0.85) * float(boundary_radius(layout.shape, theta))
    return radius * np.cos(theta), layout.shape.origin_y + radius * np.sin(theta)


def _axillary_point(layout: LesionLayout) -> Point:
    """Lymph-node site: beside the pectoral edge (MLO) or the upper/lower outer breast near the chest wall (CC)."""
    shape = layout.shape
    if shape.view == "MLO":
        y = layout.uniform(0.08, 0.45) * shape.height
        return float(pectoral_edge_x(shape, y)) + layout.uniform(0.03, 0.1) * shape.height, y
    theta = layout.uniform(0.85, 1.2) * (1 if layout.rng.random() < 0.5 else -1)
    radius = layout.uniform(0.45, 0.8) * float(boundary_radius(shape, theta))
    return radius * np.cos(theta), shape.origin_y + radius * np.sin(theta)


def _place_interior(
    layout: LesionLayout,
    build: Callable[[Point, float], list[Lesion]],
    sample_center: Callable[[], Point] | None = None,
) -> list[Lesion]:
    """Rejection-sample a centre (and shrink on retries) until the finding's box fits."""
    sampler = sample_center or (lambda: _breast_point(layout))
    for attempt in range(_ATTEMPTS):
        lesions = build(sampler(), 1.0 - 0.5 * attempt / _ATTEMPTS)
        if _fits_interior(layout, union_box([lesion.box_xyxy for lesion in lesions])):
            return lesions
    raise RuntimeError(f"could not place {[lesion.kind for lesion in lesions]} in a {layout.shape.view} breast")


# ---------------------------------------------------------------- contour findings


def _contour_points(shape: BreastShape, theta: float, half_width: float, inset: float = 0.0) -> list[Point]:
    """Points of the contour over ``theta +- half_width``, moved ``inset`` pixels inwards along the radius."""
    thetas = np.linspace(theta - half_width, theta + half_width, 25)
    radius = boundary_radius(shape, thetas) - inset
    return [(float(r * np.cos(t)), float(shape.origin_y + r * np.sin(t))) for r, t in zip(radius, thetas, strict=True)]


def _contour_arc_fits(layout: LesionLayout, points: list[Point]) -> bool:
    xs, ys = np.array(points).T
    box = (xs.min(), ys.min(), xs.max(), ys.max())
    inside_image = (ys >= 2).all() and (ys <= layout.shape.height - 2).all() and (xs <= layout.shape.width - 2).all()
    return bool(inside_image) and not _overlaps(box, layout.occupied, _BOX_MARGIN)


def _contour_theta(layout: LesionLayout, theta_range: tuple[float, float], half_width: float, inset: float) -> float:
    """A polar angle (either side of the nipple) whose contour stretch is in the image and unoccupied."""
    for _ in range(_ATTEMPTS):
        theta = layout.uniform(*theta_range) * (1 if layout.rng.random() < 0.5 else -1)
        points = _contour_points(layout.shape, theta, half_width * 1.5) + _contour_points(
            layout.shape, theta, half_width, inset
        )
        if _contour_arc_fits(layout, points):
            return theta
    raise RuntimeError("no free contour stretch for a skin finding")


def _skin_thickening(layout: LesionLayout) -> list[Lesion]:
    """Skin 3-6x thicker (1.2-2.2 % of H) along 17-34 degrees of contour away from the nipple."""
    thickness = layout.uniform(0.012, 0.022) * layout.height
    half_width = layout.uniform(0.15, 0.3)
    theta = _contour_theta(layout, (0.35, 1.1), half_width, 1.5 * thickness + 2)
    extent = _contour_points(layout.shape, theta, half_width) + _contour_points(
        layout.shape, theta, half_width, 1.5 * thickness + 2
    )
    center = boundary_point(layout.shape, np.array(theta))
    return [
        make_lesion(
            "skin_thickening",
            (float(center[0]), float(center[1])),
            layout.uniform(0.15, 0.25),
            arc=Arc(theta, half_width, thickness),
            extent_points=tuple(extent),
        )
    ]


def _dent_extent(before: BreastShape, after: BreastShape, dent: Arc) -> list[Point]:
    """Contour points around a dent, before and after it (the dent is 90 % deep within 1.5 half-widths)."""
    return _contour_points(before, dent.theta, 1.5 * dent.half_width) + _contour_points(
        after, dent.theta, 1.5 * dent.half_width
    )


def _nipple_retraction(layout: LesionLayout) -> list[Lesion]:
    """Nipple pulled in by 2-4 % of H (its bump removed, contour indented) over a retroareolar density."""
    before = layout.shape
    dent = Arc(layout.uniform(-0.03, 0.03), layout.uniform(0.05, 0.09), layout.uniform(0.02, 0.04) * layout.height)
    after = dataclasses.replace(before, nipple_protrusion=0.0).with_dent(dent)
    layout.shape = after
    radius = 0.5 * layout.uniform(0.05, 0.08) * layout.height
    depth = float(boundary_radius(after, dent.theta)) - radius - 0.3 * dent.size
    center = (depth * np.cos(dent.theta), after.origin_y + depth * np.sin(dent.theta))
    return [
        make_lesion(
            "nipple_retraction",
            (float(center[0]), float(center[1])),
            layout.uniform(0.05, 0.09),
            radii_xy=(radius, radius * layout.uniform(0.55, 0.8)),
            angle=dent.theta,
            lobes=_lobes(layout, 2, 0.08),
            arc=dent,
            extent_points=tuple(_dent_extent(before, after, dent)),
        )
    ]


def _skin_retraction(layout: LesionLayout, near_nipple: bool = False) -> list[Lesion]:
    """Contour pulled in by 1.5-3 % of H with 3-5 tethering lines running inwards from the dent."""
    before = layout.shape
    half_width, depth = layout.uniform(0.03, 0.06), layout.uniform(0.015, 0.03) * layout.height
    tether_length = layout.uniform(0.06, 0.11) * layout.height
    theta = _contour_theta(layout, (0.22, 0.32) if near_nipple else (0.4, 1.15), half_width, tether_length)
    dent = Arc(theta, half_width, depth)
    after = before.with_dent(dent)
    layout.shape = after
    anchor_radius = float(boundary_radius(after, theta))
    tethers = []
    for offset in np.linspace(-0.6, 0.6, int(layout.rng.integers(3, 6))) * half_width:
        start_radius = float(boundary_radius(after, theta + offset)) - 1.0
        end_radius = anchor_radius - tether_length * layout.uniform(0.7, 1.0)
        end_theta = theta + layout.uniform(-0.5, 0.5) * half_width
        tethers.append(
            (
                start_radius * np.cos(theta + offset),
                after.origin_y + start_radius * np.sin(theta + offset),
                end_radius * np.cos(end_theta),
                after.origin_y + end_radius * np.sin(end_theta),
            )
        )
    anchor = boundary_point(after, np.array(theta))
    return [
        make_lesion(
            "skin_retraction",
            (float(anchor[0]), float(anchor[1])),
            layout.uniform(0.07, 0.12),
            segments=tuple(tethers),
            line_width=max(1.2, 0.0025 * layout.height),
            arc=dent,
            extent_points=tuple(_dent_extent(before, after, dent)),
        )
    ]


# ---------------------------------------------------------------- categories -> lesions

#: Findings that change the contour; they are planned before the interior ones.
CONTOUR_CATEGORIES = frozenset({"Skin Thickening", "Nipple Retraction", "Skin Retraction"})

_INTERIOR_BUILDERS: dict[str, Callable[[LesionLayout, Point, float], Lesion]] = {
    "Mass": _mass,
    "Suspicious Calcification": _calcification,
    "Asymmetry": _asymmetry,
    "Focal Asymmetry": _focal_asymmetry,
    "Global Asymmetry": _global_asymmetry,
    "Architectural Distortion": _distortion,
    "Suspicious Lymph Node": _lymph_node,
}


def _co_located(layout: LesionLayout, first: Lesion, category: str, scale: float) -> Lesion:
    """Second lesion of a multi-label box, centred on the first one."""
    if category == "Suspicious Calcification":
        return _calcification(layout, first.center_xy, scale, cluster_radius=0.9 * max(first.radii_xy) + 2.0)
    return _INTERIOR_BUILDERS[category](layout, first.center_xy, 0.8 * scale)


def place_finding(layout: LesionLayout, categories: tuple[str, ...]) -> tuple[Lesion, ...]:
    """Plan the lesions of one annotated box; updates ``layout.shape`` (dents) and ``layout.occupied``.

    Multi-label boxes draw one lesion per category at the same site, e.g. calcifications
    inside a mass, a distortion within a focal asymmetry, a skin retraction beside a
    retracted nipple.
    """
    lesions: list[Lesion] = []
    if "Nipple Retraction" in categories:
        lesions += _nipple_retraction(layout)
    if "Skin Retraction" in categories:
        lesions += _skin_retraction(layout, near_nipple="Nipple Retraction" in categories)
    if "Skin Thickening" in categories:
        lesions += _skin_thickening(layout)
    interior = [category for category in categories if category not in CONTOUR_CATEGORIES]
    if interior:
        first, *others = interior

        def build(center: Point, scale: float) -> list[Lesion]:
            body = _INTERIOR_BUILDERS[first](layout, center, scale)
            return [body, *(_co_located(layout, body, category, scale) for category in others)]

        sampler = (lambda: _axillary_point(layout)) if first == "Suspicious Lymph Node" else None
        lesions += _place_interior(layout, build, sampler)
    layout.occupied.append(union_box([lesion.box_xyxy for lesion in lesions]))
    return tuple(lesions)
