"""CLAHE fusion: channel layout, 16-bit precision, stronger contrast at the higher clip limit."""

from __future__ import annotations

import numpy as np

from corrrelax_lib.preprocess import apply_clahe, fuse_clahe
from corrrelax_lib.preprocess.clahe import histogram_bits


def low_contrast_image() -> np.ndarray:
    """Textured ramp squeezed into 5% of the range: 8-bit quantisation would keep ~13 levels."""
    rows, cols = np.mgrid[0:512, 0:512]
    texture = np.sin(rows / 7.0) * np.cos(cols / 11.0)
    return (0.40 + 0.04 * (rows + cols) / 1022 + 0.01 * texture).astype(np.float32)


def test_fused_channels_are_original_then_each_clip_limit():
    image = low_contrast_image()
    fused = fuse_clahe(image, clip_limits=(1.0, 2.0), tile_grid=8)
    assert fused.shape == (512, 512, 3) and fused.dtype == np.float32
    np.testing.assert_array_equal(fused[..., 0], image)
    np.testing.assert_allclose(fused[..., 1], apply_clahe(image, 1.0, 8))
    np.testing.assert_allclose(fused[..., 2], apply_clahe(image, 2.0, 8))
    assert 0.0 <= fused.min() and fused.max() <= 1.0


def test_histogram_depth_follows_tile_area():
    assert histogram_bits(423 * 331) == 16  # a VinDr-Mammo tile keeps 16 bits
    assert histogram_bits(80 * 62) == 11  # a phantom tile
    assert histogram_bits(10) == 8


def test_clahe_keeps_16_bit_precision():
    equalised = apply_clahe(low_contrast_image(), clip_limit=2.0)
    assert len(np.unique(equalised)) > 256


def test_higher_clip_limit_gives_more_contrast():
    image = low_contrast_image()
    assert apply_clahe(image, 2.0).std() > apply_clahe(image, 1.0).std() > image.std()
