"""Local extremum mapping (LEM; Zhu et al., Bioengineering 2025): a weakly supervised classifier (§3.1–3.2).

A backbone's convolutional trunk gives the feature map ``F`` of shape ``(N, K, h, w)``; a 1×1
convolution, the spatial form of "GAP then fully connected", turns it into one score map per
class, ``S = w · F + b`` of shape ``(N, C, h, w)`` (Eq. 1–2). Two poolings turn a score map into
the image-level logit:

- GAP (Eq. 1), the warm-up of training: the mean of ``S``.
- LEM (Eq. 3–5): only the local extrema of ``S`` in their 3×3 neighbourhoods count. Positive local
  maxima stand for the suspected finding ("malignant" in the paper), negative local minima for its
  absence ("benign"); the logit is the mean of the maxima plus the mean of the minima.

The text of the paper we work from lost its formulas; Eq. 3–5 as implemented here follow its
prose (neighbourhoods of 4 / 6 / 9 points at corners / edges / inside, extrema as the only input of
the probability, maxima and minima aggregated separately); see :func:`lem_aggregates`.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from corrrelax_lib.models.backbones import build_backbone
from corrrelax_lib.models.classifier import IMAGENET_MEAN, IMAGENET_STD
from corrrelax_lib.preprocess.roi_input import resize_roi, roi_pixels

#: The backbones whose convolutional trunk :func:`conv_trunk` can take apart.
LEM_BACKBONES: tuple[str, ...] = ("small_cnn", "resnet18")

#: The two poolings of :meth:`LEMClassifier.forward`.
POOLINGS: tuple[str, ...] = ("lem", "gap")


def conv_trunk(backbone: str, weights: str | None = None) -> tuple[nn.Sequential, int]:
    """The convolutional layers of a backbone, up to its last feature map (before global pooling).

    Args:
        backbone: ``"small_cnn"`` (its ``features``) or ``"resnet18"`` (stem and ``layer1``–``layer4``).
        weights: ``None`` or a torchvision weights spec such as ``"DEFAULT"`` (ImageNet, as the paper).

    Returns:
        ``(trunk, channels)``: ``trunk`` maps ImageNet-normalised ``(N, 3, H, W)`` images to the feature
        map ``F`` of shape ``(N, channels, H/32, W/32)`` (rounded down), ``channels`` 256 or 512.

    Raises:
        ValueError: a backbone other than :data:`LEM_BACKBONES`.
    """
    if backbone not in LEM_BACKBONES:
        raise ValueError(f"LEM needs a backbone whose conv trunk it knows; {backbone!r} is not one of {LEM_BACKBONES}")
    model, channels = build_backbone(backbone, weights)
    if backbone == "small_cnn":
        return model.features, channels
    return nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool,
                         model.layer1, model.layer2, model.layer3, model.layer4), channels


def local_extrema(scores: Tensor) -> tuple[Tensor, Tensor]:
    """Where each score is the maximum, and the minimum, of its 3×3 neighbourhood (itself included).

    The neighbourhood is cut at the map's border: 4 points at a corner, 6 on an edge, 9 inside
    (paper §3.2). Ties count as extrema, so every point of a flat map is both.

    Args:
        scores: ``(N, C, h, w)`` score maps.

    Returns:
        ``(is_max, is_min)``, two bool tensors of the shape of ``scores``.

    >>> is_max, is_min = local_extrema(torch.tensor([[[[0., 2., 0., 0.], [1., 0., 0., 3.]]]]))
    >>> is_max.int().tolist(), is_min.int().tolist()
    ([[[[0, 1, 0, 0], [0, 0, 0, 1]]]], [[[[1, 0, 1, 1], [0, 1, 1, 0]]]])
    """
    # max_pool2d pads with -inf, so border windows see only the map's own points.
    neighbourhood_max = F.max_pool2d(scores, kernel_size=3, stride=1, padding=1)
    neighbourhood_min = -F.max_pool2d(-scores, kernel_size=3, stride=1, padding=1)
    return scores == neighbourhood_max, scores == neighbourhood_min


def extremum_masks(scores: Tensor) -> tuple[Tensor, Tensor]:
    """The sampling maps of Eq. 3 and 4: positive local maxima ``M⁺`` and negative local minima ``M⁻``.

    Args:
        scores: ``(N, C, h, w)`` score maps.

    Returns:
        ``(M⁺, M⁻)``: bool ``(N, C, h, w)``; ``M⁺`` where ``S`` is a local maximum and ``> 0``,
        ``M⁻`` where ``S`` is a local minimum and ``< 0``. They never overlap.
    """
    is_max, is_min = local_extrema(scores)
    return is_max & (scores > 0), is_min & (scores < 0)


def lem_aggregates(scores: Tensor) -> tuple[Tensor, Tensor]:
    """Eq. 5's aggregates: ``s⁺`` (mean positive local maximum) and ``s⁻`` (mean negative local minimum).

    A map without positive maxima has ``s⁺ = 0`` (no evidence for the finding), one without
    negative minima ``s⁻ = 0``. Gradients reach the extrema only; the masks are constants.

    Args:
        scores: ``(N, C, h, w)`` score maps.

    Returns:
        ``(s⁺, s⁻)``, each ``(N, C)``; ``s⁺ >= 0 >= s⁻``.

    >>> s_max, s_min = lem_aggregates(torch.tensor([[[[0., 2., -1., 0.], [1., 0., -3., 4.]]]]))
    >>> s_max.item(), s_min.item()
    (3.0, -3.0)
    """
    positive_max, negative_min = extremum_masks(scores.detach())
    s_max = (scores * positive_max).sum((2, 3)) / positive_max.sum((2, 3)).clamp_min(1)
    s_min = (scores * negative_min).sum((2, 3)) / negative_min.sum((2, 3)).clamp_min(1)
    return s_max, s_min


def lem_logits(scores: Tensor) -> Tensor:
    """LEM pooling (Eq. 5): logit ``s⁺ + s⁻`` of each class, so ``y = sigmoid(s⁺ + s⁻)``; ``(N, C)``."""
    s_max, s_min = lem_aggregates(scores)
    return s_max + s_min


def gap_logits(scores: Tensor) -> Tensor:
    """GAP pooling (Eq. 1): the mean of each ``(h, w)`` score map, ``(N, C, h, w) → (N, C)``."""
    return scores.mean((2, 3))


class LEMClassifier(nn.Module):
    """Conv trunk, 1×1 score convolution and GAP or LEM pooling: ``logits = pool(w · trunk(normalise(x)) + b)``.

    Inputs are ``(N, 3, H, W)`` float images in [0, 1] (channels: original, CLAHE 1.0, CLAHE 2.0),
    normalised inside with ImageNet statistics as in
    :class:`~corrrelax_lib.models.classifier.MultiLabelClassifier`. The module returns logits; the
    probability of class ``c`` is ``sigmoid(logits[:, c])``, one binary problem per class (the
    paper's single "malignant" output, once per finding).

    Args:
        backbone: one of :data:`LEM_BACKBONES`.
        n_labels: number of classes ``C``, one score map each.
        weights: ``None`` (random initialisation) or a torchvision weights spec (paper: ImageNet).

    Example:
        >>> model = LEMClassifier("small_cnn", n_labels=7).eval()
        >>> x = torch.rand(2, 3, 256, 160)
        >>> model.score_maps(x).shape, model(x).shape, model(x, pooling="gap").shape
        (torch.Size([2, 7, 8, 5]), torch.Size([2, 7]), torch.Size([2, 7]))
    """

    def __init__(self, backbone: str, n_labels: int, *, weights: str | None = None) -> None:
        super().__init__()
        self.backbone_name = backbone
        self.trunk, self.feature_channels = conv_trunk(backbone, weights)
        # Eq. 2: the fully connected layer after GAP, applied at every position.
        self.score = nn.Conv2d(self.feature_channels, n_labels, kernel_size=1)
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def feature_map(self, x: Tensor) -> Tensor:
        """The trunk's last feature map ``F``: ``(N, 3, H, W)`` in [0, 1] → ``(N, K, h, w)``, non-negative."""
        return self.trunk((x - self.pixel_mean) / self.pixel_std)

    def score_maps(self, x: Tensor) -> Tensor:
        """Score maps ``S`` (Eq. 2): ``(N, 3, H, W)`` in [0, 1] → ``(N, C, h, w)``, one per class."""
        return self.score(self.feature_map(x))

    def forward(self, x: Tensor, pooling: str = "lem") -> Tensor:
        """Logits ``(N, C)`` of images ``(N, 3, H, W)`` in [0, 1], pooled by ``"lem"`` (Eq. 5) or ``"gap"`` (Eq. 1)."""
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose from {POOLINGS}")
        scores = self.score_maps(x)
        return lem_logits(scores) if pooling == "lem" else gap_logits(scores)


def to_model_input(image: np.ndarray, image_size: tuple[int, int]) -> Tensor:
    """A whole ROI image as LEM sees it: resized to a fixed ``(height, width)`` by the one whole-ROI rule
    (:func:`~corrrelax_lib.preprocess.roi_input.resize_roi`: area averaging when shrinking, else bilinear).

    The paper resizes every mammogram to one standard size; the aspect ratio is not kept.

    Args:
        image: ``(h, w, 3)`` ROI image, uint8 (divided by 255) or float in [0, 1].
        image_size: ``(height, width)`` of the model input, pixels.

    Returns:
        ``(3, height, width)`` float32 in [0, 1].
    """
    resized = resize_roi(roi_pixels(image), (int(image_size[0]), int(image_size[1])))
    return torch.from_numpy(np.ascontiguousarray(resized.transpose(2, 0, 1)))
