"""Check that torch and torchvision form a working pair (``python -m corrrelax_lib.environment``).

A local ``torch-*+cpu`` build paired with PyPI's torchvision fails only when a compiled
torchvision operator is first used (``operator torchvision::nms does not exist``); this
check calls one so a broken install fails at setup time, loudly.
"""

from __future__ import annotations

import torch
import torchvision


def check_torchvision_ops() -> str:
    """Run ``torchvision.ops.nms`` on a tiny input; return a one-line version summary.

    Raises:
        RuntimeError: torchvision's compiled operators cannot load with this torch.
    """
    try:
        from torchvision.ops import nms

        boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 11.0, 11.0], [50.0, 50.0, 60.0, 60.0]])
        kept = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
    except (RuntimeError, ImportError) as error:
        raise RuntimeError(
            f"torchvision {torchvision.__version__} cannot run its operators with torch {torch.__version__} "
            f"({error}). Install a matching PyPI pair: remove .venv and run `make install` "
            "(it keeps pip away from local '+cpu' torch builds)."
        ) from error
    if kept.tolist() != [0, 2]:
        raise RuntimeError(f"torchvision.ops.nms returned {kept.tolist()}, expected [0, 2]")
    return f"torch {torch.__version__}, torchvision {torchvision.__version__}: torchvision.ops OK"


if __name__ == "__main__":
    print(check_torchvision_ops())
