"""Example crops: square context around a box, clipped to the image; one list per label."""

from __future__ import annotations

import numpy as np

from corrrelax_lib.data.examples import crop_with_context, label_example_crops
from corrrelax_lib.data.image_store import PreprocessedImageStore
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.data.vindr import finding_samples, read_finding_annotations


def test_crop_is_a_square_of_twice_the_longer_side_at_context_half():
    image = np.arange(100 * 100).reshape(100, 100)
    crop = crop_with_context(image, (40, 45, 60, 55), context=0.5)  # 20 x 10 box centred at (50, 50)
    assert crop.shape == (40, 40)
    assert crop[0, 0] == image[30, 30]


def test_crop_is_clipped_at_the_image_border():
    crop = crop_with_context(np.zeros((100, 100)), (0, 0, 10, 10), context=0.5)
    assert crop.shape == (15, 15)


def test_every_label_gets_its_crops_from_the_store(tiny_data_root, tmp_path):
    samples = finding_samples(read_finding_annotations(tiny_data_root / "finding_annotations.csv"))
    store = PreprocessedImageStore(tiny_data_root, tmp_path / "cache")
    crops = label_example_crops(store, samples[samples["split"] == "training"], 2, seed=0)
    assert list(crops) == list(LABELS)
    assert all(len(v) == 2 and v[0].ndim == 3 and v[0].shape[2] == 3 for v in crops.values())
    # The crops are cut from the cached images the classifier reads, as floats in [0, 1].
    crop = crops[LABELS[0]][0]
    assert crop.dtype == np.float32 and 0.0 <= crop.min() and crop.max() <= 1.0
    assert len(list((tmp_path / "cache").glob("*.json"))) > 0
    np.testing.assert_allclose(crop * 255, np.round(crop * 255), atol=1e-4)  # the cache's 8-bit levels
