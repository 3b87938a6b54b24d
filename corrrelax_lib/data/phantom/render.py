"""Pixels from a plan: breast tissue, lesions, mirroring, film labels, detector noise, quantisation."""

from __future__ import annotations

import numpy as np

from corrrelax_lib.data.phantom.anatomy import pixel_centres
from corrrelax_lib.data.phantom.dicom import to_stored_values
from corrrelax_lib.data.phantom.film_labels import draw_film_label
from corrrelax_lib.data.phantom.lesions import Lesion, distortion_displacement, draw_lesion
from corrrelax_lib.data.phantom.plan import ImagePlan
from corrrelax_lib.data.phantom.tissue import render_breast

DETECTOR_NOISE_SD = 0.006  # brightness units, white Gaussian noise over the whole detector


def _texture_pull(lesions: list[Lesion], height: int, width: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Summed texture displacement ``(dx, dy)`` of all architectural distortions, or ``None``."""
    distortions = [lesion for lesion in lesions if lesion.kind == "distortion"]
    if not distortions:
        return None
    x, y = pixel_centres(height, width)
    pulls = [distortion_displacement(lesion, x, y) for lesion in distortions]
    return sum(dx for dx, _ in pulls), sum(dy for _, dy in pulls)


def render_brightness(plan: ImagePlan) -> np.ndarray:
    """Displayed brightness of the image, ``(H, W)`` float32, breast bright, image frame (R mirrored).

    This is what a viewer shows after applying MONOCHROME1 inversion.
    """
    rng = plan.pixel_rng()
    lesions = [lesion for finding in plan.findings for lesion in finding.lesions]
    pull = _texture_pull(lesions, plan.height, plan.width)
    brightness, canvas = render_breast(plan.shape, plan.density, plan.texture_beta, rng, pull)
    for lesion in lesions:
        brightness += draw_lesion(lesion, canvas)
    if plan.laterality == "R":
        brightness = np.ascontiguousarray(brightness[:, ::-1])
    brightness = draw_film_label(brightness, plan.film_label)
    return brightness + DETECTOR_NOISE_SD * rng.standard_normal(brightness.shape, dtype=np.float32)


def render_phantom_image(plan: ImagePlan) -> np.ndarray:
    """Stored pixel values of one image, ``(H, W)`` uint16: exactly the DICOM's PixelData.

    MONOCHROME1 images are inverted (breast dark) and values use ``plan.encoding.bits_stored`` bits.

    >>> from corrrelax_lib.data.phantom import PhantomConfig, plan_phantom_dataset
    >>> plan = plan_phantom_dataset(PhantomConfig(n_patients=1, test_fraction=0.0))[0]
    >>> render_phantom_image(plan).shape == (plan.height, plan.width)
    True
    """
    return to_stored_values(render_brightness(plan), plan.encoding)
