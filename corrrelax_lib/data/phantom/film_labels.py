"""Burned-in film labels: a bright ``"L CC"``-style tag and a small bright marker outside the breast.

They are the classic trap for a naive breast detector (bright, compact, away from the
tissue), so they sit in a corner opposite the chest wall with a gap of at least
:data:`MIN_GAP_FRACTION` of the image width to the silhouette.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from corrrelax_lib.data.phantom.anatomy import BreastShape, inside_breast

MIN_GAP_FRACTION = 0.04  # label/marker to breast distance / image width
LABEL_BRIGHTNESS = 0.92
TEXT_BRIGHTNESS = 0.3
MARKER_BRIGHTNESS = 0.97
IntBox = tuple[int, int, int, int]  # (x0, y0, x1, y1), pixels, x1/y1 exclusive


@dataclass(frozen=True)
class FilmLabel:
    """Where the tag and the marker go, in the *image* frame (right breasts already mirrored)."""

    text: str
    label_xyxy: IntBox
    marker_xyxy: IntBox


def _clear_of_breast(shape: BreastShape, box: IntBox, gap: float) -> bool:
    """No point of ``box`` grown by ``gap`` pixels lies inside the breast (canonical frame)."""
    x0, y0, x1, y1 = box
    xs, ys = np.meshgrid(np.linspace(x0 - gap, x1 + gap, 12), np.linspace(y0 - gap, y1 + gap, 12))
    return not bool(inside_breast(shape, xs, ys).any())


def _mirror(box: IntBox, width: int) -> IntBox:
    return (width - box[2], box[1], width - box[0], box[3])


def plan_film_label(rng: np.random.Generator, shape: BreastShape, laterality: str) -> FilmLabel:
    """Put the tag in a free corner away from the chest wall and the marker in another free spot."""
    height, width = shape.height, shape.width
    gap = MIN_GAP_FRACTION * width
    margin = round(0.025 * width)
    label_w, label_h = round(0.2 * width), round(0.055 * height)
    marker = round(0.03 * height)
    right = width - margin
    top_label = (right - label_w, margin, right, margin + label_h)
    bottom_label = (right - label_w, height - margin - label_h, right, height - margin)
    corners = [top_label, bottom_label] if rng.random() < 0.5 else [bottom_label, top_label]
    label = next((box for box in corners if _clear_of_breast(shape, box, gap)), None)
    if label is None:
        raise RuntimeError("no free corner for the film label")
    # Marker: in the other corner if free, otherwise next to the tag.
    other = corners[1] if label == corners[0] else corners[0]
    marker_spots = [
        (right - marker, other[1], right, other[1] + marker),
        (label[0] - 2 * margin - marker, label[1], label[0] - 2 * margin, label[1] + marker),
    ]
    marker_box = next((box for box in marker_spots if _clear_of_breast(shape, box, gap)), None)
    if marker_box is None:
        raise RuntimeError("no free spot for the film marker")
    text = f"{laterality} {shape.view}"
    if laterality == "R":
        label, marker_box = _mirror(label, width), _mirror(marker_box, width)
    return FilmLabel(text, label, marker_box)


def draw_film_label(brightness: np.ndarray, label: FilmLabel) -> np.ndarray:
    """Burn the tag (bright rectangle, darker text) and marker (bright disc) into ``(H, W)`` brightness."""
    out = brightness.copy()
    x0, y0, x1, y1 = label.label_xyxy
    out[y0:y1, x0:x1] = LABEL_BRIGHTNESS
    (text_w, text_h), _ = cv2.getTextSize(label.text, cv2.FONT_HERSHEY_SIMPLEX, 1.0, 2)
    scale = min(0.8 * (x1 - x0) / text_w, 0.55 * (y1 - y0) / text_h)
    ink = np.zeros((y1 - y0, x1 - x0), np.uint8)
    origin = (round(0.1 * (x1 - x0)), round(0.5 * (y1 - y0) + 0.5 * text_h * scale))
    cv2.putText(ink, label.text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, 255, max(1, round(2 * scale)), cv2.LINE_AA)
    weight = ink.astype(np.float32) / 255.0
    out[y0:y1, x0:x1] = LABEL_BRIGHTNESS * (1.0 - weight) + TEXT_BRIGHTNESS * weight

    mx0, my0, mx1, my1 = label.marker_xyxy
    disc = np.zeros((my1 - my0, mx1 - mx0), np.uint8)
    radius = (mx1 - mx0) // 2
    cv2.circle(disc, (radius, radius), radius, 255, -1, cv2.LINE_AA)
    weight = disc.astype(np.float32) / 255.0
    out[my0:my1, mx0:mx1] = out[my0:my1, mx0:mx1] * (1.0 - weight) + MARKER_BRIGHTNESS * weight
    return out
