"""The base of the class-activation-map family: a :class:`RoiExplainer` that reads one layer's feature maps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from corrrelax_lib.attribution.roi_explainer import RoiExplainer
from corrrelax_lib.models.target_layers import last_conv_layer, layer_name


class LayerExplainer(RoiExplainer):
    """A :class:`RoiExplainer` whose maps come from the ``(N, K, h, w)`` output of ``target_layer``.

    Args:
        model, labels, options: those of :class:`RoiExplainer`.
        target_layer: the layer to read; default the backbone's last convolutional layer
            (:func:`~corrrelax_lib.models.target_layers.last_conv_layer`).
    """

    def __init__(self, model: nn.Module, labels: Sequence[str], *, target_layer: nn.Module | None = None,
                 **options: Any) -> None:
        super().__init__(model, labels, **options)
        self.target_layer = last_conv_layer(self.model) if target_layer is None else target_layer
        self.target_layer_name = layer_name(self.model, self.target_layer)

    def method_parameters(self) -> dict[str, Any]:
        """The target layer's qualified name, e.g. ``"backbone.layer4"`` (part of the cache key)."""
        return {"target_layer": self.target_layer_name}
