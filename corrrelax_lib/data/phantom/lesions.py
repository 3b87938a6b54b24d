"""Lesion drawers: one function per lesion kind, all with the call shape ``draw_x(lesion, canvas)``.

A :class:`Lesion` is pure geometry in the canonical frame (chest wall at ``x = 0``),
pixels and radians; its ``box_xyxy`` is computed from that geometry by
:func:`make_lesion`, before any pixel exists, and every drawer writes only inside it.
A drawer returns the lesion's *contribution*: an ``(H, W)`` float32 brightness added to
the breast (display units, breast bright). Contour changes of retractions (the dent
itself) live in :class:`~.anatomy.BreastShape`; their drawers add the associated
densities and tethering lines.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from corrrelax_lib.data.phantom.anatomy import Arc
from corrrelax_lib.data.phantom.tissue import Canvas

Box = tuple[float, float, float, float]  # (xmin, ymin, xmax, ymax), pixels
Segment = tuple[float, float, float, float]  # (x0, y0, x1, y1), pixels


@dataclass(frozen=True)
class Lesion:
    """Geometry of one drawn lesion (canonical frame, pixels, radians); build it with :func:`make_lesion`.

    Attributes:
        kind: one of :data:`LESION_KINDS` (the keys of :data:`DRAWERS`).
        center_xy: centre of the body (mass, node, density) or convergence point (distortion).
        radii_xy: semi-axes of the body before rotation by ``angle``; ``(0, 0)`` if it has none.
        angle: rotation of the body, radians.
        contrast: peak brightness added, display units (the breast spans about 0.1-0.7).
        lobes: ``(relative amplitude, phase)`` of margin harmonics k = 3, 4, ... (irregular outline).
        segments: thin lines (spicules, distortion lines, tethering lines).
        line_width: half-width of those lines, pixels.
        dots: ``(x, y, radius)`` calcification specks.
        arc: contour stretch of a skin thickening (``size`` = skin thickness) or retraction dent.
        box_xyxy: box holding every pixel the drawer touches, canonical frame.
    """

    kind: str
    center_xy: tuple[float, float]
    radii_xy: tuple[float, float]
    angle: float
    contrast: float
    lobes: tuple[tuple[float, float], ...]
    segments: tuple[Segment, ...]
    line_width: float
    dots: tuple[tuple[float, float, float], ...]
    arc: Arc | None
    box_xyxy: Box


def union_box(boxes: Sequence[Box]) -> Box:
    """Smallest box containing all ``boxes``."""
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def make_lesion(
    kind: str,
    center_xy: tuple[float, float],
    contrast: float,
    *,
    radii_xy: tuple[float, float] = (0.0, 0.0),
    angle: float = 0.0,
    lobes: tuple[tuple[float, float], ...] = (),
    segments: tuple[Segment, ...] = (),
    line_width: float = 1.0,
    dots: tuple[tuple[float, float, float], ...] = (),
    arc: Arc | None = None,
    extent_points: tuple[tuple[float, float], ...] = (),
) -> Lesion:
    """Build a :class:`Lesion` and its support box (body + lines + dots + ``extent_points``, plus 1 px)."""
    if kind not in DRAWERS:
        raise ValueError(f"unknown lesion kind {kind!r}")
    boxes: list[Box] = []
    if radii_xy[0] > 0:
        # Axis-aligned extent of the rotated, lobulated ellipse.
        grow = 1.0 + sum(abs(amplitude) for amplitude, _ in lobes)
        rx, ry = radii_xy[0] * grow, radii_xy[1] * grow
        half_w = np.hypot(rx * np.cos(angle), ry * np.sin(angle))
        half_h = np.hypot(rx * np.sin(angle), ry * np.cos(angle))
        boxes.append((center_xy[0] - half_w, center_xy[1] - half_h, center_xy[0] + half_w, center_xy[1] + half_h))
    for x0, y0, x1, y1 in segments:
        w = line_width
        boxes.append((min(x0, x1) - w, min(y0, y1) - w, max(x0, x1) + w, max(y0, y1) + w))
    for x, y, radius in dots:
        boxes.append((x - radius - 0.5, y - radius - 0.5, x + radius + 0.5, y + radius + 0.5))
    for x, y in extent_points:
        boxes.append((x, y, x, y))
    if not boxes:
        raise ValueError(f"{kind} lesion has no geometry")
    x_min, y_min, x_max, y_max = union_box(boxes)
    box = (float(x_min - 1.0), float(y_min - 1.0), float(x_max + 1.0), float(y_max + 1.0))
    return Lesion(kind, center_xy, radii_xy, angle, contrast, lobes, segments, line_width, dots, arc, box)


# ---------------------------------------------------------------- drawing primitives


def _window(lesion: Lesion, canvas: Canvas) -> tuple[tuple[slice, slice], np.ndarray, np.ndarray, np.ndarray]:
    """Pixel window of the lesion box: its slices, local x ``(1, w)``, y ``(h, 1)`` and a zero canvas."""
    height, width = canvas.edge_distance.shape
    x0, y0, x1, y1 = lesion.box_xyxy
    cols = slice(max(int(np.floor(x0)), 0), min(int(np.ceil(x1)), width))
    rows = slice(max(int(np.floor(y0)), 0), min(int(np.ceil(y1)), height))
    return (rows, cols), canvas.x[:, cols], canvas.y[rows, :], np.zeros((height, width), np.float32)


def _body_axes(lesion: Lesion, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel offsets from the lesion centre along its rotated first (u) and second (v) body axes."""
    dx, dy = x - lesion.center_xy[0], y - lesion.center_xy[1]
    cos, sin = np.cos(lesion.angle), np.sin(lesion.angle)
    return dx * cos + dy * sin, -dx * sin + dy * cos


