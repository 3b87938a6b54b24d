"""Breast geometry of a phantom: silhouette, nipple, contour dents and pectoral muscle (no pixels).

Everything is in the *canonical frame*: chest wall at ``x = 0``, breast extending to the
right, ``y`` down, pixel ``(row, col)`` centred at ``(col + 0.5, row + 0.5)``. Right
breasts are mirrored only when the image is rendered.

The contour is a star-shaped curve in polar coordinates around the *origin*
``(0, origin_y)`` on the chest wall, level with the nipple: polar angle ``theta = 0``
points at the nipple, ``theta < 0`` upwards. Its radius is an asymmetric superellipse,

    r0(theta) = ((|cos theta| / depth)^n + (|sin theta| / half_height)^n)^(-1/n),

with ``half_height`` = ``half_height_up`` above and ``half_height_down`` below the
origin, times a few low-order harmonics, plus the nipple bump, minus retraction dents.
An MLO breast has a large ``half_height_up`` so that its axillary part leaves the image
at the top, and a pectoral-muscle triangle in the upper chest-wall corner.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

NIPPLE_HALF_WIDTH = 0.05  # radians, angular half-width of the nipple bump


@dataclass(frozen=True)
class Arc:
    """A stretch of the contour, ``theta +- half_width`` (radians) around the polar origin.

    ``size`` is in pixels: the indentation depth of a retraction dent, or the skin
    thickness of a skin thickening.
    """

    theta: float
    half_width: float
    size: float


@dataclass(frozen=True)
class BreastShape:
    """Silhouette parameters of one breast in the canonical frame; lengths in pixels."""

    view: str
    height: int
    width: int
    origin_y: float
    depth: float
    half_height_up: float
    half_height_down: float
    exponent: float
    harmonics: tuple[tuple[float, float], ...]  # (relative amplitude, phase) of cos(k theta + phase), k = 2, 3, ...
    nipple_protrusion: float
    dents: tuple[Arc, ...] = ()
    pectoral_top: float = 0.0  # muscle width along the top edge (0: no muscle, CC)
    pectoral_left: float = 0.0  # muscle height along the chest wall
    pectoral_bulge: float = 1.0  # edge x = pectoral_top * (1 - y / pectoral_left) ** pectoral_bulge

    def with_dent(self, dent: Arc) -> BreastShape:
        """The same breast with one more contour indentation (a retraction)."""
        return dataclasses.replace(self, dents=(*self.dents, dent))


def pixel_centres(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``x`` of shape ``(1, W)`` and ``y`` of shape ``(H, 1)``, pixels."""
    x = np.arange(width, dtype=np.float32)[None, :] + 0.5
    y = np.arange(height, dtype=np.float32)[:, None] + 0.5
    return x, y


def boundary_radius(shape: BreastShape, theta: np.ndarray) -> np.ndarray:
    """Contour radius ``r(theta)`` in pixels for polar angles ``theta`` (radians, any array shape)."""
    theta = np.asarray(theta, dtype=np.float64)
    sin = np.sin(theta)
    half_height = np.where(sin < 0, shape.half_height_up, shape.half_height_down)
    n = shape.exponent
    radius = ((np.abs(np.cos(theta)) / shape.depth) ** n + (np.abs(sin) / half_height) ** n) ** (-1.0 / n)
    # Low-order harmonics make every breast a little different.
    wobble = sum(
        amplitude * np.cos(k * theta + phase) for k, (amplitude, phase) in enumerate(shape.harmonics, start=2)
    )
    radius = radius * (1.0 + wobble) + shape.nipple_protrusion * np.exp(-((theta / NIPPLE_HALF_WIDTH) ** 2))
    for dent in shape.dents:
        radius = radius - dent.size * np.exp(-(((theta - dent.theta) / dent.half_width) ** 2))
    return radius


