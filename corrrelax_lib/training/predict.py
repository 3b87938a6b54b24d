"""Classifier outputs on a crop dataset (evaluation, paper §4.1)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.models.device import autocast


@torch.no_grad()
def predict_logits(
    model: MultiLabelClassifier,
    dataset: Dataset,
    *,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
    progress: bool = False,
) -> np.ndarray:
    """Logits for every item of ``dataset``, in order; probabilities are ``sigmoid(logits)``.

    Args:
        dataset: yields ``(image (3, S, S), target (C,))``.

    Returns:
        ``(N, C)`` float32 logits.
    """
    device = torch.device(device)
    model.eval().to(device)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    outputs = []
    for images, _ in tqdm(loader, desc="predict", disable=not progress, leave=False):
        with autocast(device):
            logits = model(images.to(device, non_blocking=True))
        outputs.append(logits.float().cpu())
    return torch.cat(outputs).numpy()
