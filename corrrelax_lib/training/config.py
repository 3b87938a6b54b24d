"""Everything that determines a trained classifier, and its fingerprint (paper §3.3)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from corrrelax_lib.config import ImagePreprocessing, StudyConfig, config_from_dict
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.io.artifacts import parameters_key


@dataclass(frozen=True)
class TrainingConfig:
    """One training run. Defaults are the paper's (§3.3) except ``crop_size``/``epochs``, set by the profile.

    The options where the authors' code differs from the paper's text are those of
    :class:`~corrrelax_lib.config.ClassifierConfig` (its docstring says what each side does).

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
        focal_reduction: a batch's loss, ``"mean"`` or ``"sum"`` over its crops and labels (the authors' code).
        weight_decay: Adam's L2 weight decay (paper: none; the authors' code: 1e-5).
        sample_weight: ``"max"`` or ``"sum"`` of a crop's labels' inverse frequencies
            (:func:`~corrrelax_lib.data.crop_dataset.inverse_frequency_weights`).
        augmentation: ``"paper"`` or ``"authors"`` (:func:`~corrrelax_lib.data.crop_dataset.training_augmentation`).
        input_normalisation: ``"imagenet"`` or ``"none"``
            (:class:`~corrrelax_lib.models.classifier.MultiLabelClassifier`).
        head_output_bias: whether the head's last Linear has a bias.
        preprocessing: what every image went through (§3.1): VOI LUT, CLAHE clip limits and tiles,
            histogram depth, background.
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
    focal_alpha_form: Literal["alpha_t", "printed"] = "alpha_t"
    focal_reduction: Literal["mean", "sum"] = "mean"
    weight_decay: float = 0.0
    sample_weight: Literal["max", "sum"] = "max"
    augmentation: Literal["paper", "authors"] = "paper"
    input_normalisation: Literal["imagenet", "none"] = "imagenet"
    head_output_bias: bool = True
    preprocessing: ImagePreprocessing = field(default_factory=ImagePreprocessing)
    seed: int = 0
    device: str = "cpu"
    num_workers: int = field(default=0, compare=False)

    def fingerprint(self) -> str:
        """12 hex digits identifying the result: every field except ``num_workers``."""
        fields = {key: value for key, value in self.as_dict().items() if key != "num_workers"}
        return parameters_key(fields)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples as lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainingConfig:
        """Inverse of :meth:`as_dict` (each value checked against its field's type).

        Raises:
            ConfigError: an unknown key or a value of the wrong type.
        """
        return config_from_dict(cls, values, "a training config")


def study_training_config(config: StudyConfig, data_fingerprint: str) -> TrainingConfig:
    """The classifier a study trains (chapter 04) and every later chapter explains.

    Args:
        config: the study; reads its ``classifier`` and ``preprocessing`` sections, ``data.dataset``,
            ``seed`` and ``device``.
        data_fingerprint: the annotations' sha256 (:func:`corrrelax_lib.data.vindr.findings_sha256`).
    """
    classifier = config.classifier
    return TrainingConfig(
        backbone=classifier.backbone, labels=LABELS, dataset=config.data.dataset, data_fingerprint=data_fingerprint,
        weights=classifier.pretrained_weights, crop_size=classifier.crop_size, crop_scale=classifier.crop_scale,
        crop_aspect=classifier.crop_aspect, epochs=classifier.epochs, batch_size=classifier.batch_size,
        learning_rate=classifier.learning_rate, final_learning_rate=classifier.final_learning_rate,
        focal_alpha=classifier.focal_alpha, focal_gamma=classifier.focal_gamma,
        focal_alpha_form=classifier.focal_alpha_form, focal_reduction=classifier.focal_reduction,
        weight_decay=classifier.weight_decay, sample_weight=classifier.sample_weight,
        augmentation=classifier.augmentation, input_normalisation=classifier.input_normalisation,
        head_output_bias=classifier.head_output_bias, preprocessing=ImagePreprocessing.of(config.preprocessing),
        seed=config.seed, device=config.device, num_workers=classifier.num_workers,
    )
