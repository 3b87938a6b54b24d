"""Training LEM with image-level labels only (Zhu et al. 2025, §3.3, Algorithm 1), cached as a run.

Each whole ROI image, resized to one fixed size, carries one 0/1 target per finding label (is
there a box of that label on the image?); boxes are never used. The loss of one batch is Eq. 8
without its weight decay term, which the optimiser applies::

    L = (1 - α) · BCE(GAP logits, t) + α · BCE(LEM logits, t) + β · L_sparse            (Eq. 7–8)
    L_sparse = L_elim + λ · L_pen                                                         (Eq. 6)

``α`` is 0 for the first ``gap_epochs`` epochs (GAP warm-up: extrema are random at first), then
grows linearly to 1 over ``ramp_epochs`` epochs (the paper: "gradually increased to 1").

A run lives in ``<artifacts_dir>/models/lem-<backbone>-<fingerprint>/`` (``config.json``,
``checkpoint.pt`` while training, ``model.pt`` and ``history.csv`` at the end, all written
atomically); an unchanged config loads ``model.pt``, an interrupted run resumes.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from corrrelax_lib.config import ImagePreprocessing, StudyConfig, config_from_dict
from corrrelax_lib.data.image_store import PreprocessedImageStore
from corrrelax_lib.data.labels import LABELS, NO_FINDING
from corrrelax_lib.data.vindr import FINDINGS_CSV, finding_samples, read_finding_annotations
from corrrelax_lib.io.artifacts import parameters_key
from corrrelax_lib.io.atomic import atomic_path, atomic_write_text
from corrrelax_lib.models.lem import LEMClassifier, extremum_masks, gap_logits, lem_logits, to_model_input
from corrrelax_lib.training.checkpoint import load_checkpoint, save_checkpoint


@dataclass(frozen=True)
class LEMConfig:
    """One LEM training run. Defaults are the paper's where its text gives them (§4.2), else ours.

    Attributes:
        backbone: ``"small_cnn"`` or ``"resnet18"`` (paper: ResNet-18 and larger).
        labels: the image-level labels, one score map each (ours: the 7 findings).
        dataset, data_fingerprint: identify the training data (the annotation CSV's sha256).
        weights: torchvision weights spec or ``None`` (paper: ImageNet).
        image_height, image_width: the fixed model input, pixels (the paper's size is lost from our copy).
        epochs: training epochs (paper: 400).
        gap_epochs: epochs with ``α = 0`` (GAP only) before LEM takes over.
        ramp_epochs: epochs over which ``α`` then grows linearly to 1; 0 switches at once.
        batch_size: images per step (paper: 32).
        learning_rate: Adam's initial rate.
        lr_step_epochs, lr_decay: the rate is multiplied by ``lr_decay`` every ``lr_step_epochs`` (paper: 8).
        weight_decay: the ``‖θ‖²`` regulariser of Eq. 8, as Adam's L2 weight decay.
        sparse_weight: ``β``, weight of the sparse loss in Eq. 8 (paper: "a very small value").
        penalty_factor: ``λ``, weight of the penalty loss inside the sparse loss (paper: 3).
        sparsity_threshold: ``ε``, non-extremal scores are free inside ``[-ε, ε]``.
        hflip: flip training images horizontally with probability 0.5 (paper: one of its augmentations).
        preprocessing: what the cached images went through (§3.1; the study's ``preprocessing`` section).
        seed: seeds initialisation, batch order and flips.
        device: ``"cpu"`` or ``"cuda"``.
        num_workers: DataLoader worker processes reading and resizing images; results do not depend on it.
    """

    backbone: str
    labels: tuple[str, ...]
    dataset: str
    data_fingerprint: str = ""
    weights: str | None = None
    image_height: int = 256
    image_width: int = 160
    epochs: int = 400
    gap_epochs: int = 10
    ramp_epochs: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    lr_step_epochs: int = 8
    lr_decay: float = 0.9
    weight_decay: float = 1e-4
    sparse_weight: float = 1e-3
    penalty_factor: float = 3.0
    sparsity_threshold: float = 0.1
    hflip: bool = True
    preprocessing: ImagePreprocessing = field(default_factory=ImagePreprocessing)
    seed: int = 0
    device: str = field(default="cpu", compare=False)
    num_workers: int = field(default=0, compare=False)

    @property
    def image_size(self) -> tuple[int, int]:
        """``(image_height, image_width)`` of the model input."""
        return self.image_height, self.image_width

    def fingerprint(self) -> str:
        """12 hex digits identifying the result: every field except ``device`` and ``num_workers``."""
        fields = {key: value for key, value in self.as_dict().items() if key not in ("device", "num_workers")}
        return parameters_key(fields)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields (tuples as lists)."""
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> LEMConfig:
        """Inverse of :meth:`as_dict` (each value checked against its field's type).

        Raises:
            ConfigError: an unknown key or a value of the wrong type.
        """
        return config_from_dict(cls, values, "a LEM config")


def study_lem_config(config: StudyConfig, data_fingerprint: str) -> LEMConfig:
    """The LEM run of a study: its ``lem`` section plus the shared data settings.

    Args:
        config: the study; reads its ``lem`` and ``preprocessing`` sections, ``data.dataset``, ``seed``,
            ``device`` and ``classifier.num_workers``.
        data_fingerprint: the annotations' sha256 (:func:`corrrelax_lib.data.vindr.findings_sha256`).
    """
    lem = config.lem
    height, width = lem.image_size
    return LEMConfig(
        backbone=lem.backbone, labels=tuple(label for label in LABELS if label != NO_FINDING),
        dataset=config.data.dataset, data_fingerprint=data_fingerprint, weights=lem.weights,
        image_height=height, image_width=width, epochs=lem.epochs, gap_epochs=lem.gap_epochs,
        ramp_epochs=lem.ramp_epochs, batch_size=lem.batch_size, learning_rate=lem.learning_rate,
        lr_step_epochs=lem.lr_step_epochs, lr_decay=lem.lr_decay, weight_decay=lem.weight_decay,
        sparse_weight=lem.sparse_weight, penalty_factor=lem.penalty_factor,
        sparsity_threshold=lem.sparsity_threshold, hflip=lem.hflip,
        preprocessing=ImagePreprocessing.of(config.preprocessing), seed=config.seed, device=config.device,
        num_workers=config.classifier.num_workers,
    )


@dataclass(frozen=True)
class LEMRun:
    """A trained LEM classifier and where its artifacts are.

    Attributes:
        config: what was trained.
        directory: the run's artifact folder.
        model: the classifier in eval mode, on the CPU.
        history: one row per epoch: ``epoch`` (1-based), ``alpha``, ``learning_rate``, the mean batch
            losses ``loss`` (Eq. 8), ``gap_bce``, ``lem_bce``, ``sparse`` (Eq. 6), and ``seconds``.
    """

    config: LEMConfig
    directory: Path
    model: LEMClassifier
    history: pd.DataFrame

    @property
    def training_seconds(self) -> float:
        """Wall-clock seconds of all training epochs (as measured when the run was trained)."""
        return float(self.history["seconds"].sum())


def image_targets(samples: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
    """One row per image with its image-level labels: is any box of the image of that label?

    Args:
        samples: :func:`corrrelax_lib.data.vindr.finding_samples` (one row per box or No-Finding image).
        labels: the target columns, in model output order.

    Returns:
        Columns ``study_id, image_id, split`` and one float 0/1 column per label, sorted by
        ``(study_id, image_id)``. Images without any of ``labels`` have all zeros.
    """
    rows = []
    for (study_id, image_id, split), group in samples.groupby(["study_id", "image_id", "split"], sort=True):
        found = {label for found_labels in group["labels"] for label in found_labels}
        rows.append({"study_id": study_id, "image_id": image_id, "split": split,
                     **{label: float(label in found) for label in labels}})
    return pd.DataFrame(rows, columns=["study_id", "image_id", "split", *labels])


class WholeImages(Dataset[tuple[Tensor, Tensor]]):
    """Whole ROI images resized to the model input, each with its image-level targets.

    Args:
        images: :func:`image_targets` rows (``study_id, image_id`` and one column per label).
        store: the preprocessed images.
        labels: the target columns, in model output order.
        image_size: ``(height, width)`` of the model input, pixels.
    """

    def __init__(
        self, images: pd.DataFrame, store: PreprocessedImageStore, labels: Sequence[str], image_size: tuple[int, int],
    ) -> None:
        self.images = images.reset_index(drop=True)
        self.store = store
        self.image_size = image_size
        self.targets = torch.tensor(self.images[list(labels)].to_numpy(np.float32))

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        """``(image, target)``: ``(3, H, W)`` uint8 (``round(255 × value)``) and ``(C,)`` float 0/1."""
        stored = self.store.get(self.images.at[index, "study_id"], self.images.at[index, "image_id"])
        image = torch.round(to_model_input(stored.image, self.image_size) * 255).to(torch.uint8)
        return image, self.targets[index]


def mixing_weight(epoch: int, gap_epochs: int, ramp_epochs: int) -> float:
    """``α`` of Eq. 8 in 0-based ``epoch``: 0 during the GAP warm-up, then up to 1 in ``ramp_epochs + 1`` steps.

    >>> [mixing_weight(epoch, gap_epochs=2, ramp_epochs=3) for epoch in range(7)]
    [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    """
    return float(min(max((epoch - gap_epochs + 1) / (ramp_epochs + 1), 0.0), 1.0))


def sparse_loss(scores: Tensor, targets: Tensor, *, penalty_factor: float = 3.0, threshold: float = 0.1) -> Tensor:
    """Eq. 6: ``L_elim + λ · L_pen``, averaged over images and classes; non-negative.

    - ``L_elim`` removes the wrong extrema: for a class the image has (``t = 1``) its negative local
      minima, for a class it lacks (``t = 0``) its positive local maxima; the ℓ1 norm of their scores.
    - ``L_pen`` keeps every other, non-extremal score inside ``[-ε, ε]``: the ℓ1 norm of the excess
      ``max(|S| - ε, 0)``.

    Both norms are divided by the ``h · w`` positions of the map. The extremum masks (Eq. 3–4)
    are constants; the gradient moves the scores. Our copy of the paper lost the formula: this is
    our reading of its prose ("eliminate the wrong extrema", "limit the non-extreme regions, make
    them fall within a range", ``ε`` "a threshold used to control the sparsity range").

    Args:
        scores: ``(N, C, h, w)`` score maps.
        targets: ``(N, C)`` 0/1 image-level labels.
        penalty_factor: ``λ`` (paper: 3).
        threshold: ``ε`` ≥ 0.

    >>> scores = torch.tensor([[[[2.0, 0.0, -1.0]]]])  # a positive maximum, a plain point, a negative minimum
    >>> sparse_loss(scores, torch.ones(1, 1), threshold=0.0).item()  # wrong: the minimum, |-1| / 3
    0.3333333432674408
    """
    positive_max, negative_min = extremum_masks(scores.detach())
    has_label = targets[:, :, None, None].bool()
    wrong = torch.where(has_label, negative_min, positive_max)
    elimination = (scores.abs() * wrong).mean((2, 3))
    plain = ~(positive_max | negative_min)
    penalty = ((scores.abs() - threshold).clamp_min(0) * plain).mean((2, 3))
    return (elimination + penalty_factor * penalty).mean()


def lem_loss(scores: Tensor, targets: Tensor, alpha: float, config: LEMConfig) -> tuple[Tensor, dict[str, float]]:
    """Eq. 8 without weight decay: ``(1 - α) · BCE_GAP + α · BCE_LEM + β · L_sparse`` of one batch.

    Returns:
        ``(loss, parts)``: the scalar loss and its terms ``gap_bce, lem_bce, sparse`` as floats.
    """
    gap_bce = F.binary_cross_entropy_with_logits(gap_logits(scores), targets)
    lem_bce = F.binary_cross_entropy_with_logits(lem_logits(scores), targets)
    sparse = sparse_loss(scores, targets, penalty_factor=config.penalty_factor, threshold=config.sparsity_threshold)
    loss = (1 - alpha) * gap_bce + alpha * lem_bce + config.sparse_weight * sparse
    return loss, {"gap_bce": gap_bce.item(), "lem_bce": lem_bce.item(), "sparse": sparse.item()}


def lem_run_directory(artifacts_dir: str | os.PathLike[str], config: LEMConfig) -> Path:
    """``<artifacts_dir>/models/lem-<backbone>-<fingerprint>``."""
    return Path(artifacts_dir) / "models" / f"lem-{config.backbone}-{config.fingerprint()}"


def train_lem(
    config: LEMConfig, data_root: str | os.PathLike[str], artifacts_dir: str | os.PathLike[str], *,
    progress: bool = False,
) -> LEMRun:
    """Load the LEM run of ``config`` if it finished, else train it on the training split (Algorithm 1).

    Args:
        config: the run; its fingerprint names the artifact folder.
        data_root: dataset root (VinDr-Mammo layout) with ``finding_annotations.csv``.
        artifacts_dir: the profile's artifact folder; preprocessed images come from its cache.
        progress: show a bar over epochs with the running loss.

    Example:
        >>> config = study_lem_config(study.config, findings_sha256(root))  # doctest: +SKIP
        >>> run = train_lem(config, root, "artifacts/tiny")  # doctest: +SKIP
        >>> run.training_seconds, run.history["lem_bce"].iloc[-1]  # doctest: +SKIP
    """
    directory = lem_run_directory(artifacts_dir, config)
    final = directory / "model.pt"
    if not final.is_file():
        atomic_write_text(directory / "config.json", json.dumps(config.as_dict(), indent=1) + "\n")
        samples = finding_samples(read_finding_annotations(Path(data_root) / FINDINGS_CSV))
        training = image_targets(samples, config.labels).query("split == 'training'")
        store = PreprocessedImageStore.in_artifacts(data_root, artifacts_dir, config.preprocessing)
        dataset = WholeImages(training, store, config.labels, config.image_size)
        torch.manual_seed(config.seed)
        model = LEMClassifier(config.backbone, len(config.labels), weights=config.weights)
        history = _fit(model, dataset, config, directory / "checkpoint.pt", progress)
        with atomic_path(directory / "history.csv") as tmp:
            history.to_csv(tmp, index=False)
        save_checkpoint(final, {"model": model.cpu().state_dict(), "config": config.as_dict(),
                                "history": history.to_dict("records")})
        (directory / "checkpoint.pt").unlink(missing_ok=True)
    return load_lem_run(directory)


def load_lem_run(directory: str | os.PathLike[str]) -> LEMRun:
    """A finished run from its folder (``model.pt``); the model is built without downloading weights."""
    directory = Path(directory)
    state = load_checkpoint(directory / "model.pt")
    config = LEMConfig.from_dict(state["config"])
    model = LEMClassifier(config.backbone, len(config.labels))
    model.load_state_dict(state["model"])
    return LEMRun(config, directory, model.eval(), pd.DataFrame(state["history"]))


def _fit(
    model: LEMClassifier, dataset: WholeImages, config: LEMConfig, checkpoint_path: Path, progress: bool,
) -> pd.DataFrame:
    """Adam with step decay over ``config.epochs``; a checkpoint after every epoch, resumed if present.

    Batch order and flips of epoch ``e`` depend on ``(seed, e)`` only, so a resumed run ends with
    the weights of an uninterrupted one (on CPU).
    """
    device = torch.device(config.device)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=config.lr_step_epochs, gamma=config.lr_decay)
    history: list[dict[str, float]] = []
    if checkpoint_path.is_file():
        state = load_checkpoint(checkpoint_path, device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = state["history"]
    bar = tqdm(range(len(history), config.epochs), desc="LEM", disable=not progress)
    for epoch in bar:
        started = time.perf_counter()
        alpha = mixing_weight(epoch, config.gap_epochs, config.ramp_epochs)
        record = {"epoch": epoch + 1, "alpha": alpha, "learning_rate": scheduler.get_last_lr()[0]}
        record |= _train_one_epoch(model, dataset, config, epoch, alpha, optimizer)
        scheduler.step()
        history.append(record | {"seconds": time.perf_counter() - started})
        save_checkpoint(checkpoint_path, {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                                          "scheduler": scheduler.state_dict(), "history": history})
        bar.set_postfix(loss=f"{record['loss']:.4f}", alpha=f"{alpha:.2f}")
    return pd.DataFrame(history)


def _train_one_epoch(
    model: LEMClassifier, dataset: WholeImages, config: LEMConfig, epoch: int, alpha: float,
    optimizer: torch.optim.Optimizer,
) -> dict[str, float]:
    """One shuffled pass over the images; returns the mean of each loss term over the batches."""
    device = torch.device(config.device)
    generator = torch.Generator().manual_seed(int(np.random.SeedSequence([config.seed, epoch]).generate_state(1)[0]))
    order = torch.randperm(len(dataset), generator=generator)
    flips = torch.rand(len(dataset), generator=generator) < 0.5
    batches = [order[start:start + config.batch_size].tolist() for start in range(0, len(order), config.batch_size)]
    loader = DataLoader(dataset, batch_sampler=batches, num_workers=config.num_workers,
                        pin_memory=device.type == "cuda")
    model.train()
    sums: dict[str, float] = {}
    for index, (images, targets) in zip(batches, loader, strict=True):
        x = images.to(device).float().div(255)
        if config.hflip:
            x = torch.where(flips[index, None, None, None].to(device), x.flip(-1), x)
        loss, parts = lem_loss(model.score_maps(x), targets.to(device), alpha, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        for name, value in {"loss": loss.item(), **parts}.items():
            sums[name] = sums.get(name, 0.0) + value
    return {name: total / len(batches) for name, total in sums.items()}
