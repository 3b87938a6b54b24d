"""The training loop of paper §3.3: focal loss, Adam, cosine annealing, weighted sampling.

Where the authors' code differs from the paper's text, ``TrainingConfig`` says which to run: the
loss's reduction over a batch (mean or sum), Adam's weight decay and the sampler's weight rule.

Every epoch is reproducible on its own: crops and augmentations depend on
``(seed, epoch, index)``, the sampler on ``(seed, epoch)`` and dropout on a seed derived
from ``(seed, epoch)``. A checkpoint written atomically after each epoch therefore lets an
interrupted run resume and end with the same weights as an uninterrupted one (on CPU;
GPU kernels may differ in the last bits).

Under ``torchrun`` (a :class:`~corrrelax_lib.distributed.context.DistributedContext` of several
processes) the model trains with DDP: each rank takes its share of every batch
(:class:`~corrrelax_lib.distributed.train.RankSampler`), and rank 0 writes the checkpoints.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from corrrelax_lib.data.crop_dataset import CropDataset, weighted_sampler
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.train import RankSampler, data_parallel, sum_over_ranks
from corrrelax_lib.metrics.classification import per_label_metrics, weighted_f1
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.models.device import amp_dtype, autocast
from corrrelax_lib.training.checkpoint import load_checkpoint, save_checkpoint
from corrrelax_lib.training.config import TrainingConfig
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
    context: DistributedContext | None = None,
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
        on_epoch_end: called after each epoch's checkpoint is on disk (on every rank).
        context: this process in a ``torchrun`` job; default a single process. With several
            processes every rank calls ``fit`` with the same arguments (``config.batch_size`` is the
            global batch, a multiple of the world size), trains with DDP on ``context.device``,
            and rank 0 writes the checkpoint (on a filesystem all ranks see). Validation runs on every rank.

    Returns:
        One row per epoch: ``epoch`` (1-based), ``train_loss`` (mean focal loss per crop and label, whatever
        ``config.focal_reduction`` is),
        ``learning_rate`` (during the epoch), ``seconds``, and with a validation set
        ``validation_loss`` and ``validation_weighted_f1``.
    """
    context = context or DistributedContext()
    device = _training_device(config, context)
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
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
    # DDP wraps the model once its weights are final for this start (broadcast from rank 0).
    trained = data_parallel(model, context)

    for epoch in range(len(history), config.epochs):
        started = time.perf_counter()
        learning_rate = scheduler.get_last_lr()[0]
        train_loss = _train_one_epoch(trained, train_set, config, epoch, optimizer, scaler, progress, context, device)
        scheduler.step()
        record = {"epoch": epoch + 1, "train_loss": train_loss, "learning_rate": learning_rate}
        if validation_set is not None:
            record |= _validate(model, validation_set, config, device)
        history.append(record | {"seconds": time.perf_counter() - started})
        if context.is_main:
            save_checkpoint(checkpoint_path, {
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "history": history, "config": config.as_dict(),
            })
        context.barrier()
        if on_epoch_end is not None:
            on_epoch_end(epoch, pd.DataFrame(history))
    return pd.DataFrame(history)


def _training_device(config: TrainingConfig, context: DistributedContext) -> torch.device:
    """``config.device``; in a job of several processes on CUDA, this rank's GPU (``cuda:<local_rank>``)."""
    device = torch.device(config.device)
    if context.is_distributed and device.type == "cuda":
        return torch.device("cuda", context.local_rank)
    return device


def _train_one_epoch(
    model: torch.nn.Module, train_set: CropDataset, config: TrainingConfig, epoch: int,
    optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler, progress: bool,
    context: DistributedContext, device: torch.device,
) -> float:
    """One pass over ``len(train_set)`` weighted draws (this rank's share of them); returns the mean loss."""
    train_set.set_epoch(epoch)
    sampler = weighted_sampler(train_set, config.seed, epoch, config.sample_weight)
    if context.is_distributed:
        sampler = RankSampler(sampler, context.rank, context.world_size, batch_size=config.batch_size)
        batch_size, drop_last = sampler.rank_batch_size, False  # RankSampler keeps full steps only
    else:
        batch_size, drop_last = config.batch_size, len(train_set) > config.batch_size
    loader = DataLoader(
        train_set, batch_size=batch_size, sampler=sampler, num_workers=config.num_workers,
        pin_memory=device.type == "cuda", drop_last=drop_last,
    )
    # Dropout draws from the global generator: seed it per epoch (and rank) so a resumed epoch repeats exactly.
    seed_words = [config.seed, epoch, context.rank] if context.is_distributed else [config.seed, epoch]
    torch.manual_seed(np.random.SeedSequence(seed_words).generate_state(1)[0].item())
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
        terms = focal_loss(logits.float(), targets, alpha=config.focal_alpha, gamma=config.focal_gamma,
                           alpha_form=config.focal_alpha_form, reduction="none")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(batch_loss(terms, config.focal_reduction, context.world_size)).backward()
        scaler.step(optimizer)
        scaler.update()
        total, count = total + terms.mean().item() * len(images), count + len(images)
        bar.set_postfix(loss=f"{total / count:.4f}")
    total, count = sum_over_ranks([total, count], context, device)
    return total / max(count, 1)


def batch_loss(terms: torch.Tensor, reduction: Literal["mean", "sum"], world_size: int = 1) -> torch.Tensor:
    """The loss one step differentiates, from this rank's ``(n, C)`` focal-loss terms.

    ``"mean"``: their mean; ``"sum"``: their sum (the authors' code), times ``world_size``, so that DDP's
    mean of the ranks' gradients is the gradient of the whole batch's sum, as in one process.
    """
    if reduction == "mean":
        return terms.mean()
    if reduction == "sum":
        return terms.sum() * world_size
    raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")


def _validate(
    model: MultiLabelClassifier, validation_set: CropDataset, config: TrainingConfig, device: torch.device,
) -> dict[str, float]:
    """Focal loss and support-weighted F1 of the evaluation crops."""
    logits = predict_logits(model, validation_set, batch_size=config.batch_size, device=device)
    targets = validation_set.targets
    loss = focal_loss(torch.from_numpy(logits), torch.from_numpy(targets).float(),
                      alpha=config.focal_alpha, gamma=config.focal_gamma, alpha_form=config.focal_alpha_form)
    table = per_label_metrics(targets, 1 / (1 + np.exp(-logits)), config.labels)
    return {"validation_loss": loss.item(), "validation_weighted_f1": weighted_f1(table)}
