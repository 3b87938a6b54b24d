"""The last convolutional feature map of each backbone, and hooks that capture it (for the CAM baselines).

Grad-CAM, Grad-CAM++ and Eigen-CAM read the activations ``A`` of a backbone's last spatial
feature map ``(N, K, h, w)`` (and, for the gradient methods, ``∂ logit_c / ∂A``).
:func:`last_conv_layer` names that module for every backbone of
:data:`~corrrelax_lib.models.backbones.BACKBONES`; :func:`capture_layer` records its output
with a forward hook that is removed when the ``with`` block ends, even on an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn

#: Per backbone, the submodule of ``model.backbone`` whose output is the last ``(N, K, h, w)`` feature map.
#: Torchvision runs avgpool (DenseNet a ReLU first) right after it. Swin's ``features`` give channels-last
#: ``(N, h, w, K)``; its ``permute`` module, after the final LayerNorm, gives the same tokens as ``(N, K, h, w)``.
TARGET_LAYERS: dict[str, str] = {
    "densenet121": "features",
    "efficientnet_v2_s": "features",
    "resnet50": "layer4",
    "swin_t": "permute",
    "vgg19": "features",
    "mobilenet_v3_large": "features",
    "mobilenet_v3_small": "features",
    "resnet18": "layer4",
    "small_cnn": "features",
}


def last_conv_layer(model: nn.Module) -> nn.Module:
    """The module of ``model.backbone`` whose output is the last feature map ``(N, K, h, w)``.

    Args:
        model: a :class:`~corrrelax_lib.models.classifier.MultiLabelClassifier` (it has
            ``backbone_name`` and ``backbone``).

    Raises:
        ValueError: ``model`` is not such a classifier, or its backbone has no known target layer.

    Example:
        >>> from corrrelax_lib.models.classifier import MultiLabelClassifier
        >>> model = MultiLabelClassifier("resnet18", 4)
        >>> last_conv_layer(model) is model.backbone.layer4
        True
    """
    name = getattr(model, "backbone_name", None)
    if name not in TARGET_LAYERS or not isinstance(getattr(model, "backbone", None), nn.Module):
        raise ValueError(f"no known last convolutional layer for {type(model).__name__} (backbone_name={name!r}); "
                         f"pass the target layer explicitly. Known backbones: {', '.join(TARGET_LAYERS)}")
    return model.backbone.get_submodule(TARGET_LAYERS[name])


def layer_name(model: nn.Module, layer: nn.Module) -> str:
    """The qualified name of ``layer`` inside ``model``, e.g. ``"backbone.layer4"``.

    Raises:
        ValueError: ``layer`` is not a submodule of ``model``.
    """
    for name, module in model.named_modules():
        if module is layer:
            return name
    raise ValueError(f"{type(layer).__name__} is not a submodule of {type(model).__name__}")


class LayerCapture:
    """What a forward hook recorded of one layer while :func:`capture_layer`'s block was open.

    Attributes:
        activations: ``(N, K, h, w)`` output of the layer's last call, or ``None`` before any call.
            With ``gradients=True`` it is a graph leaf that requires grad, so :meth:`gradient` can
            differentiate any later output with respect to it.
    """

    def __init__(self, gradients: bool) -> None:
        self.gradients = gradients
        self.activations: Tensor | None = None

    def hook(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> Tensor | None:
        """Forward hook: record the output; with gradients, continue the forward pass from the recorded leaf.

        The forward pass goes on with a copy (``clone``), so an in-place operation after the layer
        (DenseNet's ``relu(inplace=True)``) cannot change the recorded activations. Detaching cuts
        the graph upstream of the layer: the gradients reach ``A`` and stop there, whether or not
        the parameters require grad.
        """
        if not self.gradients:
            self.activations = output.detach().clone()
            return None
        self.activations = output.detach().requires_grad_(True)
        return self.activations.clone()

    def gradient(self, score: Tensor, *, retain_graph: bool = False) -> Tensor:
        """``∂ score / ∂A``, shaped like :attr:`activations`, without touching any parameter's ``.grad``.

        Args:
            score: a scalar computed from the forward pass after the layer, e.g. ``logits[:, c].sum()``
                (the sum over a batch gives every image its own gradient, images being independent in
                ``eval`` mode).
            retain_graph: keep the graph for another call (one per class).
        """
        if not self.gradients or self.activations is None:
            raise RuntimeError("gradients need capture_layer(..., gradients=True) and a forward pass")
        (grad,) = torch.autograd.grad(score, self.activations, retain_graph=retain_graph)
        return grad


@contextmanager
def capture_layer(layer: nn.Module, *, gradients: bool = False) -> Iterator[LayerCapture]:
    """Record ``layer``'s output during the forward passes run inside the block; the hook is always removed.

    Args:
        layer: the module to watch, e.g. :func:`last_conv_layer` of the model.
        gradients: make the recorded activations a graph leaf so that :meth:`LayerCapture.gradient`
            works (run the forward pass with grad enabled).

    Example:
        >>> from corrrelax_lib.models.classifier import MultiLabelClassifier
        >>> model = MultiLabelClassifier("small_cnn", 4).eval()
        >>> with capture_layer(last_conv_layer(model), gradients=True) as capture:
        ...     logits = model(torch.rand(2, 3, 64, 64))
        ...     capture.gradient(logits[:, 0].sum()).shape
        torch.Size([2, 256, 2, 2])
    """
    capture = LayerCapture(gradients)
    handle = layer.register_forward_hook(capture.hook)
    try:
        yield capture
    finally:
        handle.remove()
