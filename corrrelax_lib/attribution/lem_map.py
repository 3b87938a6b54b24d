"""LEM's lesion localisation (Zhu et al. 2025, §3.4, Algorithm 2): extrema backpropagated through positive weights.

The extrema of a class's score map (Eq. 3–4) are the starting importance, shared in proportion
to their scores (their parts of ``s⁺`` or ``s⁻`` in Eq. 5). Importance then flows down layer by
layer, each neuron handing it to its inputs in proportion to their positive contributions
(Eq. 10, excitation backprop)::

    P(a_i) = Σ_j  P(a_j) · a_i · max(w_ij, 0) / Z_j ,    Z_j = Σ_i' a_i' · max(w_i'j, 0)

so that every step keeps the total importance. In the score layer (Eq. 11) a maximum takes the
positive weights of the 1×1 convolution and a minimum the negative ones, because scores have no
ReLU. The map of a class is the importance that reaches each input pixel.

How our layers map onto Eq. 10: a convolution and its BatchNorm are one linear step (BatchNorm's
scale folded into the weights); ReLU passes importance unchanged; max pooling hands it to the
winning input; a ResNet block's sum shares it between the residual branch and the shortcut by
their positive contributions; the first convolution sees the [0, 1] image with the ImageNet
standard deviations folded into its weights, so every step has non-negative inputs.

:class:`LEM` is the localisation map as an :class:`~corrrelax_lib.attribution.explainer.Explainer`;
:class:`LEMScoreMap` the simpler map the paper compares with, the class activation map: the score
map ``S`` itself upsampled to the image.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock

from corrrelax_lib.attribution.explainer import Explainer, PreparedRoi
from corrrelax_lib.attribution.heatmaps import ClassHeatmaps
from corrrelax_lib.models.lem import LEMClassifier, extremum_masks, lem_logits

#: Which extrema start the backpropagation: positive maxima (evidence for the label), negative
#: minima (evidence against it), or Algorithm 2's choice, maxima where ``sigmoid(logit) > 0.5`` else minima.
EXTREMA: tuple[str, ...] = ("maxima", "minima", "predicted")


def extremum_seeds(scores: Tensor, extrema: str = "maxima") -> tuple[Tensor, Tensor]:
    """The importance the backpropagation starts from, on the score maps.

    Each positive local maximum gets its share ``S_ij / Σ S`` of the class's maxima, each negative
    local minimum ``|S_ij| / Σ |S|`` of its minima (Eq. 3–5), so each used kind sums to 1. A class
    without positive maxima starts from its global maximum instead (without negative minima, its
    global minimum): the place the model finds most (least) like the label.

    Args:
        scores: ``(N, C, h, w)`` score maps.
        extrema: one of :data:`EXTREMA`.

    Returns:
        ``(seeds_max, seeds_min)``, each ``(N, C, h, w)`` non-negative; for each image and class one
        of them sums to 1 and the other is 0.

    >>> seeds_max, _ = extremum_seeds(torch.tensor([[[[3.0, 0.0, 1.0]]]]))
    >>> seeds_max.tolist()
    [[[[0.75, 0.0, 0.25]]]]
    """
    if extrema not in EXTREMA:
        raise ValueError(f"unknown extrema {extrema!r}; choose from {EXTREMA}")
    positive_max, negative_min = extremum_masks(scores)
    seeds_max = _shares(scores.clamp_min(0) * positive_max, scores)
    seeds_min = _shares((-scores).clamp_min(0) * negative_min, -scores)
    use_max = torch.full(scores.shape[:2], extrema != "minima", device=scores.device)
    if extrema == "predicted":
        use_max = lem_logits(scores) > 0
    use_max = use_max[:, :, None, None]
    return seeds_max * use_max, seeds_min * ~use_max


def positive_weight_backprop(model: LEMClassifier, x: Tensor, seeds_max: Tensor, seeds_min: Tensor) -> Tensor:
    """Importance of every input pixel for the seeded extrema of each class (Eq. 10–11).

    Args:
        model: the classifier, in eval mode (BatchNorm running statistics are folded into weights).
        x: ``(N, 3, H, W)`` images in [0, 1].
        seeds_max, seeds_min: ``(N, C, h, w)`` non-negative importance of the score maps' maxima and
            minima (:func:`extremum_seeds`).

    Returns:
        ``(N, C, H, W)`` non-negative importance, summed over the 3 input channels. Per image and
        class it sums to the seeds' total, less what reaches neurons without positive inputs.
    """
    steps = _steps(model.trunk)
    if not isinstance(steps[0], _ConvBN):
        raise TypeError(f"the trunk must start with a convolution, not {type(steps[0]).__name__}")
    with torch.no_grad():
        inputs = [(x - model.pixel_mean) / model.pixel_std]
        for step in steps:
            inputs.append(step(inputs[-1]))
    # The first convolution's input is the [0, 1] image; 1 / std goes into its weights.
    inputs[0] = x
    features = inputs.pop()
    # Eq. 11: maxima reach the features through the positive weights, minima through the negative ones.
    # Classes are a leading batch dimension: class c's seeds sit in channel c of the c-th copy.
    weight = model.score.weight.detach()
    one_class = torch.eye(weight.shape[0], dtype=x.dtype, device=x.device)[:, None, :, None, None]
    importance = sum(
        _excite(lambda f, kernel=kernel: F.conv2d(f, kernel), [features], one_class * seeds[None])[0]
        for kernel, seeds in ((weight.clamp_min(0), seeds_max), ((-weight).clamp_min(0), seeds_min))
    )
    for index in range(len(steps) - 1, -1, -1):
        input_scale = 1 / model.pixel_std.view(-1) if index == 0 else None
        importance = _backprop_step(steps[index], inputs[index], importance, input_scale)
    return importance.sum(2).transpose(0, 1)


class LEMScoreMap(Explainer):
    """The score maps ``S`` (Eq. 2) upsampled (bilinear) to ROI pixels: LEM's class activation maps.

    The ROI is resized to the model input as in training (the one whole-ROI rule,
    :meth:`~corrrelax_lib.attribution.explainer.PreparedRoi.resized`, aspect not kept), attributed by
    :meth:`attribute`, resized back (bilinear) and set to NaN outside the breast. The maps are scores
    (logit units), method ``"LEM score map"``.

    Args:
        model: the trained classifier (:attr:`corrrelax_lib.training.lem.LEMRun.model`).
        labels: the model's ``C`` labels, in output order.
        image_size: ``(height, width)`` of the model input (the run's ``config.image_size``).

    Example:
        >>> maps = LEMScoreMap(run.model, run.config.labels, run.config.image_size).explain(roi)  # doctest: +SKIP
        >>> maps.pixel_map("heatmap", "Mass").shape == roi.shape[:2]                               # doctest: +SKIP
        True
    """

    method = "LEM score map"
    result_type = ClassHeatmaps

    def __init__(self, model: LEMClassifier, labels: Sequence[str], image_size: tuple[int, int]) -> None:
        self.model = model.eval()
        self.labels = tuple(labels)
        self.image_size = (int(image_size[0]), int(image_size[1]))

    @property
    def parameters(self) -> dict[str, Any]:
        """The method and the model input's size."""
        return {"method": self.method, "image_size": list(self.image_size)}

    def attribute(self, x: Tensor) -> Tensor:
        """``(N, 3, h, w)`` images in [0, 1] → ``(N, C, h', w')`` score maps ``S`` (Eq. 2)."""
        with torch.no_grad():
            return self.model.score_maps(x)

    def explain_roi(self, roi: PreparedRoi) -> ClassHeatmaps:
        """Maps ``(C, H, W)`` of one prepared ROI: :meth:`attribute` of the resized ROI, back in ROI pixels."""
        start = time.perf_counter()
        x = torch.from_numpy(roi.resized(self.image_size))[None].to(self.model.score.weight.device)
        planes = self.attribute(x)[0].double().cpu().numpy()
        heatmaps = np.stack([roi.to_roi(plane) for plane in planes])
        return ClassHeatmaps(self.method, self.labels, heatmaps,
                             metadata={**self.parameters, "seconds": time.perf_counter() - start})


class LEM(LEMScoreMap):
    """LEM's localisation maps, one per class, in ROI pixels (Algorithm 2): method ``"LEM"``.

    The importance of the input pixels (:func:`positive_weight_backprop`) from the extrema of the score maps
    (:func:`extremum_seeds`), otherwise as :class:`LEMScoreMap`. Each class's map sums to at most 1 at the
    model's input size.

    Args:
        model, labels, image_size: as :class:`LEMScoreMap`.
        extrema: which extrema start the backpropagation, one of :data:`EXTREMA`.
    """

    method = "LEM"

    def __init__(self, model: LEMClassifier, labels: Sequence[str], image_size: tuple[int, int], *,
                 extrema: str = "maxima") -> None:
        if extrema not in EXTREMA:
            raise ValueError(f"unknown extrema {extrema!r}; choose from {EXTREMA}")
        super().__init__(model, labels, image_size)
        self.extrema = extrema

    @property
    def parameters(self) -> dict[str, Any]:
        """The method, the model input's size and the extrema."""
        return {**super().parameters, "extrema": self.extrema}

    def attribute(self, x: Tensor) -> Tensor:
        """``(N, 3, h, w)`` images in [0, 1] → ``(N, C, h, w)`` importance per input pixel (Eq. 10–11)."""
        with torch.no_grad():
            seeds = extremum_seeds(self.model.score_maps(x), self.extrema)
        return positive_weight_backprop(self.model, x, *seeds)


def _steps(trunk: nn.Sequential) -> list[nn.Module]:
    """The trunk as Eq. 10 steps: nested ``nn.Sequential`` opened, each convolution merged with its BatchNorm.

    Raises:
        TypeError: a layer the backpropagation has no rule for.
    """
    layers = _flatten(trunk)
    steps: list[nn.Module] = []
    for index, layer in enumerate(layers):
        if isinstance(layer, nn.BatchNorm2d) and index > 0 and isinstance(layers[index - 1], nn.Conv2d):
            continue  # merged into the convolution before it
        if isinstance(layer, nn.Conv2d):
            following = layers[index + 1] if index + 1 < len(layers) else None
            steps.append(_ConvBN(layer, following if isinstance(following, nn.BatchNorm2d) else None))
        elif isinstance(layer, nn.ReLU | nn.MaxPool2d | BasicBlock):
            steps.append(layer)
        else:
            raise TypeError(f"positive-weight backprop has no rule for the layer {type(layer).__name__}")
    return steps


def _flatten(module: nn.Module) -> list[nn.Module]:
    """Leaves of nested ``nn.Sequential`` in order; any other module is one leaf."""
    if isinstance(module, nn.Sequential):
        return [leaf for child in module for leaf in _flatten(child)]
    return [module]


class _ConvBN(nn.Module):
    """A convolution and the BatchNorm after it (or none): one linear step of Eq. 10."""

    def __init__(self, conv: nn.Conv2d, norm: nn.BatchNorm2d | None) -> None:
        super().__init__()
        self.conv, self.norm = conv, norm

    def forward(self, a: Tensor) -> Tensor:
        """The real output (the eval-mode BatchNorm of the convolution)."""
        return self.conv(a) if self.norm is None else self.norm(self.conv(a))

    def positive(self, input_scale: Tensor | None = None) -> Callable[[Tensor], Tensor]:
        """The convolution with weights ``max(w · γ / σ, 0)`` (times ``input_scale`` per input channel), no bias."""
        weight = self.conv.weight
        if self.norm is not None:
            weight = weight * (self.norm.weight / torch.sqrt(self.norm.running_var + self.norm.eps)).view(-1, 1, 1, 1)
        if input_scale is not None:
            weight = weight * input_scale.view(1, -1, 1, 1)
        weight = weight.detach().clamp_min(0)
        conv = self.conv
        return lambda a: F.conv2d(a, weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)


def _shares(weights: Tensor, fallback: Tensor) -> Tensor:
    """``weights`` normalised to sum 1 per ``(n, c)`` map; an all-zero map becomes one-hot at ``fallback``'s maximum."""
    total = weights.sum((2, 3), keepdim=True)
    flat = fallback.flatten(2)
    one_hot = F.one_hot(flat.argmax(-1), flat.shape[-1]).to(weights.dtype).view_as(weights)
    return torch.where(total > 0, weights / torch.where(total > 0, total, 1), one_hot)


def _excite(linear_map: Callable[..., Tensor], inputs: list[Tensor], importance: Tensor) -> list[Tensor]:
    """Eq. 10 for one step ``z = linear_map(*inputs)`` whose weights are non-negative.

    ``P(a_i) = a_i · ∂/∂a_i Σ_j z_j · P(a_j) / z_j``: the gradient carries ``P / Z`` down the
    positive weights; where ``Z = 0`` nothing flows. ``importance`` is ``(B, *z.shape)``, ``B``
    maps at once; so are the returned input importances, ``(B, *a.shape)`` each.
    """
    inputs = [a.detach().requires_grad_(True) for a in inputs]
    with torch.enable_grad():
        z = linear_map(*inputs)
        share = torch.where(z > 0, importance / torch.where(z > 0, z, 1), 0)
        grads = torch.autograd.grad(z, inputs, share, is_grads_batched=True)
    return [a.detach() * grad for a, grad in zip(inputs, grads, strict=True)]


def _backprop_step(step: nn.Module, a: Tensor, importance: Tensor, input_scale: Tensor | None) -> Tensor:
    """Importance of the input ``a`` of one step from the importance of its output."""
    if isinstance(step, nn.ReLU):
        return importance  # a neuron hands its importance to its own input
    if isinstance(step, nn.MaxPool2d):
        # All of a pooled neuron's importance goes to the input that won it.
        a = a.detach().requires_grad_(True)
        with torch.enable_grad():
            return torch.autograd.grad(step(a), a, importance, is_grads_batched=True)[0]
    if isinstance(step, _ConvBN):
        return _excite(step.positive(input_scale), [a], importance)[0]
    return _backprop_block(step, a, importance)


def _backprop_block(block: BasicBlock, x: Tensor, importance: Tensor) -> Tensor:
    """A ResNet block ``relu(bn2(conv2(h)) + shortcut(x))``, ``h = relu(bn1(conv1(x)))``.

    The sum is one linear step over ``h`` and ``x``: its importance is shared between the branch
    and the shortcut by their positive contributions, then the branch's part goes through ``conv1``.
    """
    first, second = _ConvBN(block.conv1, block.bn1), _ConvBN(block.conv2, block.bn2)
    with torch.no_grad():
        h = F.relu(first(x))
    branch = second.positive()
    shortcut = (lambda s: s) if block.downsample is None else _ConvBN(*block.downsample).positive()
    from_h, from_x = _excite(lambda h, s: branch(h) + shortcut(s), [h, x], importance)
    return from_x + _excite(first.positive(), [x], from_h)[0]
