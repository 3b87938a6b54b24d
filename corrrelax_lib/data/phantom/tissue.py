"""Pixels of a lesion-free breast: fibroglandular texture, tapering periphery, skin line, pectoral muscle.

Brightness is a float "displayed value" in ``[0, 1]`` (breast bright on dark background),
in the canonical frame of :mod:`.anatomy`. The fibroglandular tissue is 1/f^beta noise
(power spectrum ~ f^-beta, beta ~ 3, the exponent measured on real mammograms), made
denser around the subareolar region and more or less abundant with BI-RADS density A-D.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from corrrelax_lib.data.phantom.anatomy import (
    BreastShape,
    boundary_radius,
    inside_breast,
    pectoral_edge_x,
    pixel_centres,
    polar_coordinates,
)

BACKGROUND = 0.04  # brightness of the empty detector
PERIPHERY_FLOOR = 0.09  # brightness above background at the breast edge (thin compressed tissue)
FAT = 0.32  # brightness above background of fully thick fatty tissue
GLAND_CONTRAST = 0.30  # extra brightness of fully glandular tissue
SKIN_BOOST = 0.06  # extra brightness of the skin line
PECTORAL = 0.66  # brightness above background of the pectoral muscle
SKIN_WIDTH_FRACTION = 0.004  # skin thickness / image height
PERIPHERY_WIDTH_FRACTION = 0.08  # width of the tapering outer zone / breast depth
RADIAL_STRETCH = 2.0  # tissue structures are this many times longer towards the nipple than across
#: Offset of the glandular threshold per BI-RADS density: A mostly fatty ... D extremely dense.
DENSITY_OFFSET = {"A": -1.6, "B": -0.8, "C": 0.0, "D": 0.8}


@dataclass(frozen=True)
class Canvas:
    """Per-pixel maps of one breast that lesion drawers share (canonical frame).

    Attributes:
        x: ``(1, W)`` pixel-centre x, pixels.
        y: ``(H, 1)`` pixel-centre y, pixels.
        theta: ``(H, W)`` polar angle around the shape origin, radians.
        edge_distance: ``(H, W)`` distance to the breast contour inside the breast, pixels (0 outside).
        texture: ``(H, W)`` unit-variance fibroglandular texture after any distortion pull.
    """

    x: np.ndarray
    y: np.ndarray
    theta: np.ndarray
    edge_distance: np.ndarray
    texture: np.ndarray


def power_law_noise(
    rng: np.random.Generator, size: tuple[int, int], beta: float, correlation_length: float
) -> np.ndarray:
    """Gaussian noise with power spectrum ``~ 1/f^beta``, flat below ``1/correlation_length``.

    Args:
        size: ``(H, W)`` in pixels.
        beta: spectral exponent (3 for breast tissue, 0 for white noise).
        correlation_length: largest blob size kept, pixels.

    Returns:
        ``(H, W)`` float32 field with zero mean and unit standard deviation.
    """
    height, width = size
    frequency = np.hypot(np.fft.fftfreq(height)[:, None], np.fft.rfftfreq(width)[None, :])
    amplitude = np.maximum(frequency, 1.0 / correlation_length) ** (-beta / 2.0)
    amplitude[0, 0] = 0.0
    spectrum = np.fft.rfft2(rng.standard_normal(size)) * amplitude
    field = np.fft.irfft2(spectrum, s=size)
    return ((field - field.mean()) / field.std()).astype(np.float32)


def radial_texture(rng: np.random.Generator, shape: BreastShape, beta: float, correlation_length: float) -> np.ndarray:
    """1/f^beta texture whose structures run radially towards the nipple, like ducts and ligaments.

    The noise is generated in polar coordinates around a point beyond the nipple (so lines
    converge towards it without a singular point inside the breast), with the radial axis
    compressed by :data:`RADIAL_STRETCH`, and resampled onto the ``(H, W)`` pixel grid (float32, unit std).
    """
    x, y = pixel_centres(shape.height, shape.width)
    dx, dy = 1.4 * shape.depth - x, y - shape.origin_y
    reference_radius = shape.depth  # radius at which angular and pixel scales agree
    angle = np.clip(np.arctan2(dy, dx), -np.pi / 2 - 0.2, np.pi / 2 + 0.2) + np.pi / 2 + 0.2
    map_u = (np.hypot(dx, dy) / RADIAL_STRETCH).astype(np.float32)
    map_v = (angle * reference_radius).astype(np.float32)
    size = (int(map_v.max()) + 2, int(map_u.max()) + 2)
    field = power_law_noise(rng, size, beta, correlation_length)
    return cv2.remap(field, map_u, map_v, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def edge_distance_map(inside: np.ndarray, pad: int) -> np.ndarray:
    """Euclidean distance (pixels) from each inside pixel to the contour, ``(H, W)`` float32.

    The mask is edge-replicated by ``pad`` pixels first, so the chest wall and the top of an
    MLO (where the breast leaves the image) are not mistaken for skin.
    """
    padded = cv2.copyMakeBorder(inside.astype(np.uint8), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance[pad:-pad, pad:-pad]


def glandular_prior(shape: BreastShape, theta: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Where glandular tissue concentrates, ``(H, W)`` in ``[0, 1]``: central/subareolar, behind the nipple."""
    relative_radius = radius / boundary_radius(shape, theta)
    return np.exp(-(((relative_radius - 0.55) / 0.3) ** 2) - (theta / 0.85) ** 2).astype(np.float32)


