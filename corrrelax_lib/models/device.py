"""Device placement and mixed precision, the same code on CPU and GPU."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


def resolve_device(device: str) -> torch.device:
    """``torch.device(device)``; a clear error when CUDA is asked for but absent."""
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} requested but CUDA is not available; use the 'cpu' device")
    return resolved


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype on CUDA (bfloat16 where supported, else float16); ``None`` (float32) on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device) -> Iterator[None]:
    """Mixed precision on CUDA, plain float32 elsewhere."""
    dtype = amp_dtype(device)
    with torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None):
        yield
