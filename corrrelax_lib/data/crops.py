"""Crop geometry of the classifier's samples and crop extraction (paper §3.3).

Training crops are centred on an annotated box, with an area of ``scale`` times the box
area (``scale`` in 0.05–5) and an aspect ratio (width / height) in 0.33–1.66, drawn anew
every epoch. A No-Finding image has no box: a region of the same scale and aspect
distribution, applied to a reference area (the median finding-box area), is cropped at a
random place. Evaluation uses the annotated box itself, or a centre crop for No Finding.

Boxes are ``(xmin, ymin, xmax, ymax)`` in pixels, floats allowed, exclusive end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torchvision.transforms import v2

from corrrelax_lib.data.vindr import BOX_COLUMNS

BoxXYXY = tuple[float, float, float, float]

#: Paper §3.3: crop area between 0.05 and 5 times the annotated box area.
SCALE_RANGE: tuple[float, float] = (0.05, 5.0)
#: Paper §3.3: crop aspect ratio (width / height) between 0.33 and 1.66.
ASPECT_RANGE: tuple[float, float] = (0.33, 1.66)


def sample_crop_box(
    box_xyxy: Sequence[float],
    rng: np.random.Generator,
    scale_range: tuple[float, float] = SCALE_RANGE,
    aspect_range: tuple[float, float] = ASPECT_RANGE,
) -> BoxXYXY:
    """A training crop centred on the centre of an annotated box (paper §3.3).

    ``scale`` and ``aspect`` are drawn log-uniformly, so that zooming in by a factor and
    zooming out by the same factor are equally likely (a uniform draw on 0.05–5 would
    zoom out 99 % of the time); torchvision's ``RandomResizedCrop`` draws its aspect
    ratios the same way.

    Args:
        box_xyxy: the annotated box, pixels.
        rng: source of the draws.
        scale_range: bounds of crop area / box area.
        aspect_range: bounds of crop width / crop height.

    Returns:
        ``(xmin, ymin, xmax, ymax)``, pixels, with area ``scale × box area``; it may extend
        beyond the image (:func:`extract_crop` zero-pads).

    Raises:
        ValueError: a box of zero area or with non-finite coordinates.

    >>> [round(v, 1) for v in sample_crop_box((10, 10, 30, 20), np.random.default_rng(0))]
    [15.1, 5.4, 24.9, 24.6]
    """
    xmin, ymin, xmax, ymax = _checked_box(box_xyxy)
    area = (xmax - xmin) * (ymax - ymin)
    scale, aspect = _draw_scale_and_aspect(rng, scale_range, aspect_range)
    return _centred_box(0.5 * (xmin + xmax), 0.5 * (ymin + ymax), scale * area, aspect)


def sample_normal_crop_box(
    image_hw: tuple[int, int],
    reference_area: float,
    rng: np.random.Generator,
    scale_range: tuple[float, float] = SCALE_RANGE,
    aspect_range: tuple[float, float] = ASPECT_RANGE,
) -> BoxXYXY:
    """A training crop of a No-Finding image: a random region of finding-like size (paper §3.3).

    The scale and aspect distribution of :func:`sample_crop_box` is applied to
    ``reference_area``; the centre is drawn uniformly in the image.

    Args:
        image_hw: ``(height, width)`` of the (ROI-cropped) image, pixels.
        reference_area: area the scales refer to, pixels² (the median finding-box area,
            :func:`median_box_area`).
        rng: source of the draws.
        scale_range: bounds of crop area / ``reference_area``.
        aspect_range: bounds of crop width / crop height.

    Returns:
        ``(xmin, ymin, xmax, ymax)``, pixels; its centre lies in the image.
    """
    height, width = image_hw
    scale, aspect = _draw_scale_and_aspect(rng, scale_range, aspect_range)
    centre_x, centre_y = rng.uniform(0.0, width), rng.uniform(0.0, height)
    return _centred_box(centre_x, centre_y, scale * _checked_area(reference_area), aspect)


def evaluation_crop_box(box_xyxy: Sequence[float]) -> BoxXYXY:
    """The evaluation crop of a finding: the annotated box itself (paper §3.3).

    Raises:
        ValueError: a box of zero area or with non-finite coordinates.
    """
    return _checked_box(box_xyxy)


def normal_evaluation_box(image_hw: tuple[int, int], reference_area: float) -> BoxXYXY:
    """The evaluation crop of a No-Finding image: "a center crop of the mammography image" (paper §3.3).

    A square of area ``reference_area`` centred in the image, clipped to the image.

    Args:
        image_hw: ``(height, width)`` of the (ROI-cropped) image, pixels.
        reference_area: pixels² (the median finding-box area, :func:`median_box_area`).
    """
    height, width = image_hw
    side = math.sqrt(_checked_area(reference_area))
    crop_width, crop_height = min(side, width), min(side, height)
    return ((width - crop_width) / 2, (height - crop_height) / 2, (width + crop_width) / 2, (height + crop_height) / 2)


def median_box_area(samples: pd.DataFrame) -> float:
    """Median area of the annotated boxes, pixels² (No-Finding rows, without a box, are skipped).

    The ROI crop moves boxes but does not resize them, so original-image boxes give the
    area in ROI pixels too.

    Args:
        samples: :func:`corrrelax_lib.data.vindr.finding_samples` rows.

    Raises:
        ValueError: no row has a box.
    """
    boxes = samples[BOX_COLUMNS].dropna().to_numpy(dtype=np.float64)
    if len(boxes) == 0:
        raise ValueError("median_box_area: no sample has a box")
    return float(np.median((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))


def extract_crop(image: np.ndarray, box_xyxy: Sequence[float], size: int) -> torch.Tensor:
    """Cut ``box_xyxy`` out of ``image`` and resize it to ``size × size`` (bilinear, antialiased).

    The box is rounded outward to whole pixels. Where it extends beyond the image it is
    zero-padded, not clamped, so a crop keeps its centre and scale.

    Args:
        image: ``(h, w, 3)`` uint8 (0–255) or float32 in [0, 1].
        box_xyxy: ``(xmin, ymin, xmax, ymax)`` in ``image`` pixels.
        size: side of the output, pixels (paper: 256).

    Returns:
        ``(3, size, size)`` float32 in [0, 1].

    Raises:
        ValueError: a box of zero area, with non-finite coordinates, or entirely outside the image.

    >>> extract_crop(np.zeros((100, 80, 3), np.uint8), (-10, 20, 30.5, 60), 256).shape
    torch.Size([3, 256, 256])
    """
    xmin, ymin, xmax, ymax = _checked_box(box_xyxy)
    x0, y0, x1, y1 = math.floor(xmin), math.floor(ymin), math.ceil(xmax), math.ceil(ymax)
    height, width = image.shape[:2]
    if x1 <= 0 or y1 <= 0 or x0 >= width or y0 >= height:
        raise ValueError(f"box {tuple(box_xyxy)} lies entirely outside the {width} x {height} image")
    # Paste the part of the box inside the image into a zero canvas of the box's size.
    canvas = np.zeros((y1 - y0, x1 - x0, image.shape[2]), dtype=image.dtype)
    inside_x0, inside_y0, inside_x1, inside_y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    inside = image[inside_y0:inside_y1, inside_x0:inside_x1]
    canvas[inside_y0 - y0:inside_y1 - y0, inside_x0 - x0:inside_x1 - x0] = inside
    crop = torch.from_numpy(canvas).permute(2, 0, 1)
    crop = crop.float() / 255.0 if image.dtype == np.uint8 else crop.float()
    resized = v2.functional.resize(crop, [size, size], interpolation=v2.InterpolationMode.BILINEAR, antialias=True)
    return resized.clamp_(0.0, 1.0)


def _draw_scale_and_aspect(
    rng: np.random.Generator, scale_range: tuple[float, float], aspect_range: tuple[float, float]
) -> tuple[float, float]:
    """``(scale, aspect)``, each log-uniform in its range."""
    log_scale = rng.uniform(math.log(scale_range[0]), math.log(scale_range[1]))
    log_aspect = rng.uniform(math.log(aspect_range[0]), math.log(aspect_range[1]))
    return math.exp(log_scale), math.exp(log_aspect)


def _centred_box(centre_x: float, centre_y: float, area: float, aspect: float) -> BoxXYXY:
    """The box of ``area`` and ``aspect`` (width / height) centred on ``(centre_x, centre_y)``."""
    half_width, half_height = 0.5 * math.sqrt(area * aspect), 0.5 * math.sqrt(area / aspect)
    return (centre_x - half_width, centre_y - half_height, centre_x + half_width, centre_y + half_height)


def _checked_box(box_xyxy: Sequence[float]) -> BoxXYXY:
    """``box_xyxy`` as four floats; a ValueError naming it if it is empty or not finite."""
    xmin, ymin, xmax, ymax = (float(value) for value in box_xyxy)
    if not all(math.isfinite(value) for value in (xmin, ymin, xmax, ymax)):
        raise ValueError(f"box {tuple(box_xyxy)} has non-finite coordinates")
    if not (xmax > xmin and ymax > ymin):
        raise ValueError(f"box {tuple(box_xyxy)} has zero area")
    return xmin, ymin, xmax, ymax


def _checked_area(area: float) -> float:
    """A positive, finite area, else a ValueError."""
    area = float(area)
    if not (math.isfinite(area) and area > 0):
        raise ValueError(f"reference area {area} must be positive and finite")
    return area
