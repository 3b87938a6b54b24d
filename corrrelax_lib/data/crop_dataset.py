"""The classifier's dataset: one multi-label crop per sample, re-drawn every epoch (paper §3.3).

Training (paper §3.3): each annotated box is cropped around its centre at a random scale
(0.05–5 × its area) and aspect ratio (0.33–1.66), each No-Finding image at a random place
with the same distribution of sizes; the crop is resized to 256 × 256 (bilinear), flipped,
rotated and colour-jittered; samples are drawn with weights inverse to label frequency.
Evaluation: the annotated box, or a centre crop for No Finding, resized, nothing else.

Every random choice for item ``i`` in epoch ``e`` is seeded by ``(seed, e, i)`` alone, so an
epoch is the same with any number of DataLoader workers and after a resume.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, WeightedRandomSampler
from torchvision.transforms import v2

from corrrelax_lib.data.crops import (
    ASPECT_RANGE,
    SCALE_RANGE,
    evaluation_crop_box,
    extract_crop,
    median_box_area,
    normal_evaluation_box,
    sample_crop_box,
    sample_normal_crop_box,
)
from corrrelax_lib.data.image_store import PreprocessedImageStore
from corrrelax_lib.data.vindr import BOX_COLUMNS

#: Which training transforms: the paper's list (§3.3) with this project's magnitudes, or the authors' code's.
Augmentation = Literal["paper", "authors"]

#: How a multi-label sample's labels make its sampling weight: the rarest label's (this project) or their sum
#: (the authors' code).
SampleWeightRule = Literal["max", "sum"]


def training_augmentation(augmentation: Augmentation = "paper") -> v2.Compose:
    """The training transforms of a ``(3, S, S)`` float crop in [0, 1] (§3.3).

    Both start with horizontal and vertical flips, each with probability 0.5, and a rotation
    uniform in ±30° (bilinear, corners filled with 0), as the paper and the authors' code do. Then:

    * ``"paper"``: colour jitter of brightness, contrast and saturation (0.2 each) and hue (0.05) on
      every crop. The paper names these adjustments without magnitudes; these are ours.
    * ``"authors"``: :func:`authors_colour_augmentation`, the authors' code's colour step.

    The three channels are original, CLAHE 1.0 and CLAHE 2.0, not RGB, so saturation and hue
    jitter (and a channel permutation) mix the CLAHE versions rather than change a colour.
    """
    geometry = [
        v2.RandomHorizontalFlip(p=0.5),
        v2.RandomVerticalFlip(p=0.5),
        v2.RandomRotation(degrees=30.0, interpolation=v2.InterpolationMode.BILINEAR),
    ]
    if augmentation == "paper":
        return v2.Compose([*geometry, v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05)])
    if augmentation == "authors":
        return v2.Compose([*geometry, authors_colour_augmentation()])
    raise ValueError(f"augmentation must be 'paper' or 'authors', got {augmentation!r}")


def authors_colour_augmentation(p: float = 0.5) -> v2.RandomApply:
    """The authors' code's colour step: with probability ``p`` (theirs: 0.5) both colour jitter (brightness,
    contrast and saturation 0.2, hue 0.1) and a random permutation of the channels, else nothing."""
    return v2.RandomApply([v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.1),
                           v2.RandomChannelPermutation()], p=p)


def inverse_frequency_weights(
    labels_per_sample: Sequence[tuple[str, ...]], labels: Sequence[str], rule: SampleWeightRule = "max",
) -> np.ndarray:
    """Sampling weights inverse to label frequency in the whole sample set (paper §3.3).

    A label's frequency is the number of samples carrying it. A multi-label sample takes, over its
    labels, the maximum of ``1 / frequency`` (``rule="max"``, this project: the rarest label decides,
    so a sample is never drawn less often because it also carries a common label) or their sum
    (``rule="sum"``, the authors' code: every label adds). The paper says only that the inverse of the
    label frequency determines the weight. Labels not in ``labels`` are ignored; a sample with none
    of them gets weight 0.

    Args:
        labels_per_sample: labels of each of the ``N`` samples.
        labels: the labels that count (the model's outputs).
        rule: ``"max"`` or ``"sum"``.

    Returns:
        ``(N,)`` float64, summing to 1.

    Raises:
        ValueError: no sample carries any of ``labels``, or an unknown ``rule``.

    >>> inverse_frequency_weights([("A",), ("A",), ("A",), ("B",)], ["A", "B"]).round(3).tolist()
    [0.167, 0.167, 0.167, 0.5]
    >>> inverse_frequency_weights([("A",), ("A", "B"), ("B",)], ["A", "B"], rule="sum").tolist()  # 1/2, 1, 1/2
    [0.25, 0.5, 0.25]
    """
    if rule not in ("max", "sum"):
        raise ValueError(f"rule must be 'max' or 'sum', got {rule!r}")
    counted = [[label for label in sample if label in labels] for sample in labels_per_sample]
    frequency = {label: sum(label in sample for sample in counted) for label in labels}
    inverses = [[1.0 / frequency[label] for label in sample] for sample in counted]
    combine = max if rule == "max" else sum
    weights = np.array([combine(values) if values else 0.0 for values in inverses])
    if weights.sum() == 0:
        raise ValueError(f"no sample carries any of the labels {list(labels)}")
    return weights / weights.sum()


def restrict_to_labels(samples: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """Samples carrying at least one of ``labels``, their ``labels`` tuples cut down to those.

    For the paper's model-selection subset (§3.3: Mass, Suspicious Calcification,
    Asymmetries, Suspicious Lymph Node). The index is reset.
    """
    kept = samples["labels"].map(lambda sample: tuple(label for label in sample if label in labels))
    has_label = kept.map(bool)
    return samples.loc[has_label].assign(labels=kept[has_label]).reset_index(drop=True)


class CropDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """One crop and its multi-hot target per sample (paper §3.3).

    Args:
        samples: :func:`corrrelax_lib.data.vindr.finding_samples` rows (boxes in original
            pixels, NaN for No Finding); every sample needs one of ``labels``
            (see :func:`restrict_to_labels`).
        store: preprocessed images.
        labels: model outputs, in order.
        crop_size: side of the model input, pixels (paper: 256).
        train: random crops and ``augmentation``; else evaluation crops, nothing random.
        seed: with the epoch and the index, seeds every random choice; non-negative.
        scale_range: training crop area / box area (paper: 0.05–5).
        aspect_range: training crop width / height (paper: 0.33–1.66).
        augmentation: applied to training crops, e.g. :func:`training_augmentation`;
            ``None`` for none. Random draws must come from the global torch RNG (as in
            torchvision's v2 transforms), which is seeded per item.
        reference_area: pixels², the box area No-Finding crops are scaled to; defaults to
            :func:`median_box_area` of ``samples`` (pass the training set's to a test set).

    >>> dataset = CropDataset(samples, store, LABELS, 256, train=True, augmentation=augment)  # doctest: +SKIP
    >>> dataset.set_epoch(3)  # doctest: +SKIP
    >>> crop, target = dataset[0]  # doctest: +SKIP
    >>> crop.shape, target.shape  # doctest: +SKIP
    (torch.Size([3, 256, 256]), torch.Size([8]))
    """

    def __init__(
        self,
        samples: pd.DataFrame,
        store: PreprocessedImageStore,
        labels: Sequence[str],
        crop_size: int,
        *,
        train: bool,
        seed: int = 0,
        scale_range: tuple[float, float] = SCALE_RANGE,
        aspect_range: tuple[float, float] = ASPECT_RANGE,
        augmentation: Callable[[torch.Tensor], torch.Tensor] | None = None,
        reference_area: float | None = None,
    ) -> None:
        self.samples = samples.reset_index(drop=True)
        self.store = store
        self.labels = tuple(labels)
        self.crop_size = int(crop_size)
        self.train = train
        self.seed = int(seed)
        self.scale_range = scale_range
        self.aspect_range = aspect_range
        self.augmentation = augmentation
        self.reference_area = median_box_area(self.samples) if reference_area is None else float(reference_area)
        self.epoch = 0
        self._boxes = self.samples[BOX_COLUMNS].to_numpy(dtype=np.float64)
        self._targets = np.array(
            [[label in sample for label in self.labels] for sample in self.samples["labels"]], dtype=np.float32
        ).reshape(len(self.samples), len(self.labels))
        unlabelled = np.flatnonzero(self._targets.sum(axis=1) == 0)
        if len(unlabelled):
            raise ValueError(
                f"{len(unlabelled)} sample(s) (rows {unlabelled[:5].tolist()}…) carry none of the labels "
                f"{list(self.labels)}; select them with restrict_to_labels"
            )

    @property
    def targets(self) -> np.ndarray:
        """``(N, C)`` float32 multi-hot targets of all samples, columns in ``labels`` order."""
        return self._targets.copy()

    def set_epoch(self, epoch: int) -> None:
        """Draw the crops of ``epoch`` from now on.

        DataLoader workers hold a copy of the dataset: call this before creating the
        epoch's iterator (not with ``persistent_workers=True``).
        """
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(crop, target)``: ``(3, S, S)`` float32 in [0, 1] and ``(C,)`` float32 multi-hot."""
        study_id, image_id = self.samples.at[index, "study_id"], self.samples.at[index, "image_id"]
        stored = self.store.get(study_id, image_id)
        sequence = np.random.SeedSequence([self.seed, self.epoch, index])
        box = self._crop_box(index, stored.image.shape[:2], stored.roi, np.random.default_rng(sequence))
        try:
            crop = extract_crop(stored.image, box, self.crop_size)
        except ValueError as error:
            raise ValueError(f"sample {index} (image {image_id}): {error}") from error
        if self.train and self.augmentation is not None:
            # v2 transforms draw from the global torch RNG: seed it per item, then restore it.
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(_torch_seed(sequence.spawn(1)[0]))
                crop = self.augmentation(crop)
        return crop, torch.from_numpy(self._targets[index].copy())

    def _crop_box(
        self, index: int, image_hw: tuple[int, int], roi: tuple[int, int, int, int], rng: np.random.Generator
    ) -> tuple[float, float, float, float]:
        """The crop of sample ``index`` in ROI pixels."""
        box = self._boxes[index]
        if np.isnan(box).all():  # No Finding: no box
            if self.train:
                return sample_normal_crop_box(image_hw, self.reference_area, rng, self.scale_range, self.aspect_range)
            return normal_evaluation_box(image_hw, self.reference_area)
        x0, y0 = roi[:2]
        box_in_roi = (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0)
        if self.train:
            return sample_crop_box(box_in_roi, rng, self.scale_range, self.aspect_range)
        return evaluation_crop_box(box_in_roi)


def weighted_sampler(
    dataset: CropDataset, seed: int, epoch: int, rule: SampleWeightRule = "max",
) -> WeightedRandomSampler:
    """``len(dataset)`` draws with replacement, weights :func:`inverse_frequency_weights` by ``rule`` (paper §3.3).

    The draws depend only on ``(seed, epoch)``: make one sampler per epoch.
    """
    weights = torch.as_tensor(inverse_frequency_weights(dataset.samples["labels"].tolist(), dataset.labels, rule))
    generator = torch.Generator().manual_seed(_torch_seed(np.random.SeedSequence([seed, epoch])))
    return WeightedRandomSampler(weights, num_samples=len(dataset), replacement=True, generator=generator)


def _torch_seed(sequence: np.random.SeedSequence) -> int:
    """A 64-bit torch seed from a numpy seed sequence."""
    return int(sequence.generate_state(1, np.uint64)[0])
