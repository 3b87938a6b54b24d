"""Neuron maps (Lu & Perer's interactive dissection, §3.1.1): the activation map of every channel of the
classifier's last convolutional layer, as an :class:`~corrrelax_lib.attribution.explainer.Explainer`.

The ROI is resized so that its longer side is ``image_size`` pixels (the one whole-ROI rule,
:meth:`~corrrelax_lib.attribution.explainer.PreparedRoi.resized`, as the baselines' ``"whole"`` mode) and
passed once through the model; a forward hook keeps the output ``(K, h, w)`` of
:func:`~corrrelax_lib.models.target_layers.last_conv_layer`. :class:`NeuronMaps` keeps it at the layer's
resolution (well under a megabyte) and upsamples bilinearly to ROI pixels on demand
(:func:`~corrrelax_lib.attribution.neurons.upsample_activations`): ROI-pixel maps of every neuron take
``K·H·W`` floats, gigabytes for a full-resolution ROI. What the explorer does with the maps (thresholds,
IoU queries, the embedding, concept labels) is in :mod:`corrrelax_lib.attribution.neurons`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from corrrelax_lib.attribution.explainer import Explainer, Explanation, PreparedRoi
from corrrelax_lib.attribution.neurons import upsample_activations
from corrrelax_lib.io.atomic import atomic_path
from corrrelax_lib.models.device import resolve_device
from corrrelax_lib.models.target_layers import capture_layer, last_conv_layer, layer_name

#: The one map kind of :class:`NeuronMaps`.
ACTIVATION = "activation"


@dataclass(frozen=True)
class NeuronMaps(Explanation):
    """The ``K`` neurons' activation maps of one ROI of ``H × W`` pixels; each neuron is a "label" (``"0"`` …).

    Activations are defined everywhere (no NaN): a neuron fires on background too.

    Attributes:
        layer_maps: ``(K, h, w)`` float32 activations at the layer's resolution.
        shape: ``(H, W)`` of the ROI, the size of :meth:`pixel_map`.
        metadata: parameters and seconds of the run.
    """

    layer_maps: np.ndarray
    shape: tuple[int, int]
    metadata: dict[str, Any] = field(default_factory=dict)

    method: ClassVar[str] = "Neurons"
    kinds: ClassVar[tuple[str, ...]] = (ACTIVATION,)

    @property
    def labels(self) -> tuple[str, ...]:
        """The neurons' indices as strings, ``("0", …, "K-1")``."""
        return tuple(str(neuron) for neuron in range(len(self.layer_maps)))

    @property
    def extra(self) -> dict[str, np.ndarray]:
        """No label-free maps."""
        return {}

    def pixel_map(self, kind: str, label: str | None = None) -> np.ndarray:
        """Neuron ``label``'s ``(H, W)`` activation map in ROI pixels (bilinear), float64; ``kind`` is
        :data:`ACTIVATION`."""
        if kind != ACTIVATION:
            raise ValueError(f"unknown map kind {kind!r}; neuron maps have only {ACTIVATION!r}")
        if label not in self.labels:
            raise ValueError(f"neuron {label!r} is not one of 0 … {len(self.layer_maps) - 1}")
        return upsample_activations(self.layer_maps[int(label): int(label) + 1], self.shape)[0].astype(np.float64)

    def activations(self) -> np.ndarray:
        """Every neuron's map in ROI pixels: ``(K, H, W)`` float32, indexed ``[neuron, y, x]``."""
        return upsample_activations(self.layer_maps, self.shape)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the layer maps and metadata to one ``.npz``, atomically."""
        header = {"shape": list(self.shape), "metadata": self.metadata}
        with atomic_path(Path(path)) as tmp, tmp.open("wb") as handle:
            np.savez_compressed(handle, header=np.array(json.dumps(header)), layer_maps=self.layer_maps)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NeuronMaps:
        """Read a file written by :meth:`save`."""
        with np.load(Path(path)) as saved:
            header = json.loads(str(saved["header"]))
            return cls(saved["layer_maps"], (header["shape"][0], header["shape"][1]), header["metadata"])


class NeuronActivations(Explainer):
    """The last convolutional layer's activation maps of a ROI (§3.1.1), one forward pass per image.

    Args:
        model: a :class:`~corrrelax_lib.models.classifier.MultiLabelClassifier` taking ``(N, 3, H, W)`` in [0, 1].
        image_size: longer side of the model input, pixels.
        device: ``"cpu"`` or ``"cuda"``.

    Example:
        >>> from corrrelax_lib.models.classifier import MultiLabelClassifier
        >>> explainer = NeuronActivations(MultiLabelClassifier("small_cnn", 4), image_size=64)
        >>> maps = explainer.explain(np.zeros((90, 60, 3), np.uint8), np.ones((90, 60), bool))
        >>> maps.layer_maps.shape, maps.activations().shape  # 90 × 60 → 64 × 43, halved five times
        ((256, 2, 1), (256, 90, 60))
    """

    method = "Neurons"
    result_type = NeuronMaps

    def __init__(self, model: nn.Module, *, image_size: int, device: str = "cpu") -> None:
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.layer = last_conv_layer(self.model)
        self.image_size = image_size

    @property
    def parameters(self) -> dict[str, Any]:
        """The method, the input's longer side and the layer read."""
        return {"method": self.method, "image_size": self.image_size, "layer": layer_name(self.model, self.layer)}

    def explain_roi(self, roi: PreparedRoi) -> NeuronMaps:
        """One forward pass of the resized ROI; the layer's ``(K, h, w)`` output."""
        start = time.perf_counter()
        x = torch.from_numpy(roi.resized(self.image_size)).unsqueeze(0).to(self.device)
        with torch.inference_mode(), capture_layer(self.layer) as capture:
            self.model(x)
        layer_maps = capture.activations[0].float().cpu().numpy()
        return NeuronMaps(layer_maps, roi.shape, {**self.parameters, "seconds": time.perf_counter() - start})
