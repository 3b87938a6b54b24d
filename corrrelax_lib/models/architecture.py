"""Layer table of a classifier (Figure 3), read from the model object by one dummy forward pass."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import torch
from torch import nn
from torchvision.ops.misc import Permute

from corrrelax_lib.models.classifier import MultiLabelClassifier

# Layers that keep their input's shape role (norms, activations, dropout, layout changes): they join
# the stage before them, so that e.g. ResNet's conv1 + bn1 + relu form one stem row.
_FOLLOWERS = (nn.BatchNorm2d, nn.LayerNorm, nn.ReLU, nn.SiLU, nn.GELU, nn.Hardswish, nn.Dropout, nn.Flatten, Permute)
# Children of these two backbone attributes are listed one by one (when they are plain Sequentials).
_OPENED = ("features", "classifier")
COLUMNS = ["stage", "block", "channels", "size", "parameters"]


def _block_label(module: nn.Module) -> str:
    """``"MBConv ×6"`` for a plain container of repeated blocks, else the module's class name."""
    if type(module) in (nn.Sequential, nn.ModuleList) or isinstance(module, nn.ModuleDict):
        counts = Counter(type(child).__name__.lstrip("_") for child in module.children())
        return " + ".join(name if n == 1 else f"{name} ×{n}" for name, n in counts.items())
    return type(module).__name__.lstrip("_")


def _stages(backbone: nn.Module) -> list[tuple[str, list[nn.Module]]]:
    """The backbone's top-level stages in forward order, each a (stage name, modules) pair.

    Stages are the children of ``features`` (EfficientNet, MobileNet, DenseNet, VGG, Swin) or the
    backbone's own children (ResNet), then its pooling and the layers left of its ``classifier``.
    This relies on torchvision declaring modules in the order ``forward`` calls them.
    """
    modules: list[tuple[str, nn.Module]] = []
    for name, child in backbone.named_children():
        opened = name in _OPENED and type(child) is nn.Sequential
        modules += [(name, grandchild) for grandchild in child.children()] if opened else [(name, child)]
    groups: list[tuple[str, list[nn.Module]]] = []
    for source, module in modules:
        if isinstance(module, nn.Identity):  # the removed classification layer
            continue
        if groups and isinstance(module, _FOLLOWERS):
            groups[-1][1].append(module)
        else:
            groups.append((source, [module]))
    stages, n_body, n_fc = [], 0, 0
    for source, members in groups:
        if source == "classifier":
            n_fc += 1
            stages.append((f"fc {n_fc}", members))
        elif isinstance(members[0], nn.AdaptiveAvgPool2d):
            stages.append(("pool", members))
        else:
            stages.append((f"stage {n_body}", members))
            n_body += 1
    return stages


def _channels_last_after(members: list[nn.Module], channels_last: bool) -> bool:
    """Whether the output of ``members`` is NHWC (Swin permutes NCHW → NHWC and back)."""
    for module in (sub for member in members for sub in member.modules()):
        if isinstance(module, Permute):
            channels_last = list(module.dims) == [0, 2, 3, 1]
    return channels_last


def _channels_and_size(shape: tuple[int, ...], channels_last: bool = False) -> tuple[int, str]:
    """``(channels, "H×W")`` of an output shape ``(1, C, H, W)``, ``(1, H, W, C)`` or ``(1, D)`` (size "—")."""
    if len(shape) == 2:
        return shape[1], "—"
    height, width, channels = (shape[1], shape[2], shape[3]) if channels_last else (shape[2], shape[3], shape[1])
    return channels, f"{height}×{width}"


def _n_parameters(modules: list[nn.Module]) -> int:
    return sum(p.numel() for module in modules for p in module.parameters())


def _output_shapes(model: nn.Module, hooked: dict[str, nn.Module], input_size: int) -> dict[str, tuple[int, ...]]:
    """Output shape of each hooked module for one ``(1, 3, input_size, input_size)`` input, in eval mode."""
    shapes: dict[str, tuple[int, ...]] = {}

    def recorder(key: str):
        def record(_module: nn.Module, _inputs: tuple, output: torch.Tensor) -> None:
            shapes.setdefault(key, tuple(output.shape))  # first call; a hook returning None keeps the output

        return record

    handles = [module.register_forward_hook(recorder(key)) for key, module in hooked.items()]
    parameter = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, input_size, input_size, device=parameter.device, dtype=parameter.dtype))
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return shapes


def _head_label(module: nn.Module) -> str:
    if isinstance(module, nn.Dropout):
        return f"Dropout p={module.p:g}"
    if isinstance(module, nn.Linear):
        return f"Linear {module.out_features}"
    return type(module).__name__


def architecture_table(model: MultiLabelClassifier, input_size: int) -> pd.DataFrame:
    """One row per backbone stage, the feature vector ``h`` and each head layer (Figure 3).

    Shapes come from one forward pass of a ``(1, 3, input_size, input_size)`` zero image through
    ``model`` in eval mode (its training mode is restored), with forward hooks on the stages.

    Args:
        model: the classifier to describe.
        input_size: side of the square input in pixels (paper: 256).

    Returns:
        Columns ``stage`` ("input", "stage 0", …, "pool", "fc 1", "h", "head"), ``block``
        (e.g. "FusedMBConv ×2", "Conv2d + BatchNorm2d + ReLU", "Linear 512", "Sigmoid"),
        ``channels`` (output channels or vector length), ``size`` (output "H×W", or "—" for
        vectors) and ``parameters`` (count; the column sums to the model's parameter count).

    Example:
        >>> table = architecture_table(MultiLabelClassifier("resnet18", n_labels=4), input_size=64)
        >>> table.block.tolist()[3:7]
        ['BasicBlock ×2', 'BasicBlock ×2', 'BasicBlock ×2', 'BasicBlock ×2']
    """
    stages = _stages(model.backbone)
    head = list(model.head.children())
    hooked = {name: members[-1] for name, members in stages}
    hooked |= {"h": model.backbone} | {f"head {i}": module for i, module in enumerate(head)}
    shapes = _output_shapes(model, hooked, input_size)

    rows = [("input", "ImageNet normalisation", 3, f"{input_size}×{input_size}", 0)]
    channels_last = False
    for name, members in stages:
        channels_last = _channels_last_after(members, channels_last)
        channels, size = _channels_and_size(shapes[name], channels_last)
        rows.append((name, " + ".join(map(_block_label, members)), channels, size, _n_parameters(members)))
    # h comes out of forward()'s functional pooling/flatten where the last stage is still spatial.
    last_size = rows[-1][3]
    h_block = "feature vector h" if last_size == "—" else "flatten → h" if last_size == "1×1" else "global pool → h"
    rows.append(("h", h_block, shapes["h"][1], "—", 0))
    for i, module in enumerate(head):
        rows.append(("head", _head_label(module), shapes[f"head {i}"][1], "—", _n_parameters([module])))
    rows.append(("head", "Sigmoid", rows[-1][2], "—", 0))
    return pd.DataFrame(rows, columns=COLUMNS)