def polar_coordinates(shape: BreastShape, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Polar angle (radians) and distance (pixels) of points ``(x, y)`` from the shape origin."""
    dy = np.asarray(y, dtype=np.float64) - shape.origin_y
    x = np.asarray(x, dtype=np.float64)
    return np.arctan2(dy, x), np.hypot(x, dy)


def boundary_point(shape: BreastShape, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical-frame ``(x, y)`` pixels of the contour at polar angles ``theta``."""
    radius = boundary_radius(shape, theta)
    return radius * np.cos(theta), shape.origin_y + radius * np.sin(theta)


def inside_breast(shape: BreastShape, x: np.ndarray, y: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Whether points lie inside the silhouette, at least ``margin`` pixels (radially) from the contour."""
    theta, distance = polar_coordinates(shape, x, y)
    return (np.asarray(x) >= 0) & (distance <= boundary_radius(shape, theta) - margin)


def pectoral_edge_x(shape: BreastShape, y: np.ndarray) -> np.ndarray:
    """x (pixels) of the pectoral-muscle edge at heights ``y``; 0 where there is no muscle."""
    if shape.pectoral_top <= 0:
        return np.zeros_like(np.asarray(y, dtype=np.float64))
    fraction_left = np.clip(1.0 - np.asarray(y, dtype=np.float64) / shape.pectoral_left, 0.0, 1.0)
    return shape.pectoral_top * fraction_left**shape.pectoral_bulge


def inside_pectoral(shape: BreastShape, x: np.ndarray, y: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Whether points lie on the pectoral muscle or within about ``margin`` pixels of it."""
    edge = pectoral_edge_x(shape, np.asarray(y, dtype=np.float64) - margin)
    return (edge > 0) & (np.asarray(x) < edge + margin)


def top_edge_crossing_x(shape: BreastShape) -> float:
    """x (pixels) where the contour leaves the image through its top edge (0 if it does not)."""
    theta = np.linspace(-np.pi / 2, 0.0, 1441)
    x, y = boundary_point(shape, theta)
    outside = np.flatnonzero(y < 0)
    return float(x[outside[-1]]) if outside.size else 0.0


def plan_breast_shape(rng: np.random.Generator, view: str, height: int, width: int) -> BreastShape:
    """Draw the silhouette of one view: CC a half-ellipse-like dome, MLO taller with a pectoral muscle.

    >>> shape = plan_breast_shape(np.random.default_rng(0), "MLO", 640, 512)
    >>> bool(inside_breast(shape, 0.5 * shape.depth, shape.origin_y))
    True
    """
    harmonics = tuple((float(rng.uniform(-0.015, 0.015)), float(rng.uniform(0, 2 * np.pi))) for _ in range(3))
    common = dict(
        view=view,
        height=height,
        width=width,
        exponent=float(rng.uniform(2.0, 2.5)),
        harmonics=harmonics,
        nipple_protrusion=float(rng.uniform(0.006, 0.012) * height),
    )
    if view == "CC":
        origin_y = rng.uniform(0.46, 0.54) * height
        room = min(origin_y, height - origin_y) - 0.04 * height
        return BreastShape(
            origin_y=float(origin_y),
            depth=float(rng.uniform(0.64, 0.78) * width),
            half_height_up=float(min(rng.uniform(0.38, 0.44) * height, room)),
            half_height_down=float(min(rng.uniform(0.38, 0.44) * height, room)),
            **common,
        )
    origin_y = rng.uniform(0.56, 0.63) * height
    shape = BreastShape(
        origin_y=float(origin_y),
        depth=float(rng.uniform(0.66, 0.78) * width),
        half_height_up=float(rng.uniform(0.8, 1.0) * height),
        half_height_down=float(min(rng.uniform(0.3, 0.36) * height, height - origin_y - 0.04 * height)),
        **common,
    )
    # The muscle spans part of the axillary top edge and runs down the chest wall.
    return dataclasses.replace(
        shape,
        pectoral_top=float(rng.uniform(0.5, 0.72) * top_edge_crossing_x(shape)),
        pectoral_left=float(rng.uniform(0.45, 0.62) * height),
        pectoral_bulge=float(rng.uniform(0.7, 1.0)),
    )
