"""CLAHE fusion: OpenCV's algorithm at a histogram depth chosen from the data (§3.1)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from corrrelax_lib.preprocess import apply_clahe, fuse_clahe
from corrrelax_lib.preprocess.clahe import clahe_effect, distinct_levels, histogram_bits, opencv_clahe_8bit


def low_contrast_image() -> np.ndarray:
    """Textured ramp squeezed into 5% of the range: 8-bit quantisation would keep ~13 levels."""
    rows, cols = np.mgrid[0:512, 0:512]
    texture = np.sin(rows / 7.0) * np.cos(cols / 11.0)
    return (0.40 + 0.04 * (rows + cols) / 1022 + 0.01 * texture).astype(np.float32)


def textured_image(height: int, width: int, bits_stored: int, seed: int = 0) -> np.ndarray:
    """Smooth random "tissue" over a ramp, quantised to ``bits_stored`` bits and scaled to [0, 1].

    Like a detector image min-max scaled by ``read_mammogram``: ``2**bits_stored`` evenly spaced levels.
    """
    rng = np.random.default_rng(seed)
    coarse = rng.standard_normal((max(2, height // 32), max(2, width // 32))).astype(np.float32)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)  # blobs ~32 px across
    texture /= np.abs(texture).max()
    ramp = np.linspace(0.25, 0.75, width, dtype=np.float32)[None, :]
    image = np.clip(ramp + 0.2 * texture, 0.0, 1.0)
    levels = np.round((image - image.min()) / (image.max() - image.min()) * (2**bits_stored - 1))
    return (levels / (2**bits_stored - 1)).astype(np.float32)


def test_fused_channels_are_original_then_each_clip_limit():
    image = low_contrast_image()
    fused = fuse_clahe(image, clip_limits=(1.0, 2.0), tile_grid=8)
    assert fused.shape == (512, 512, 3) and fused.dtype == np.float32
    np.testing.assert_array_equal(fused[..., 0], image)
    np.testing.assert_allclose(fused[..., 1], apply_clahe(image, 1.0, 8))
    np.testing.assert_allclose(fused[..., 2], apply_clahe(image, 2.0, 8))
    assert 0.0 <= fused.min() and fused.max() <= 1.0


@pytest.mark.parametrize("shape", [(256, 192), (301, 250), (240, 203)], ids=["multiple-of-8", "odd", "one-side-odd"])
@pytest.mark.parametrize("clip_limit", [1.0, 2.0, 4.0])
def test_eight_bit_histogram_is_opencvs_8_bit_clahe(shape, clip_limit):
    """At 8 bits, the same algorithm as cv2.createCLAHE (padding, clipping, redistribution, interpolation)."""
    image = textured_image(*shape, bits_stored=8, seed=shape[1])
    ours = apply_clahe(image, clip_limit, bits=8)
    opencv = opencv_clahe_8bit(image, clip_limit)
    # OpenCV rounds its look-up tables to 8 bits, ours keeps them in floating point: one grey level apart at most.
    assert np.abs(ours - opencv).max() <= 1 / 255 + 1e-6
    assert np.abs(ours - opencv).mean() < 0.5 / 255  # rounding alone


def test_histogram_depth_is_bounded_by_the_data_levels_and_the_tile_area():
    for bits_stored in (12, 14):
        image = textured_image(2048, 2048, bits_stored=bits_stored)  # tiles of 65 536 pixels would allow 15 bits
        bits = histogram_bits(image)
        assert 2**bits <= distinct_levels(image) < 2 ** (bits + 1) <= 2 ** (bits_stored + 1)
    phantom = textured_image(640, 500, bits_stored=16)  # tiles of 5 000 pixels: about 2 pixels per bin at 11 bits
    assert distinct_levels(phantom) > 2**12 and histogram_bits(phantom) == 11
    assert histogram_bits(phantom, tile_grid=4) == 13
    assert histogram_bits(textured_image(640, 500, bits_stored=6)) == 8  # never below OpenCV's 8 bits
    assert histogram_bits(np.zeros((16, 16), np.float32)) == 8


def test_twelve_bit_image_at_full_resolution_is_equalised_like_opencv_8_bit():
    """A 12-bit source on 15-16-bit histograms fills every 8th-16th bin: CLAHE must still equalise it."""
    image = textured_image(2048, 2048, bits_stored=12)
    clip_limits = (1.0, 2.0)
    effect = clahe_effect(image, fuse_clahe(image, clip_limits), np.ones(image.shape, bool), clip_limits)
    assert effect["ratio"].between(0.5, 2.0).all(), effect
    assert effect["ours"].is_monotonic_increasing and effect["ours"].iloc[1] > 1.2 * effect["ours"].iloc[0]


def test_phantom_sized_image_keeps_distinct_clip_limits():
    image = textured_image(640, 500, bits_stored=12)
    clip_limits = (1.0, 2.0)
    effect = clahe_effect(image, fuse_clahe(image, clip_limits), np.ones(image.shape, bool), clip_limits)
    assert effect["ours"].iloc[1] > 1.2 * effect["ours"].iloc[0] > 0.0, effect
    assert effect["ratio"].between(0.5, 2.0).all(), effect


def test_low_contrast_image_keeps_more_than_8_bits():
    assert histogram_bits(low_contrast_image()) > 8


def test_higher_clip_limit_gives_more_contrast():
    image = low_contrast_image()
    assert apply_clahe(image, 2.0).std() > apply_clahe(image, 1.0).std() > image.std()


def test_bits_outside_8_to_16_are_refused():
    with pytest.raises(ValueError, match="bits must be in"):
        apply_clahe(low_contrast_image(), 1.0, bits=17)


def test_zero_background_sets_the_clahe_channels_back_to_zero_where_the_8bit_original_is():
    """The authors' code: CLAHE lifts a black background to the grey of its first bin; they set it back to 0."""
    image = textured_image(256, 256, 12)
    image[:, :64] = 0.0  # black background
    image[:, 64:66] = 0.5 / 255  # still 0 in the authors' 8-bit original, uint8(255 × value)
    image[:, 66:68] = 1.0 / 255  # 1 there: not background
    kept = fuse_clahe(image, (1.0, 2.0))
    zero = fuse_clahe(image, (1.0, 2.0), background="zero")
    background = image < 1 / 255
    assert (kept[background, 1:] > 0).all()  # what CLAHE leaves
    assert (zero[background, 1:] == 0).all()
    np.testing.assert_array_equal(zero[~background], kept[~background])
    np.testing.assert_array_equal(zero[..., 0], image)  # the original channel is untouched
    with pytest.raises(ValueError, match="background"):
        fuse_clahe(image, (1.0,), background="black")  # type: ignore[arg-type]
