"""The MLDAM comparison: {baseline, MLDAM} × {no augmentation, augmentation} (Gonçalves 2021, §3.2.7, Tables 1–4).

Four models share one backbone, our crops, our training loop (:func:`~corrrelax_lib.training.loop.fit`:
focal loss, Adam, cosine annealing, weighted sampling) and one seed; they differ only in the head
(:class:`~corrrelax_lib.models.mldam.MLDAMClassifier` with or without attention) and in whether the
paper's augmentation (§3.2.4, :func:`paper_augmentation`) transforms the training crops. Each is an
artifact keyed by its configuration and arm, in ``<artifacts_dir>/models/mldam/<backbone>-<arm>-<fingerprint>/``::

    config.json      the TrainingConfig and the arm (the fingerprint names the folder)
    checkpoint.pt    last finished epoch, while training (resume point)
    model.pt         final weights, config, arm and history (written last, atomically)

A second call with the same configuration loads ``model.pt`` instead of training.

The score (:func:`finding_metrics`): the paper's task is binary (benign vs malignant, Eqs. 1–4); ours
is multi-label with per-label supports of 1–6 test crops on phantoms. We score the binary task the
multi-label outputs answer at the paper's threshold: *a crop shows a finding* when any finding label's
probability is at least 0.5, against the truth "not No Finding". Unlike a macro average over eight
labels, this task has enough positives and negatives in a small test split to be measured, and its
accuracy is not inflated by the true negatives of rare labels.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torchvision.transforms import v2

from corrrelax_lib.config import StudyConfig
from corrrelax_lib.data.crop_dataset import CropDataset
from corrrelax_lib.data.labels import NO_FINDING
from corrrelax_lib.io.artifacts import parameters_key
from corrrelax_lib.io.atomic import atomic_write_text
from corrrelax_lib.metrics.classification import per_label_metrics
from corrrelax_lib.models.mldam import MLDAMClassifier
from corrrelax_lib.training.checkpoint import load_checkpoint, save_checkpoint
from corrrelax_lib.training.config import TrainingConfig, study_training_config
from corrrelax_lib.training.loop import fit
from corrrelax_lib.training.predict import predict_logits
from corrrelax_lib.training.run import crop_datasets

#: Columns of :attr:`MLDAMExperiment.table`.
TABLE_COLUMNS: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "roc_auc", "training_seconds")


@dataclass(frozen=True)
class MLDAMArm:
    """One use case of the paper's §3.2.7.

    Attributes:
        key: folder-name part, e.g. ``"mldam-augmentation"``.
        title: the paper's column title, e.g. ``"MLDAM with Data Augmentation"``.
        attention: the MLDAM head (else the baseline).
        augmentation: the paper's augmentation on the training crops (else none).
    """

    key: str
    title: str
    attention: bool
    augmentation: bool


#: The paper's four use cases, in the column order of its Tables 1–8.
ARMS: tuple[MLDAMArm, ...] = (
    MLDAMArm("baseline", "Baseline", attention=False, augmentation=False),
    MLDAMArm("baseline-augmentation", "Baseline with Data Augmentation", attention=False, augmentation=True),
    MLDAMArm("mldam", "MLDAM", attention=True, augmentation=False),
    MLDAMArm("mldam-augmentation", "MLDAM with Data Augmentation", attention=True, augmentation=True),
)


@dataclass(frozen=True)
class MLDAMRun:
    """A trained arm and where its artifacts are.

    Attributes:
        arm: which use case.
        config: what was trained.
        directory: the run's artifact folder.
        model: the classifier in eval mode, on the CPU.
        history: one row per epoch (see :func:`~corrrelax_lib.training.loop.fit`).
    """

    arm: MLDAMArm
    config: TrainingConfig
    directory: Path
    model: MLDAMClassifier
    history: pd.DataFrame

    @property
    def training_seconds(self) -> float:
        """Seconds spent in the epochs when the model was trained (not when it was loaded)."""
        return float(self.history["seconds"].sum())


@dataclass(frozen=True)
class MLDAMExperiment:
    """The four trained arms and their scores on the test crops.

    Attributes:
        table: one row per arm (index: the paper's titles), columns :data:`TABLE_COLUMNS`.
        runs: the trained arms by title.
        test_set: the evaluation crops (test split).
        probabilities: ``(N, C)`` sigmoid outputs on ``test_set`` by title.
    """

    table: pd.DataFrame
    runs: dict[str, MLDAMRun]
    test_set: CropDataset
    probabilities: dict[str, np.ndarray]


def paper_augmentation() -> v2.Compose:
    """The paper's augmentation (§3.2.4) of a ``(3, S, S)`` crop in [0, 1].

    A random affine map with rotation uniform in ±10°, translation up to 5 % of the width and
    10 % of the height, scale in [0.95, 1.05] (empty corners filled with 0), then a horizontal
    flip with probability 0.5. No colour jitter, unlike our classifier's
    :func:`~corrrelax_lib.data.crop_dataset.training_augmentation`.
    """
    return v2.Compose([
        v2.RandomAffine(degrees=10.0, translate=(0.05, 0.1), scale=(0.95, 1.05),
                        interpolation=v2.InterpolationMode.BILINEAR),
        v2.RandomHorizontalFlip(p=0.5),
    ])


def mldam_training_config(config: StudyConfig, data_fingerprint: str) -> TrainingConfig:
    """The study's classifier config (:func:`~corrrelax_lib.training.config.study_training_config`)
    with the MLDAM section's backbone, epochs and learning rate.

    Args:
        config: the study; reads what ``study_training_config`` reads and its ``mldam`` section.
        data_fingerprint: the annotations' sha256.
    """
    return dataclasses.replace(
        study_training_config(config, data_fingerprint), backbone=config.mldam.backbone,
        epochs=config.mldam.epochs, learning_rate=config.mldam.learning_rate,
    )


def mldam_run_directory(artifacts_dir: str | os.PathLike[str], config: TrainingConfig, arm: MLDAMArm) -> Path:
    """``<artifacts_dir>/models/mldam/<backbone>-<arm key>-<fingerprint of config and arm>``."""
    fingerprint = parameters_key({"config": config.fingerprint(), "arm": dataclasses.asdict(arm)})
    return Path(artifacts_dir) / "models" / "mldam" / f"{config.backbone}-{arm.key}-{fingerprint}"


def build_mldam_model(config: TrainingConfig, arm: MLDAMArm, *, weights: str | None = None) -> MLDAMClassifier:
    """The untrained model of ``arm``, initialised from ``config.seed``, for ``config.crop_size`` inputs.

    ``weights`` is the backbone's torchvision weights spec (``config.weights`` to train); the
    default ``None`` builds without downloading, for loading a saved state dict.
    """
    torch.manual_seed(config.seed)
    return MLDAMClassifier(config.backbone, len(config.labels), weights=weights, attention=arm.attention,
                           input_size=config.crop_size)


def train_mldam_arm(
    config: TrainingConfig, arm: MLDAMArm, samples: pd.DataFrame, data_root: str | os.PathLike[str],
    artifacts_dir: str | os.PathLike[str], *, progress: bool = False,
) -> MLDAMRun:
    """Load ``arm`` trained under ``config`` if it finished, else train it (resuming an interrupted run).

    Args:
        config: the training protocol; ``config.weights`` initialises the backbone.
        arm: head and augmentation.
        samples: :func:`corrrelax_lib.data.vindr.finding_samples` of both splits restricted to ``config.labels``.
        data_root: dataset root (VinDr-Mammo layout).
        artifacts_dir: the profile's artifact folder.
        progress: a tqdm bar per epoch.
    """
    directory = mldam_run_directory(artifacts_dir, config, arm)
    final = directory / "model.pt"
    if not final.is_file():
        atomic_write_text(directory / "config.json",
                          json.dumps({"config": config.as_dict(), "arm": dataclasses.asdict(arm)}, indent=1) + "\n")
        train_set, _ = crop_datasets(samples, data_root, artifacts_dir, config)
        train_set.augmentation = paper_augmentation() if arm.augmentation else None
        model = build_mldam_model(config, arm, weights=config.weights)
        history = fit(model, train_set, config, directory / "checkpoint.pt", progress=progress)
        save_checkpoint(final, {"model": model.cpu().state_dict(), "config": config.as_dict(),
                                "arm": dataclasses.asdict(arm), "history": history.to_dict("records")})
        (directory / "checkpoint.pt").unlink(missing_ok=True)
    return load_mldam_run(directory)


def load_mldam_run(directory: str | os.PathLike[str]) -> MLDAMRun:
    """A finished arm from its folder (``model.pt``); the model is built without downloading weights."""
    directory = Path(directory)
    state = load_checkpoint(directory / "model.pt")
    config, arm = TrainingConfig.from_dict(state["config"]), MLDAMArm(**state["arm"])
    model = build_mldam_model(config, arm)
    model.load_state_dict(state["model"])
    return MLDAMRun(arm, config, directory, model.eval(), pd.DataFrame(state["history"]))


def finding_metrics(
    targets: np.ndarray, probabilities: np.ndarray, labels: Sequence[str], *, threshold: float = 0.5
) -> pd.Series:
    """Eqs. 1–4 of the paper for the binary task "the crop shows a finding" (positive) vs No Finding.

    A crop is predicted positive when any label other than No Finding reaches ``threshold``, i.e.
    its score, the largest finding-label probability, does; it is positive when its target is not
    No Finding. Undefined values are NaN (precision with no positive prediction; recall and
    ``roc_auc``, of the score, with one class absent).

    Args:
        targets: ``(N, C)`` multi-hot ground truth, columns in ``labels`` order.
        probabilities: ``(N, C)`` sigmoid outputs.
        labels: the ``C`` labels, one of them :data:`~corrrelax_lib.data.labels.NO_FINDING`.

    Returns:
        ``accuracy, precision, recall, f1, support`` (positive crops) and ``roc_auc``.

    >>> finding_metrics(np.array([[1, 0], [0, 1]]), np.array([[0.9, 0.2], [0.1, 0.7]]), ["No Finding", "Mass"]).f1
    np.float64(1.0)
    """
    truth = 1 - np.asarray(targets)[:, list(labels).index(NO_FINDING)]
    score = finding_score(probabilities, labels)
    return per_label_metrics(truth[:, None], score[:, None], ["finding"], threshold=threshold).loc["finding"]


def finding_score(probabilities: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """``(N,)`` probability that a crop shows a finding: the largest of its ``(N, C)`` finding-label probabilities."""
    findings = [column for column, label in enumerate(labels) if label != NO_FINDING]
    return np.asarray(probabilities)[:, findings].max(axis=1)


def run_mldam_experiment(
    config: TrainingConfig, samples: pd.DataFrame, data_root: str | os.PathLike[str],
    artifacts_dir: str | os.PathLike[str], *, progress: bool = False,
) -> MLDAMExperiment:
    """Train (or load) the four arms of :data:`ARMS` under ``config`` and score them on the test crops.

    Args:
        config: the shared protocol, e.g. :func:`mldam_training_config`; ``config.labels`` must
            include No Finding.
        samples: :func:`corrrelax_lib.data.vindr.finding_samples` of both splits restricted to ``config.labels``.
        data_root: dataset root (VinDr-Mammo layout).
        artifacts_dir: the profile's artifact folder.
        progress: a tqdm bar per epoch.

    Returns:
        The runs, the test crops' probabilities and a table indexed by the paper's titles with
        :func:`finding_metrics` at threshold 0.5 and each arm's ``training_seconds``.

    Example:
        >>> experiment = run_mldam_experiment(config, samples, data_root, "artifacts/tiny")  # doctest: +SKIP
        >>> experiment.table.loc["MLDAM", "f1"]  # doctest: +SKIP
    """
    _, test_set = crop_datasets(samples, data_root, artifacts_dir, config)
    runs, probabilities, rows = {}, {}, {}
    for arm in ARMS:
        run = train_mldam_arm(config, arm, samples, data_root, artifacts_dir, progress=progress)
        logits = predict_logits(run.model, test_set, batch_size=config.batch_size, device=config.device)
        run.model.cpu()
        runs[arm.title] = run
        probabilities[arm.title] = 1 / (1 + np.exp(-logits.astype(np.float64)))
        metrics = finding_metrics(test_set.targets, probabilities[arm.title], config.labels)
        rows[arm.title] = [*metrics[list(TABLE_COLUMNS[:-1])], run.training_seconds]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(TABLE_COLUMNS))
    table.index.name = "use case"
    return MLDAMExperiment(table, runs, test_set, probabilities)


def example_crops(experiment: MLDAMExperiment, n_per_class: int = 2) -> tuple[Tensor, list[int], list[str]]:
    """Test crops for the saliency figure, as the paper chose them (§3.2.8).

    ``n_per_class`` crops with a finding, then ``n_per_class`` No-Finding crops, each time those
    that the most arms classify correctly (all four where possible), ties in test-set order.

    Returns:
        ``(images, label_indices, row_titles)``: ``(2 n, 3, S, S)`` crops in [0, 1]; the label whose
        logit the saliency differentiates (a finding crop's first label, else No Finding);
        titles such as ``"test crop 7: Mass"``.
    """
    test_set = experiment.test_set
    labels, targets = list(test_set.labels), test_set.targets
    positive = targets[:, labels.index(NO_FINDING)] == 0
    correct = sum((finding_score(p, labels) >= 0.5) == positive for p in experiment.probabilities.values())
    chosen = []
    for has_finding in (True, False):
        candidates = np.flatnonzero(positive == has_finding)
        chosen += candidates[np.argsort(-correct[candidates], kind="stable")][:n_per_class].tolist()
    label_indices = [int(np.flatnonzero(targets[i])[0]) for i in chosen]
    images = torch.stack([test_set[i][0] for i in chosen])
    return images, label_indices, [f"test crop {i}: {labels[c]}" for i, c in zip(chosen, label_indices, strict=True)]
