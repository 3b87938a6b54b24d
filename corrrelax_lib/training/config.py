"""Everything that determines a trained classifier, and its fingerprint (paper §3.3)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from corrrelax_lib.data.labels import LABELS


@dataclass(frozen=True)
class TrainingConfig:
    """One training run. Defaults are the paper's (§3.3) except ``crop_size``/``epochs``, set by the profile.

    Attributes:
        backbone: a name from :data:`corrrelax_lib.models.backbones.BACKBONES`.
        labels: output labels, in model output order.
        dataset: dataset name; with ``data_fingerprint`` it identifies the training data.
        data_fingerprint: e.g. the annotation CSV's sha256, so other data retrain.
        weights: torchvision pretrained-weights spec (``"DEFAULT"``) or ``None`` (random init).
        crop_size: model input side, pixels (paper: 256).
        crop_scale: crop area as a multiple of the box area (paper: 0.05-5).
        crop_aspect: crop width / height (paper: 0.33-1.66).
        epochs: cosine-annealed epochs (paper: 50).
        batch_size: crops per step (paper: 48).
        learning_rate: Adam's initial rate (paper: 1e-3).
        final_learning_rate: cosine annealing's floor (paper: 1e-7).
        focal_alpha: the focal loss's α (paper: 0.95).
        focal_gamma: focusing exponent (paper: 2.5).
        focal_alpha_form: ``"alpha_t"`` (α on positives, 1 - α on negatives: Lin et al., the paper's
            text, the authors' code) or ``"printed"`` (α on both terms, Eq. 1 as printed, where α
            does nothing under Adam); see :mod:`corrrelax_lib.training.focal_loss`.
        clahe_clip_limits: CLAHE clip limits of the input channels (paper: 1.0, 2.0).
        clahe_tile_grid: CLAHE tiles per side (paper: 8).
        seed: seeds crops, augmentations, sampling, initialisation and dropout.
        device: ``"cpu"`` or ``"cuda"``; on CUDA training uses mixed precision (AMP).
        num_workers: DataLoader worker processes; results do not depend on it.
    """

    backbone: str
    labels: tuple[str, ...]
    dataset: str
    data_fingerprint: str = ""
    weights: str | None = None
    crop_size: int = 256
    crop_scale: tuple[float, float] = (0.05, 5.0)
    crop_aspect: tuple[float, float] = (0.33, 1.66)
    epochs: int = 50
    batch_size: int = 48
    learning_rate: float = 1e-3
    final_learning_rate: float = 1e-7
    focal_alpha: float = 0.95
    focal_gamma: float = 2.5
    focal_alpha_form: str = "alpha_t"
    clahe_clip_limits: tuple[float, ...] = (1.0, 2.0)
    clahe_tile_grid: int = 8
    seed: int = 0
    device: str = "cpu"
    num_workers: int = field(default=0, compare=False)

    def fingerprint(self) -> str:
        """12 hex digits identifying the result: every field except ``num_workers``."""
        fields = {key: value for key, value in self.as_dict().items() if key != "num_workers"}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples as lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingConfig:
        """Inverse of :meth:`as_dict`."""
        tuples = {"labels", "crop_scale", "crop_aspect", "clahe_clip_limits"}
        return cls(**{key: tuple(value) if key in tuples else value for key, value in values.items()})


def profile_training_config(parameters: Mapping[str, Any], data_fingerprint: str) -> TrainingConfig:
    """The classifier a book profile trains (chapter 04) and every later chapter explains.

    Args:
        parameters: a profile's (or a notebook's) parameters; reads ``backbone, dataset,
            pretrained_weights, crop_size, crop_scale, crop_aspect, epochs, batch_size, learning_rate,
            final_learning_rate, focal_alpha, focal_gamma, focal_alpha_form, clahe_clip_limits, clahe_tile_grid, seed,
            device, num_workers``.
        data_fingerprint: the annotations' sha256 (:func:`corrrelax_lib.data.vindr.findings_sha256`).
    """
    return TrainingConfig(
        backbone=parameters["backbone"], labels=LABELS, dataset=parameters["dataset"],
        data_fingerprint=data_fingerprint, weights=parameters["pretrained_weights"],
        crop_size=parameters["crop_size"], crop_scale=tuple(parameters["crop_scale"]),
        crop_aspect=tuple(parameters["crop_aspect"]), epochs=parameters["epochs"],
        batch_size=parameters["batch_size"], learning_rate=parameters["learning_rate"],
        final_learning_rate=parameters["final_learning_rate"], focal_alpha=parameters["focal_alpha"],
        focal_gamma=parameters["focal_gamma"], focal_alpha_form=parameters["focal_alpha_form"],
        clahe_clip_limits=tuple(parameters["clahe_clip_limits"]),
        clahe_tile_grid=parameters["clahe_tile_grid"], seed=parameters["seed"], device=parameters["device"],
        num_workers=parameters["num_workers"],
    )
