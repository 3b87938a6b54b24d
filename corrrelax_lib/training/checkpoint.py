"""Atomic, pickle-free checkpoints: a checkpoint file is either complete or absent, and loading it runs no code.

A checkpoint holds plain data only: tensors, and dicts, lists, tuples, strings, numbers, booleans and
``None`` (state dicts of models, optimisers and schedulers; configurations as :meth:`as_dict`; histories as
records). It is read with ``torch.load(..., weights_only=True)``, which refuses any other pickled object
instead of running its code, so a checkpoint from elsewhere cannot execute anything when opened.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from corrrelax_lib.io.atomic import atomic_path


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """``torch.save(state)`` to a temporary file, then rename it onto ``path``.

    ``state`` must hold plain data only (see the module docstring), or :func:`load_checkpoint` refuses it.
    """
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: str | os.PathLike[str], device: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, tensors on ``device``, with ``weights_only=True``.

    Raises:
        RuntimeError: the file is not a readable checkpoint, or it holds a pickled object other than plain
            data (the message names the file).
    """
    try:
        return torch.load(Path(path), map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        raise RuntimeError(f"{path}: refused, it holds more than tensors and plain data ({error})") from error
    except (OSError, RuntimeError, EOFError) as error:
        raise RuntimeError(f"{path}: not a readable checkpoint ({error})") from error
