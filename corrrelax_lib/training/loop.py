"""The training loop of paper §3.3: focal loss, Adam, cosine annealing, weighted sampling.

Every epoch is reproducible on its own: crops and augmentations depend on
``(seed, epoch, index)``, the sampler on ``(seed, epoch)`` and dropout on a seed derived
from ``(seed, epoch)``. A checkpoint written atomically after each epoch therefore lets an
interrupted run resume and end with the same weights as an uninterrupted one (on CPU;
GPU kernels may differ in the last bits).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from corrrelax_lib.data.crop_dataset import CropDataset, weighted_sampler
from corrrelax_lib.metrics.classification import per_label_metrics, weighted_f1
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.training.checkpoint import load_checkpoint, save_checkpoint
from corrrelax_lib.training.config import TrainingConfig
from corrrelax_lib.training.device import amp_dtype, autocast
from corrrelax_lib.training.focal_loss import focal_loss
from corrrelax_lib.training.predict import predict_logits

#: Called after each finished (and checkpointed) epoch with the history so far.
EpochCallback = Callable[[int, pd.DataFrame], None]


def fit(
    model: MultiLabelClassifier,
    train_set: CropDataset,
    config: TrainingConfig,
    checkpoint_path: str | os.PathLike[str],
    *,
    validation_set: CropDataset | None = None,
    progress: bool = True,
    on_epoch_end: EpochCallback | None = None,
) -> pd.DataFrame:
    """Train ``model`` for ``config.epochs`` epochs, resuming from ``checkpoint_path`` if it exists.

    Args:
        model: the classifier, already initialised with ``torch.manual_seed(config.seed)``.
        train_set: training crops (``train=True``), one random crop per sample and epoch.
        config: optimiser, loss and schedule settings.
        checkpoint_path: rewritten atomically after every epoch.
        validation_set: evaluation crops scored after every epoch for the training curves
            (monitoring only: the final model is the last epoch's, nothing is selected on it).
        progress: show a tqdm bar per epoch with the running loss.
        on_epoch_end: called after each epoch's checkpoint is on disk.

    Returns:
        One row per epoch: ``epoch`` (1-based), ``train_loss`` (mean focal loss),
        ``learning_rate`` (during the epoch), ``seconds``, and with a validation set
        ``validation_loss`` and ``validation_weighted_f1``.
    """
    device = torch.device(config.device)
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=config.epochs, eta_min=config.final_learning_rate
    )
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype(device) == torch.float16)
    history: list[dict[str, float]] = []
    if Path(checkpoint_path).is_file():
        state = load_checkpoint(checkpoint_path, device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = state["history"]

    for epoch in range(len(history), config.epochs):
        started = time.perf_counter()
        learning_rate = scheduler.get_last_lr()[0]
        train_loss = _train_one_epoch(model, train_set, config, epoch, optimizer, scaler, progress)
        scheduler.step()
        record = {"epoch": epoch + 1, "train_loss": train_loss, "learning_rate": learning_rate}
        if validation_set is not None:
            record |= _validate(model, validation_set, config)
        history.append(record | {"seconds": time.perf_counter() - started})
        save_checkpoint(checkpoint_path, {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "history": history, "config": config.as_dict(),
        })
        if on_epoch_end is not None:
            on_epoch_end(epoch, pd.DataFrame(history))
    return pd.DataFrame(history)


def _train_one_epoch(
    model: MultiLabelClassifier, train_set: CropDataset, config: TrainingConfig, epoch: int,
    optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, progress: bool,
) -> float:
    """One pass over ``len(train_set)`` weighted draws; returns the mean loss."""
    device = torch.device(config.device)
    train_set.set_epoch(epoch)
    loader = DataLoader(
        train_set, batch_size=config.batch_size, sampler=weighted_sampler(train_set, config.seed, epoch),
        num_workers=config.num_workers, pin_memory=device.type == "cuda", drop_last=len(train_set) > config.batch_size,
    )
    # Dropout draws from the global generator: seed it per epoch so a resumed epoch repeats exactly.
    torch.manual_seed(np.random.SeedSequence([config.seed, epoch]).generate_state(1)[0].item())
    model.train()
    total, count = 0.0, 0
    bar = tqdm(loader, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress, leave=False)
    for images, targets in bar:
        images = images.to(device, non_blocking=True)
        if device.type == "cuda":
            images = images.contiguous(memory_format=torch.channels_last)
        targets = targets.to(device, non_blocking=True)
        with autocast(device):
            logits = model(images)
        loss = focal_loss(logits.float(), targets, alpha=config.focal_alpha, gamma=config.focal_gamma)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        total, count = total + loss.item() * len(images), count + len(images)
        bar.set_postfix(loss=f"{total / count:.4f}")
    return total / max(count, 1)


def _validate(model: MultiLabelClassifier, validation_set: CropDataset, config: TrainingConfig) -> dict[str, float]:
    """Focal loss and support-weighted F1 of the evaluation crops."""
    logits = predict_logits(model, validation_set, batch_size=config.batch_size, device=config.device)
    targets = validation_set.targets
    loss = focal_loss(torch.from_numpy(logits), torch.from_numpy(targets).float(),
                      alpha=config.focal_alpha, gamma=config.focal_gamma)
    table = per_label_metrics(targets, 1 / (1 + np.exp(-logits)), config.labels)
    return {"validation_loss": loss.item(), "validation_weighted_f1": weighted_f1(table)}
