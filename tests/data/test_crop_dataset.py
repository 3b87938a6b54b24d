"""Crop dataset: shapes, per-(seed, epoch, index) determinism, evaluation crops, sampling weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from corrrelax_lib.data.crop_dataset import (
    CropDataset,
    authors_colour_augmentation,
    inverse_frequency_weights,
    restrict_to_labels,
    training_augmentation,
    weighted_sampler,
)
from corrrelax_lib.data.crops import extract_crop
from corrrelax_lib.data.image_store import PreprocessedImageStore
from corrrelax_lib.data.labels import LABELS, NO_FINDING
from corrrelax_lib.data.vindr import image_path
from corrrelax_lib.testing.dicom import breast_like_image, write_test_dicom

NAN = float("nan")
SIZE = 32
#: Boxes in original pixels; the phantoms have 10 background rows above and 20 columns left of the breast.
SAMPLES = pd.DataFrame(
    {
        "study_id": ["s1", "s1", "s1", "s2"],
        "image_id": ["a", "a", "b", "c"],
        "split": ["training"] * 4,
        "labels": [("Mass",), ("Mass", "Suspicious Calcification"), ("Asymmetries",), (NO_FINDING,)],
        "xmin": [30.0, 25.5, 40.0, NAN],
        "ymin": [40.0, 60.0, 30.0, NAN],
        "xmax": [50.0, 45.0, 60.0, NAN],
        "ymax": [55.0, 90.0, 70.0, NAN],
    }
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> PreprocessedImageStore:
    """Three small phantoms, the breast away from the top-left corner so that the ROI moves boxes."""
    root = tmp_path_factory.mktemp("data")
    for number, (study_id, image_id) in enumerate([("s1", "a"), ("s1", "b"), ("s2", "c")]):
        path = image_path(root, study_id, image_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_test_dicom(path, np.pad(breast_like_image(96 + 16 * number, 72), ((10, 0), (20, 0))), bits_stored=12)
    return PreprocessedImageStore(root, root / "cache")


def _dataset(store, *, train=True, seed=0, augmentation=None, samples=SAMPLES, labels=LABELS):
    return CropDataset(samples, store, labels, SIZE, train=train, seed=seed, augmentation=augmentation)


def test_items_are_crops_in_the_unit_range_and_multi_hot_targets(store):
    for train in (True, False):
        dataset = _dataset(store, train=train, augmentation=training_augmentation())
        assert len(dataset) == 4
        for index in range(len(dataset)):
            crop, target = dataset[index]
            assert crop.shape == (3, SIZE, SIZE) and crop.dtype == torch.float32
            assert 0 <= crop.min() and crop.max() <= 1
            assert target.dtype == torch.float32 and target.shape == (len(LABELS),)
    crop, target = dataset[1]
    assert target.tolist() == [0, 1, 1, 0, 0, 0, 0, 0]
    np.testing.assert_array_equal(dataset.targets[3], np.eye(len(LABELS), dtype=np.float32)[0])
    assert dataset.targets.shape == (4, len(LABELS))


def test_same_seed_epoch_and_index_give_the_same_item(store):
    dataset = _dataset(store, augmentation=training_augmentation())
    dataset.set_epoch(3)
    resumed = _dataset(store, augmentation=training_augmentation())  # a new process after a resume
    resumed.set_epoch(3)
    for index in range(len(dataset)):
        torch.testing.assert_close(dataset[index][0], resumed[index][0], rtol=0, atol=0)
    batches = [
        torch.cat([crops for crops, _ in DataLoader(dataset, batch_size=1, num_workers=workers)])
        for workers in (0, 2)
    ]
    torch.testing.assert_close(batches[0], batches[1], rtol=0, atol=0)


def test_another_epoch_or_seed_gives_another_crop(store):
    dataset = _dataset(store)
    first = [dataset[index][0] for index in range(len(dataset))]
    dataset.set_epoch(1)
    assert all(not torch.equal(a, dataset[index][0]) for index, a in enumerate(first))
    dataset.set_epoch(0)
    other_seed = _dataset(store, seed=1)
    assert all(not torch.equal(a, other_seed[index][0]) for index, a in enumerate(first))


def test_the_two_augmentations_share_flips_and_rotation_and_differ_in_colour():
    paper, authors = training_augmentation("paper"), training_augmentation("authors")
    geometry = [v2.RandomHorizontalFlip, v2.RandomVerticalFlip, v2.RandomRotation]
    assert [type(t) for t in paper.transforms] == [*geometry, v2.ColorJitter]
    assert [type(t) for t in authors.transforms] == [*geometry, v2.RandomApply]
    assert paper.transforms[-1].hue == (-0.05, 0.05)
    colour = authors.transforms[-1]
    assert colour.p == 0.5 and [type(t) for t in colour.transforms] == [v2.ColorJitter, v2.RandomChannelPermutation]
    assert colour.transforms[0].hue == (-0.1, 0.1)
    with pytest.raises(ValueError, match="augmentation"):
        training_augmentation("ours")  # type: ignore[arg-type]


def _unchanged_share(transform, crop: torch.Tensor, n_seeds: int) -> float:
    """Share of seeds for which ``transform`` returns ``crop`` exactly."""
    unchanged = []
    for seed in range(n_seeds):
        torch.manual_seed(seed)
        unchanged.append(torch.equal(transform(crop), crop))
    return float(np.mean(unchanged))


def test_the_authors_colour_step_is_all_or_nothing_with_probability_p():
    crop = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(0))
    # Jitter and permutation together half of the time, never one without the other (a lone jitter changes the crop).
    assert 0.4 < _unchanged_share(authors_colour_augmentation(), crop, 400) < 0.6
    assert _unchanged_share(authors_colour_augmentation(p=0.0), crop, 20) == 1.0
    assert _unchanged_share(training_augmentation("paper").transforms[-1], crop, 20) == 0.0  # the paper's: always


def test_the_authors_colour_step_permutes_the_channels():
    """Without jitter magnitudes left to blur it (applied with p=1), the step is a permutation of the channels."""
    crop = torch.stack([torch.full((4, 4), value) for value in (0.2, 0.5, 0.8)])
    step = authors_colour_augmentation(p=1.0)
    step.transforms[0] = v2.ColorJitter()  # no jitter: only the permutation is left
    orders = set()
    for seed in range(60):
        torch.manual_seed(seed)
        out = step(crop)
        orders.add(tuple(round(float(out[c, 0, 0]), 1) for c in range(3)))
        assert sorted(out[:, 0, 0].tolist()) == pytest.approx([0.2, 0.5, 0.8])
    assert len(orders) == 6  # every order of the three channels


def test_items_leave_the_global_torch_rng_alone(store):
    dataset = _dataset(store, augmentation=training_augmentation())
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    dataset[0]
    torch.testing.assert_close(torch.rand(3), expected)


def test_evaluation_crops_are_the_annotated_boxes_in_roi_pixels_in_every_epoch(store):
    dataset = _dataset(store, train=False, augmentation=training_augmentation())  # ignored in evaluation
    stored = store.get("s1", "a")
    x0, y0 = stored.roi[:2]
    assert (x0, y0) != (0, 0)
    expected = extract_crop(stored.image, (30.0 - x0, 40.0 - y0, 50.0 - x0, 55.0 - y0), SIZE)
    torch.testing.assert_close(dataset[0][0], expected, rtol=0, atol=0)
    first = [dataset[index][0] for index in range(len(dataset))]
    dataset.set_epoch(7)
    for index, crop in enumerate(first):
        torch.testing.assert_close(dataset[index][0], crop, rtol=0, atol=0)


def test_reference_area_defaults_to_the_median_box_area(store):
    assert _dataset(store).reference_area == 19.5 * 30.0  # areas 300, 585, 800


def test_samples_without_any_of_the_labels_are_refused(store):
    with pytest.raises(ValueError, match="restrict_to_labels"):
        _dataset(store, labels=("Mass",))


def test_inverse_frequency_weights_by_hand():
    weights = inverse_frequency_weights([("A",), ("A",), ("A",), ("B",)], ["A", "B"])
    np.testing.assert_allclose(weights, np.array([1 / 3, 1 / 3, 1 / 3, 1]) / 2)
    assert weights.sum() == pytest.approx(1.0)


def test_a_multi_label_sample_takes_its_rarest_label():
    # A in 3 samples, B in 2: the (A, B) sample weighs 1/2, not 1/3.
    weights = inverse_frequency_weights([("A",), ("A",), ("A", "B"), ("B",)], ["A", "B"])
    np.testing.assert_allclose(weights, np.array([1 / 3, 1 / 3, 1 / 2, 1 / 2]) / (5 / 3))


def test_the_authors_rule_sums_a_multi_label_samples_inverse_frequencies():
    # A in 3 samples, B in 2: the (A, B) sample weighs 1/3 + 1/2 = 5/6 (max: 1/2); the others as with max.
    labels_per_sample = [("A",), ("A",), ("A", "B"), ("B",)]
    weights = inverse_frequency_weights(labels_per_sample, ["A", "B"], rule="sum")
    np.testing.assert_allclose(weights, np.array([1 / 3, 1 / 3, 5 / 6, 1 / 2]) / 2)
    # Single-label samples: the two rules agree.
    single = [("A",), ("A",), ("B",)]
    np.testing.assert_array_equal(inverse_frequency_weights(single, ["A", "B"], rule="sum"),
                                  inverse_frequency_weights(single, ["A", "B"], rule="max"))
    with pytest.raises(ValueError, match="rule"):
        inverse_frequency_weights(single, ["A", "B"], rule="mean")  # type: ignore[arg-type]


def test_sampler_draws_with_the_rule_it_is_given(store):
    dataset = _dataset(store)
    by_rule = {rule: np.bincount(np.concatenate([list(weighted_sampler(dataset, 0, epoch, rule))
                                                 for epoch in range(300)]), minlength=4) / (300 * 4)
               for rule in ("max", "sum")}
    # Sample 1 carries Mass (in 2 samples) and its calcification (in 1): 1 (max) or 1.5 (sum) of 3.5 or 4.
    np.testing.assert_allclose(by_rule["max"], np.array([1 / 2, 1, 1, 1]) / 3.5, atol=0.04)
    np.testing.assert_allclose(by_rule["sum"], np.array([1 / 2, 3 / 2, 1, 1]) / 4, atol=0.04)


def test_labels_outside_the_model_outputs_are_ignored():
    weights = inverse_frequency_weights([("A", "C"), ("A",), ("C",)], ["A", "B"])
    np.testing.assert_allclose(weights, [0.5, 0.5, 0.0])
    with pytest.raises(ValueError, match="no sample"):
        inverse_frequency_weights([("C",)], ["A"])


def test_sampler_is_reproducible_for_a_seed_and_epoch(store):
    dataset = _dataset(store)
    draws = list(weighted_sampler(dataset, seed=0, epoch=2))
    assert len(draws) == len(dataset) and set(draws) <= set(range(len(dataset)))
    assert list(weighted_sampler(dataset, seed=0, epoch=2)) == draws
    many = [list(weighted_sampler(dataset, seed=0, epoch=epoch)) for epoch in range(200)]
    assert any(epoch_draws != draws for epoch_draws in many)
    # Mass is in 2 samples, every other label in 1: weights 1/2, 1 (its calcification), 1, 1.
    frequencies = np.bincount(np.concatenate(many), minlength=4) / (200 * 4)
    np.testing.assert_allclose(frequencies, np.array([1 / 2, 1, 1, 1]) / 3.5, atol=0.05)


def test_restrict_to_labels_keeps_and_cuts_down_the_label_tuples():
    subset = restrict_to_labels(SAMPLES, ["Suspicious Calcification", "Asymmetries"])
    assert subset["labels"].tolist() == [("Suspicious Calcification",), ("Asymmetries",)]
    assert subset["image_id"].tolist() == ["a", "b"] and subset.index.tolist() == [0, 1]
    assert SAMPLES["labels"][1] == ("Mass", "Suspicious Calcification")  # the input is left alone