def render_breast(
    shape: BreastShape,
    density: str,
    beta: float,
    rng: np.random.Generator,
    texture_displacement: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, Canvas]:
    """Brightness of a lesion-free breast and the maps lesions are drawn with.

    Args:
        shape: silhouette (canonical frame).
        density: BI-RADS density letter ``"A"`` to ``"D"``.
        beta: texture spectral exponent (about 3).
        rng: the image's pixel generator.
        texture_displacement: optional ``(dx, dy)`` ``(H, W)`` pixel offsets at which the texture is
            sampled (architectural distortions pull tissue towards a point).

    Returns:
        ``(H, W)`` float32 brightness in ``[0, 1]`` and the :class:`Canvas`.
    """
    height, width = shape.height, shape.width
    x, y = pixel_centres(height, width)
    theta, radius = polar_coordinates(shape, x, y)
    inside = inside_breast(shape, x, y)
    periphery_width = PERIPHERY_WIDTH_FRACTION * shape.depth
    edge_distance = np.where(inside, edge_distance_map(inside, int(periphery_width) + 2), 0.0).astype(np.float32)

    texture = radial_texture(rng, shape, beta, correlation_length=0.3 * height)
    fine = radial_texture(rng, shape, 2.0, correlation_length=0.05 * height)
    if texture_displacement is not None:
        map_x = (x - 0.5 + texture_displacement[0]).astype(np.float32)
        map_y = (y - 0.5 + texture_displacement[1]).astype(np.float32)
        texture = cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        fine = cv2.remap(fine, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    # Glandular where texture + prior exceeds a density-dependent threshold (soft).
    prior = glandular_prior(shape, theta, radius)
    gland = 1.0 / (1.0 + np.exp(-1.8 * (texture + 2.2 * (prior - 0.45) + DENSITY_OFFSET[density])))
    tissue = FAT + GLAND_CONTRAST * gland + 0.04 * fine

    # The compressed breast thins towards its edge: brightness tapers to a faint floor.
    depth_fraction = np.minimum(edge_distance / periphery_width, 1.0)
    taper = depth_fraction * (2.0 - depth_fraction)
    brightness = BACKGROUND + inside * (PERIPHERY_FLOOR + (tissue - PERIPHERY_FLOOR) * taper)

    skin_width = max(1.5, SKIN_WIDTH_FRACTION * height)
    skin = inside * np.clip(skin_width + 0.5 - edge_distance, 0.0, 1.0)
    brightness = brightness + SKIN_BOOST * skin

    if shape.pectoral_top > 0:
        # Soft-edged muscle: weight 1 inside, ramping to 0 over ~2 px beyond its edge.
        muscle = np.clip((pectoral_edge_x(shape, y) - x) / 2.0 + 0.5, 0.0, 1.0) * inside
        muscle_brightness = BACKGROUND + PECTORAL + 0.03 * fine + 0.02 * texture
        brightness = brightness * (1.0 - muscle) + muscle_brightness * muscle

    canvas = Canvas(x=x, y=y, theta=theta.astype(np.float32), edge_distance=edge_distance, texture=texture)
    return brightness.astype(np.float32), canvas