def _elliptic_radius(lesion: Lesion, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Normalised radius of the lesion body: 1 on its (lobulated) outline, 0 at its centre."""
    u, v = _body_axes(lesion, x, y)
    u, v = u / lesion.radii_xy[0], v / lesion.radii_xy[1]
    rho = np.hypot(u, v)
    if lesion.lobes:
        phi = np.arctan2(v, u)
        rho = rho / (1.0 + sum(a * np.cos(k * phi + p) for k, (a, p) in enumerate(lesion.lobes, start=3)))
    return rho


def _smooth_disc(rho: np.ndarray, edge: float) -> np.ndarray:
    """1 inside ``rho <= 1 - edge``, raised-cosine fall to 0 at ``rho = 1``."""
    ramp = np.clip((1.0 - rho) / max(edge, 1e-6), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * ramp)


def _bump(u: np.ndarray) -> np.ndarray:
    """Compact smooth kernel ``(1 - u^2)^2`` for ``|u| < 1``, else 0."""
    return np.clip(1.0 - u**2, 0.0, None) ** 2


def _lines(lesion: Lesion, x: np.ndarray, y: np.ndarray, profile: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Max over ``lesion.segments`` of a thin line; ``profile(t)`` sets brightness along it (t = 0 at its start)."""
    out = np.zeros(np.broadcast_shapes(x.shape, y.shape), np.float32)
    for x0, y0, x1, y1 in lesion.segments:
        ex, ey = x1 - x0, y1 - y0
        t = np.clip(((x - x0) * ex + (y - y0) * ey) / max(ex * ex + ey * ey, 1e-9), 0.0, 1.0)
        distance = np.hypot(x - (x0 + t * ex), y - (y0 + t * ey))
        out = np.maximum(out, _bump(distance / lesion.line_width) * profile(t))
    return out


def _tissue_like(canvas: Canvas, region: tuple[slice, slice]) -> np.ndarray:
    """Texture modulation in ``[0.55, 1]`` so densities look glandular rather than solid."""
    return 0.55 + 0.45 / (1.0 + np.exp(-1.5 * canvas.texture[region]))


# ---------------------------------------------------------------- one drawer per kind


def draw_mass(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    """Circumscribed mass: dome-shaped ellipse with a smooth ~3 px edge, ``(H, W)``."""
    region, x, y, out = _window(lesion, canvas)
    rho = _elliptic_radius(lesion, x, y)
    edge = min(0.5, 3.5 / min(lesion.radii_xy))
    dome = 0.65 + 0.35 * np.sqrt(np.clip(1.0 - rho**2, 0.0, 1.0))
    out[region] = lesion.contrast * _smooth_disc(rho, edge) * dome
    return out


def draw_spiculated_mass(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    """Spiculated mass: irregular core plus thin spicules radiating from it, fading outwards."""
    region, x, y, out = _window(lesion, canvas)
    core = _smooth_disc(_elliptic_radius(lesion, x, y), min(0.6, 3.0 / min(lesion.radii_xy)))
    spicules = _lines(lesion, x, y, lambda t: 0.75 * (1.0 - t) ** 0.8)
    out[region] = lesion.contrast * np.maximum(core, spicules)
    return out


def draw_calcification(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    """Cluster of tiny bright specks (anti-aliased discs of radius 0.5-1.5 px)."""
    region, x, y, out = _window(lesion, canvas)
    specks = np.zeros(np.broadcast_shapes(x.shape, y.shape), np.float32)
    for dot_x, dot_y, radius in lesion.dots:
        coverage = np.clip(radius + 0.5 - np.hypot(x - dot_x, y - dot_y), 0.0, 1.0)
        specks = np.maximum(specks, coverage)
    out[region] = lesion.contrast * specks
    return out


def _draw_density(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    region, x, y, out = _window(lesion, canvas)
    out[region] = lesion.contrast * _bump(_elliptic_radius(lesion, x, y)) * _tissue_like(canvas, region)
    return out


def draw_asymmetry(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    """Asymmetry: broad, low-contrast, irregular extra glandular density (no convex margins)."""
    return _draw_density(lesion, canvas)


def draw_focal_asymmetry(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    """Focal asymmetry: a smaller, slightly denser glandular patch."""
    return _draw_density(lesion, canvas)


def draw_global_asymmetry(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    """Global asymmetry: extra density over a large part (about a quadrant) of the breast."""
    return _draw_density(lesion, canvas)


def draw_distortion(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    """Architectural distortion: thin lines converging to a point, no central mass.

    The accompanying pull of the surrounding texture is :func:`distortion_displacement`.
    """
    region, x, y, out = _window(lesion, canvas)
    out[region] = lesion.contrast * _lines(lesion, x, y, lambda t: np.sqrt(np.sin(np.pi * t)))
    return out


def distortion_displacement(lesion: Lesion, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Texture sampling offsets ``(dx, dy)`` (pixels) that pull tissue towards the distortion point.

    Sampling further out than each pixel contracts the texture around ``center_xy``; the pull
    vanishes at ``radii_xy[0]``, inside the lesion box.
    """
    dx, dy = x - lesion.center_xy[0], y - lesion.center_xy[1]
    pull = 0.45 * _bump(np.hypot(dx, dy) / lesion.radii_xy[0])
    return (dx * pull).astype(np.float32), (dy * pull).astype(np.float32)


def draw_lymph_node(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    """Lymph node: smooth oval with a dark fatty hilum notched into one long side (kidney shape)."""
    region, x, y, out = _window(lesion, canvas)
    rx, ry = lesion.radii_xy
    node = _smooth_disc(_elliptic_radius(lesion, x, y), min(0.5, 2.0 / ry))
    # The hilum: a smaller ellipse centred near one long side, inside the node only.
    u, v = _body_axes(lesion, x, y)
    hilum = _smooth_disc(np.hypot(u / (0.45 * rx), (v - 0.75 * ry) / (0.55 * ry)), 0.5)
    out[region] = lesion.contrast * node * (0.9 - 1.1 * hilum)
    return out


def draw_skin_thickening(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    """Skin thickening: a bright skin band ``arc.size`` px thick along the contour arc, tapering at its ends."""
    assert lesion.arc is not None
    region, _, _, out = _window(lesion, canvas)
    along = np.sqrt(_bump((canvas.theta[region] - lesion.arc.theta) / lesion.arc.half_width))
    distance = canvas.edge_distance[region]
    band = np.clip(lesion.arc.size * along + 0.5 - distance, 0.0, 1.0) * (distance > 0)
    out[region] = lesion.contrast * band
    return out


def draw_nipple_retraction(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    """Nipple retraction: the dent is in the contour; this adds the retroareolar density pulling it in."""
    return _draw_density(lesion, canvas)


def draw_skin_retraction(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    """Skin retraction: the dent is in the contour; this adds the tethering lines pulling it inwards."""
    region, x, y, out = _window(lesion, canvas)
    out[region] = lesion.contrast * _lines(lesion, x, y, lambda t: 1.0 - 0.6 * t)
    return out


DRAWERS: dict[str, Callable[[Lesion, Canvas], np.ndarray]] = {
    "mass": draw_mass,
    "spiculated_mass": draw_spiculated_mass,
    "calcification": draw_calcification,
    "asymmetry": draw_asymmetry,
    "focal_asymmetry": draw_focal_asymmetry,
    "global_asymmetry": draw_global_asymmetry,
    "distortion": draw_distortion,
    "lymph_node": draw_lymph_node,
    "skin_thickening": draw_skin_thickening,
    "nipple_retraction": draw_nipple_retraction,
    "skin_retraction": draw_skin_retraction,
}
LESION_KINDS: tuple[str, ...] = tuple(DRAWERS)


def draw_lesion(lesion: Lesion, canvas: Canvas) -> np.ndarray:
    """Contribution ``(H, W)`` of any lesion, dispatched on ``lesion.kind``."""
    return DRAWERS[lesion.kind](lesion, canvas)
