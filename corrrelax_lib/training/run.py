"""Trained classifiers as artifacts keyed by their configuration (train once, reuse everywhere).

A run lives in ``<artifacts_dir>/models/<backbone>-<fingerprint>/``::

    config.json        the TrainingConfig (its fingerprint names the folder)
    checkpoint.pt      last finished epoch, while training (resume point)
    model.pt           the final weights, config and history (written last)
    history.csv        one row per epoch
    predictions.npz    test-crop targets and logits (written by evaluate_classifier)

Changing any parameter of the config changes the fingerprint and trains a new model; an
unchanged config loads ``model.pt``; an interrupted run resumes from ``checkpoint.pt``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from corrrelax_lib.data.crop_dataset import CropDataset, training_augmentation
from corrrelax_lib.data.crops import median_box_area
from corrrelax_lib.data.image_store import PreprocessedImageStore
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.io.atomic import atomic_path, atomic_write_text
from corrrelax_lib.metrics.classification import per_label_metrics
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.training.checkpoint import load_checkpoint, save_checkpoint
from corrrelax_lib.training.config import TrainingConfig
from corrrelax_lib.training.loop import EpochCallback, fit
from corrrelax_lib.training.predict import predict_logits


@dataclass(frozen=True)
class ClassifierRun:
    """A trained classifier and where its artifacts are.

    Attributes:
        config: what was trained.
        directory: the run's artifact folder.
        model: the classifier in eval mode, on the CPU.
        history: one row per epoch (see :func:`corrrelax_lib.training.loop.fit`).
    """

    config: TrainingConfig
    directory: Path
    model: MultiLabelClassifier
    history: pd.DataFrame


@dataclass(frozen=True)
class Evaluation:
    """A classifier's outputs on the evaluation crops of the test split (paper §4.1).

    Attributes:
        targets: ``(N, C)`` multi-hot labels.
        probabilities: ``(N, C)`` sigmoid outputs.
        table: :func:`~corrrelax_lib.metrics.classification.per_label_metrics` at threshold 0.5.
    """

    targets: np.ndarray
    probabilities: np.ndarray
    table: pd.DataFrame


def run_directory(artifacts_dir: str | os.PathLike[str], config: TrainingConfig) -> Path:
    """``<artifacts_dir>/models/<backbone>-<fingerprint>``."""
    return Path(artifacts_dir) / "models" / f"{config.backbone}-{config.fingerprint()}"


def crop_datasets(
    samples: pd.DataFrame, data_root: str | os.PathLike[str], artifacts_dir: str | os.PathLike[str],
    config: TrainingConfig,
) -> tuple[CropDataset, CropDataset]:
    """Training crops (random, augmented) and evaluation crops (boxes, centre crops) of ``samples``.

    ``samples`` holds both splits (column ``split``) already restricted to ``config.labels``.
    No-Finding crops of both splits use the training boxes' median area as reference. The images
    come from the profile's cache of ``config.preprocessing``; training crops get ``config.augmentation``.
    """
    store = PreprocessedImageStore.in_artifacts(data_root, artifacts_dir, config.preprocessing)
    training = samples[samples["split"] == "training"].reset_index(drop=True)
    test = samples[samples["split"] == "test"].reset_index(drop=True)
    reference_area = median_box_area(training)
    common = {"store": store, "labels": config.labels, "crop_size": config.crop_size, "seed": config.seed,
              "reference_area": reference_area}
    train_set = CropDataset(training, train=True, scale_range=config.crop_scale, aspect_range=config.crop_aspect,
                            augmentation=training_augmentation(config.augmentation), **common)
    test_set = CropDataset(test, train=False, **common)
    return train_set, test_set


def train_classifier(
    config: TrainingConfig,
    samples: pd.DataFrame,
    data_root: str | os.PathLike[str],
    artifacts_dir: str | os.PathLike[str],
    *,
    progress: bool = True,
    on_epoch_end: EpochCallback | None = None,
    context: DistributedContext | None = None,
) -> ClassifierRun:
    """Load the run of ``config`` if it finished, else train it (resuming an interrupted one).

    Args:
        config: the run; its fingerprint names the artifact folder.
        samples: :func:`corrrelax_lib.data.vindr.finding_samples` restricted to ``config.labels``.
        data_root: dataset root (VinDr-Mammo layout).
        artifacts_dir: the profile's artifact folder.
        context: this process in a ``torchrun`` job (every rank calls this function; they train
            with DDP, see :func:`~corrrelax_lib.training.loop.fit`, and rank 0 writes the files).
    """
    context = context or DistributedContext()
    directory = run_directory(artifacts_dir, config)
    final = directory / "model.pt"
    if not final.is_file():
        if context.is_main:
            atomic_write_text(directory / "config.json", json.dumps(config.as_dict(), indent=1) + "\n")
        train_set, test_set = crop_datasets(samples, data_root, artifacts_dir, config)
        model = build_model(config)
        history = fit(model, train_set, config, directory / "checkpoint.pt", validation_set=test_set,
                      progress=progress and context.is_main, on_epoch_end=on_epoch_end, context=context)
        if context.is_main:
            with atomic_path(directory / "history.csv") as tmp:
                history.to_csv(tmp, index=False)
            save_checkpoint(final, {"model": model.cpu().state_dict(), "config": config.as_dict(),
                                    "history": history.to_dict("records")})
            (directory / "checkpoint.pt").unlink(missing_ok=True)
        context.barrier()
    return load_run(directory)


def build_model(config: TrainingConfig, *, pretrained: bool = True) -> MultiLabelClassifier:
    """The untrained classifier of ``config`` (backbone, normalisation, head bias), initialised from ``config.seed``.

    With ``pretrained=False`` the backbone's weights are not fetched (``config.weights`` is ignored),
    for loading a saved state dict.
    """
    torch.manual_seed(config.seed)
    return MultiLabelClassifier(config.backbone, len(config.labels), weights=config.weights if pretrained else None,
                                input_normalisation=config.input_normalisation,
                                output_bias=config.head_output_bias)


def load_run(directory: str | os.PathLike[str]) -> ClassifierRun:
    """A finished run from its folder (``model.pt``); the model is built without downloading weights."""
    directory = Path(directory)
    state = load_checkpoint(directory / "model.pt")
    config = TrainingConfig.from_dict(state["config"])
    model = build_model(config, pretrained=False)
    model.load_state_dict(state["model"])
    return ClassifierRun(config, directory, model.eval(), pd.DataFrame(state["history"]))


def evaluate_classifier(
    run: ClassifierRun, samples: pd.DataFrame, data_root: str | os.PathLike[str],
    artifacts_dir: str | os.PathLike[str], *, threshold: float = 0.5,
) -> Evaluation:
    """Per-label metrics of ``run`` on the test split's evaluation crops; logits cached in the run folder."""
    cache = run.directory / "predictions.npz"
    if cache.is_file():
        saved = np.load(cache)
        targets, logits = saved["targets"], saved["logits"]
    else:
        _, test_set = crop_datasets(samples, data_root, artifacts_dir, run.config)
        logits = predict_logits(run.model, test_set, batch_size=run.config.batch_size, device=run.config.device)
        targets = test_set.targets
        with atomic_path(cache) as tmp, tmp.open("wb") as handle:
            np.savez(handle, targets=targets, logits=logits)
    probabilities = 1 / (1 + np.exp(-logits.astype(np.float64)))
    table = per_label_metrics(targets, probabilities, run.config.labels, threshold=threshold)
    return Evaluation(targets, probabilities, table)
