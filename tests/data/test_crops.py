"""Crop geometry: scales and aspect ratios of paper §3.3, centres, zero padding, bad boxes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torchvision.transforms import v2

from corrrelax_lib.data.crops import (
    evaluation_crop_box,
    extract_crop,
    median_box_area,
    normal_evaluation_box,
    sample_crop_box,
    sample_normal_crop_box,
)

DRAWS = 2000


def _area(box):
    return (box[2] - box[0]) * (box[3] - box[1])


def _aspect(box):
    return (box[2] - box[0]) / (box[3] - box[1])


def test_crop_scale_and_aspect_stay_in_the_paper_ranges_and_reach_both_ends():
    rng = np.random.default_rng(0)
    box = (100.0, 200.0, 140.0, 230.0)  # 40 x 30
    crops = [sample_crop_box(box, rng) for _ in range(DRAWS)]
    scales = np.array([_area(c) / _area(box) for c in crops])
    aspects = np.array([_aspect(c) for c in crops])
    assert 0.05 - 1e-9 <= scales.min() < 0.06 and 4.5 < scales.max() <= 5.0 + 1e-9
    assert 0.33 - 1e-9 <= aspects.min() < 0.35 and 1.6 < aspects.max() <= 1.66 + 1e-9
    # Log-uniform: zooming in and out are equally likely around the geometric midpoint 0.5.
    assert 0.45 < np.mean(scales < 0.5) < 0.55


def test_crop_is_centred_on_the_box_centre():
    rng = np.random.default_rng(1)
    box = (10.0, 20.0, 50.0, 40.0)
    for _ in range(100):
        xmin, ymin, xmax, ymax = sample_crop_box(box, rng)
        assert xmin < 30.0 < xmax and ymin < 30.0 < ymax
        assert (xmin + xmax) / 2 == pytest.approx(30.0) and (ymin + ymax) / 2 == pytest.approx(30.0)


def test_normal_crop_centres_lie_in_the_image_and_sizes_follow_the_reference_area():
    rng = np.random.default_rng(2)
    crops = np.array([sample_normal_crop_box((300, 200), 400.0, rng) for _ in range(DRAWS)])
    centre_x, centre_y = (crops[:, 0] + crops[:, 2]) / 2, (crops[:, 1] + crops[:, 3]) / 2
    assert (0 <= centre_x).all() and (centre_x < 200).all() and (0 <= centre_y).all() and (centre_y < 300).all()
    scales = (crops[:, 2] - crops[:, 0]) * (crops[:, 3] - crops[:, 1]) / 400.0
    assert 0.05 - 1e-9 <= scales.min() and scales.max() <= 5.0 + 1e-9


def test_evaluation_boxes():
    assert evaluation_crop_box((1, 2, 3, 4)) == (1.0, 2.0, 3.0, 4.0)
    assert normal_evaluation_box((100, 60), 400.0) == (20.0, 40.0, 40.0, 60.0)  # 20 x 20 square at the centre
    assert normal_evaluation_box((100, 60), 10_000.0) == (0.0, 0.0, 60.0, 100.0)  # clipped to the image


def test_median_box_area_skips_rows_without_a_box():
    samples = pd.DataFrame(
        {"xmin": [0, 0, np.nan, 0], "ymin": [0, 0, np.nan, 0], "xmax": [1, 2, np.nan, 10], "ymax": [1, 2, np.nan, 10]}
    )
    assert median_box_area(samples) == 4.0
    with pytest.raises(ValueError, match="no sample has a box"):
        median_box_area(samples.iloc[[2]])


@pytest.fixture
def image() -> np.ndarray:
    """(40, 50, 3) uint8 with distinct values per pixel and channel."""
    return (np.arange(40 * 50 * 3) % 251).astype(np.uint8).reshape(40, 50, 3)


def test_box_inside_the_image_gives_the_resized_pixels(image):
    crop = extract_crop(image, (10, 5, 30, 25), 20)  # same size: the pixels themselves
    expected = torch.from_numpy(image[5:25, 10:30]).permute(2, 0, 1).float() / 255
    assert crop.dtype == torch.float32 and crop.shape == (3, 20, 20)
    torch.testing.assert_close(crop, expected)
    resized = extract_crop(image, (10, 5, 30, 25), 8)
    expected_resized = v2.functional.resize(expected, [8, 8], antialias=True)
    torch.testing.assert_close(resized, expected_resized)
    assert 0 <= resized.min() and resized.max() <= 1


def test_float_box_is_rounded_outward(image):
    rounded = extract_crop(image, (10.4, 5.6, 29.2, 24.01), 20)
    torch.testing.assert_close(rounded, extract_crop(image, (10, 5, 30, 25), 20))


def test_float32_image_is_taken_as_is(image):
    as_float = image.astype(np.float32) / 255
    torch.testing.assert_close(extract_crop(as_float, (0, 0, 50, 40), 16), extract_crop(image, (0, 0, 50, 40), 16))


def test_box_over_the_edge_is_zero_padded_on_that_side(image):
    crop = extract_crop(image, (-10, 0, 10, 20), 20)  # left half outside the image
    assert (crop[:, :, :10] == 0).all()
    torch.testing.assert_close(crop[:, :, 10:], torch.from_numpy(image[0:20, 0:10]).permute(2, 0, 1).float() / 255)
    below = extract_crop(image, (0, 30, 20, 50), 20)  # bottom half outside
    assert (below[:, 10:] == 0).all() and (below[:, :10] > 0).any()


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ((5, 5, 5, 10), "zero area"),
        ((5, 10, 8, 4), "zero area"),
        ((60, 0, 70, 10), "entirely outside"),
        ((-20, -20, 0, 0), "entirely outside"),
        ((0, 0, float("nan"), 10), "non-finite"),
    ],
)
def test_bad_boxes_raise_naming_the_box(image, box, message):
    with pytest.raises(ValueError, match=message) as caught:
        extract_crop(image, box, 8)
    assert str(tuple(box)) in str(caught.value)


def test_zero_area_box_cannot_be_sampled():
    with pytest.raises(ValueError, match=r"\(1, 1, 1, 5\)"):
        sample_crop_box((1, 1, 1, 5), np.random.default_rng(0))
