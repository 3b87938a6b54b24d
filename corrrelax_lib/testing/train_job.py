"""A training job small enough for tests, runnable alone or under ``torchrun`` (DDP with gloo).

Twenty random 8 × 8 "crops" with two labels, a linear classifier (no BatchNorm, no dropout: a
DDP step then equals the single-process step up to rounding), batches of 4, three epochs of
:func:`~corrrelax_lib.training.loop.fit`. Run as::

    python -m torch.distributed.run --nproc_per_node 2 -m corrrelax_lib.testing.train_job OUT_DIR [--sum]

Rank 0 writes ``OUT_DIR/checkpoint.pt`` (through ``fit``), ``OUT_DIR/weights.pt`` (the final
``state_dict``) and ``OUT_DIR/history.csv``; every rank writes ``OUT_DIR/seen-rank<r>.txt``, the
number of crops it loaded.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.io.atomic import atomic_path, atomic_write_text
from corrrelax_lib.training.config import TrainingConfig
from corrrelax_lib.training.loop import fit

LABELS: tuple[str, ...] = ("No Finding", "Mass")


class TinyCrops(torch.utils.data.Dataset):
    """``n`` fixed ``(3, 8, 8)`` images: bright (mean ~0.7) for ``"Mass"``, dark (~0.3) for ``"No Finding"``.

    Offers what :func:`~corrrelax_lib.training.loop.fit` uses of a
    :class:`~corrrelax_lib.data.crop_dataset.CropDataset`: ``samples["labels"]``, ``labels``,
    ``targets`` ``(n, 2)`` and ``set_epoch``; one label in four is ``"Mass"``, so the weighted
    sampler has something to re-weight.
    """

    def __init__(self, n: int = 20, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        mass = np.arange(n) % 4 == 0
        self.labels = LABELS
        self.samples = pd.DataFrame({"labels": [("Mass",) if m else ("No Finding",) for m in mass]})
        self.targets = np.stack([~mass, mass], axis=1).astype(np.float32)
        base = np.where(mass, 0.7, 0.3)[:, None, None, None]
        self.images = (base + 0.2 * rng.standard_normal((n, 3, 8, 8))).astype(np.float32)
        self.seen = 0  # crops loaded by this process

    def set_epoch(self, epoch: int) -> None:
        """Fixed crops: nothing changes between epochs."""

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Tensor, Tensor]:
        self.seen += 1
        return torch.from_numpy(self.images[index]), torch.from_numpy(self.targets[index])


def tiny_classifier(seed: int = 0) -> nn.Module:
    """``Flatten → Linear(192, 2)``, initialised from ``seed``."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, len(LABELS)))


def tiny_config(epochs: int = 3) -> TrainingConfig:
    """Batches of 4 (2 per rank on two ranks), Adam at 1e-2, on the CPU."""
    return TrainingConfig(backbone="small_cnn", labels=LABELS, dataset="tiny-crops", crop_size=8, epochs=epochs,
                          batch_size=4, learning_rate=1e-2, seed=0, device="cpu")


def run_job(out_dir: Path, context: DistributedContext, *, summed: bool = False) -> tuple[nn.Module, pd.DataFrame]:
    """Train the tiny classifier; rank 0 writes the final weights and history. Returns both.

    With ``summed`` the batch loss is the sum of its terms (the authors' code) under a weight decay of 0.1: Adam
    ignores a gradient's scale, but not beside the decay, so a wrong scale under DDP changes the weights.
    """
    model, crops = tiny_classifier(), TinyCrops()
    config = replace(tiny_config(), focal_reduction="sum", weight_decay=0.1) if summed else tiny_config()
    history = fit(model, crops, config, out_dir / "checkpoint.pt", progress=False, context=context)
    atomic_write_text(out_dir / f"seen-rank{context.rank}.txt", f"{crops.seen}\n")
    if context.is_main:
        with atomic_path(out_dir / "weights.pt") as tmp:
            torch.save(model.state_dict(), tmp)
        atomic_write_text(out_dir / "history.csv", history.to_csv(index=False))
    return model, history


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m corrrelax_lib.testing.train_job``."""
    parser = argparse.ArgumentParser(prog="python -m corrrelax_lib.testing.train_job", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--sum", action="store_true", help="sum the batch loss, with weight decay 0.1")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    with DistributedContext.from_env(backend="gloo") as context:
        run_job(args.out_dir, context, summed=args.sum)


if __name__ == "__main__":
    main()
