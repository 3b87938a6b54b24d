"""Training and evaluation throughput of the classifier, in crops per second, on this device.

Three numbers from one run, and their ratios:

* model training: forward + focal loss + backward + Adam step on random batches in memory;
* model evaluation: forward only (no_grad; AMP on CUDA);
* end-to-end training: crops cut, augmented and batched from the profile's cached
  preprocessed images by the real ``CropDataset``/``DataLoader``, then the same training step.

``end-to-end / model training`` below 1 says how much data loading costs.

Loss, optimiser, sampler weights and augmentation are the profile's (``--profile as-run`` times the
authors' settings); backbone, crop size and batch default to the profile's too.

    python benchmarks/train_throughput.py                      # tiny: small_cnn, 64 px
    python benchmarks/train_throughput.py --profile as-run
    python benchmarks/train_throughput.py --profile full --device cuda --workers 8
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace

import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from corrrelax_lib.data.crop_dataset import inverse_frequency_weights
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.models.device import autocast, resolve_device
from corrrelax_lib.pipeline.study import Study
from corrrelax_lib.training.config import TrainingConfig
from corrrelax_lib.training.focal_loss import focal_loss
from corrrelax_lib.training.loop import batch_loss
from corrrelax_lib.training.run import build_model, crop_datasets


def main() -> None:
    args = _arguments()
    study = Study.open(args.profile)
    chosen = {"backbone": args.backbone, "crop_size": args.crop_size, "batch_size": args.batch_size}
    config = replace(study.training_config(), **{name: value for name, value in chosen.items() if value is not None})
    device = resolve_device(args.device)
    model = build_model(config, pretrained=False).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    images = torch.rand(config.batch_size, 3, config.crop_size, config.crop_size, device=device)
    targets = (torch.rand(config.batch_size, len(LABELS), device=device) > 0.8).float()

    def train_step(x: torch.Tensor, y: torch.Tensor) -> None:
        with autocast(device):
            logits = model(x)
        terms = focal_loss(logits.float(), y, alpha=config.focal_alpha, gamma=config.focal_gamma,
                           alpha_form=config.focal_alpha_form, reduction="none")
        optimizer.zero_grad(set_to_none=True)
        batch_loss(terms, config.focal_reduction).backward()
        optimizer.step()

    model.train()
    model_train = _crops_per_second(lambda: train_step(images, targets), config.batch_size, args.steps, device)
    model.eval()
    with torch.no_grad():
        model_eval = _crops_per_second(lambda: model(images), config.batch_size, args.steps, device)

    loader = _training_loader(study, config, args.steps, args.workers)
    batches = iter(loader)
    model.train()

    def loaded_step() -> None:
        x, y = next(batches)
        train_step(x.to(device, non_blocking=True), y.to(device, non_blocking=True))

    end_to_end = _crops_per_second(loaded_step, config.batch_size, args.steps, device)
    print(f"device: {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print(f"profile {args.profile}: backbone {config.backbone}, crops {config.crop_size} px, "
          f"batch {config.batch_size}, "
          f"focal loss {config.focal_alpha_form} alpha {config.focal_alpha} gamma {config.focal_gamma} "
          f"{config.focal_reduction}, {config.sample_weight} sample weights, {config.augmentation} augmentation, "
          f"workers {args.workers}")
    print(f"model training:      {model_train:9.1f} crops/s")
    print(f"model evaluation:    {model_eval:9.1f} crops/s   (evaluation / training = {model_eval / model_train:.2f})")
    print(f"end-to-end training: {end_to_end:9.1f} crops/s   (end-to-end / model training = "
          f"{end_to_end / model_train:.2f})")


def _crops_per_second(step: Callable[[], object], batch_size: int, steps: int, device: torch.device) -> float:
    """Time ``steps`` calls of ``step`` after two warm-up calls."""
    for _ in range(2):
        step()
    _synchronize(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    _synchronize(device)
    return steps * batch_size / (time.perf_counter() - started)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _training_loader(study: Study, config: TrainingConfig, steps: int, workers: int) -> DataLoader:
    """Weighted, augmented training crops of the study's data as ``config`` makes them: ``steps + 2`` batches."""
    data_root = study.prepare_data()
    samples = study.samples
    train_set, _ = crop_datasets(samples, data_root, study.artifacts_dir, config)
    train_set.store.warm(samples, workers=2)
    weights = inverse_frequency_weights(train_set.samples["labels"], LABELS, rule=config.sample_weight)
    sampler = WeightedRandomSampler(weights, num_samples=(steps + 2) * config.batch_size,
                                    generator=torch.Generator().manual_seed(0))
    return DataLoader(train_set, batch_size=config.batch_size, sampler=sampler, num_workers=workers)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", help="default: the profile's")
    parser.add_argument("--crop-size", type=int, help="default: the profile's")
    parser.add_argument("--batch-size", type=int, help="default: the profile's")
    parser.add_argument("--steps", type=int, default=20, help="timed batches per measurement")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for the end-to-end number")
    parser.add_argument("--profile", default="tiny",
                        help="whose training settings (loss, optimiser, sampler, augmentation) and data are timed")
    return parser.parse_args()


if __name__ == "__main__":
    main()
