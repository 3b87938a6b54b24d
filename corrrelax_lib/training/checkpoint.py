"""Atomic checkpoints: a checkpoint file is either complete or absent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from corrrelax_lib.io.atomic import atomic_path


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """``torch.save(state)`` to a temporary file, then rename it onto ``path``."""
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, tensors on ``device``.

    Raises:
        RuntimeError: the file is not a readable checkpoint (the message names it).
    """
    try:
        return torch.load(Path(path), map_location=device, weights_only=False)
    except (OSError, RuntimeError, EOFError) as error:
        raise RuntimeError(f"{path}: not a readable checkpoint ({error})") from error
