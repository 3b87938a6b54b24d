"""MLDAM: a multi-level dual-attention head on a CNN backbone, and its baseline without attention.

The related work of our MLDAM chapter (Gonçalves 2021, "Towards the application of attention
mechanisms for medical image classification", §3.2.3 and Figure 1) adapts the multi-level
dual-attention module (MLDAM) of Mishra et al. (2019) to pretrained backbones. Neither paper's
text states the formulas; they follow Figure 1/2 and the authors' released code. Three levels of
the backbone are tapped, ``I_A`` (shallow, 28 × 28 at 224 px in the paper), ``I_B`` (14 × 14) and
``I_C`` (the last, 7 × 7). With ``x_p`` the feature vector at position ``p`` of a level and
positions flattened to ``p = 1 … P``:

* position (spatial) attention, Eq. (M1): queries from ``I_A``, keys from ``I_B``, values from
  ``I_C``, ``I_A`` and ``I_B`` first average-pooled to the grid of ``I_C``::

      S_ij = softmax_j(q_i · k_j),    PAM_i = Σ_j S_ij v_j + v_i

* channel attention, Eq. (M2), on ``I_C`` alone, with ``x_c`` the map of channel ``c``::

      A_cd = softmax_d(x_c · x_d),    CAM_c = Σ_d A_cd x_d + x_c

* fusion, Eq. (M3): ``F = ½ [LN(ReLU(PAM)) + LN(ReLU(CAM))]``, LN a layer norm over channels at
  every position;
* classifier, Eq. (M4): ``flatten(F)`` → Linear 512 → ReLU → Dropout 0.25 → Linear 512 → ReLU →
  Dropout 0.25 → Linear ``C`` (logits; the paper's Sigmoid is applied by callers).

The baseline (``attention=False``) feeds ``flatten(I_C)`` to the same classifier, so the two models
differ by the attention alone.

Choices where the sources disagree or are silent (the MLDAM chapter lists them):

* Query and key levels have fewer channels than ``I_C``; as in Gonçalves' code they are tiled
  (copied along channels) to the channel count of ``I_C``, which must be a multiple of theirs.
* Channel attention takes a softmax over ``d`` as in the CAM of Figure 2 (Chen & Ross); Mishra et
  al.'s code uses the raw Gram matrix, which is neither bounded nor displayable as weights.
* Pooling to the grid of ``I_C`` is adaptive average pooling: the paper's AvgPool 4 × 4 and 2 × 2
  at 224 px, and the same for any input side that is a multiple of the backbone's stride.
* The paper's baseline is the backbone with one Linear layer on flattened features; ours shares
  the MLDAM classifier to isolate the attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from corrrelax_lib.models.backbones import build_backbone
from corrrelax_lib.models.classifier import IMAGENET_MEAN, IMAGENET_STD

#: Backbones the MLDAM head can tap (``resnet50`` is the paper's; ``small_cnn`` and ``resnet18`` for CPU runs).
MLDAM_BACKBONES: tuple[str, ...] = ("small_cnn", "resnet18", "resnet50")


@dataclass(frozen=True)
class AttentionMaps:
    """The MLDAM's attention weights for a batch of ``N`` images (every row sums to 1).

    Attributes:
        position: ``(N, P, P)`` weights ``S_ij`` of Eq. (M1), query position ``i`` (rows) over key
            position ``j``; ``P = h × w`` positions of ``I_C``'s grid, row-major.
        channel: ``(N, C, C)`` weights ``A_cd`` of Eq. (M2), ``C`` channels of ``I_C``.
        spatial: ``(N, h, w)`` attention each position receives, ``S_ij`` averaged over queries
            ``i``: in [0, 1], summing to 1 over the grid; the map to draw over an image.
    """

    position: Tensor
    channel: Tensor
    spatial: Tensor


def position_attention(value: Tensor, query: Tensor, key: Tensor) -> tuple[Tensor, Tensor]:
    """Eq. (M1): ``PAM_i = Σ_j softmax_j(q_i · k_j) v_j + v_i`` at every position ``i``.

    Args:
        value: ``(N, C, h, w)`` features ``v`` (``I_C``).
        query: ``(N, D, h, w)`` features ``q`` (pooled, tiled ``I_A``).
        key: ``(N, D, h, w)`` features ``k`` (pooled, tiled ``I_B``).

    Returns:
        ``(refined, weights)``: ``(N, C, h, w)`` and ``(N, P, P)`` with ``P = h w``.

    Example:
        >>> v = torch.arange(4.0).view(1, 1, 2, 2)
        >>> refined, weights = position_attention(v, torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2))
        >>> refined.flatten().tolist()  # equal energies: the mean 1.5 is added everywhere
        [1.5, 2.5, 3.5, 4.5]
    """
    values = value.flatten(2)  # (N, C, P)
    energy = query.flatten(2).transpose(1, 2) @ key.flatten(2)  # (N, P, P): q_i · k_j
    weights = energy.softmax(dim=-1)
    refined = values @ weights.transpose(1, 2)  # column i: Σ_j S_ij v_j
    return refined.view_as(value) + value, weights


def channel_attention(features: Tensor) -> tuple[Tensor, Tensor]:
    """Eq. (M2): ``CAM_c = Σ_d softmax_d(x_c · x_d) x_d + x_c`` for every channel map ``x_c``.

    Args:
        features: ``(N, C, h, w)`` features ``x`` (``I_C``).

    Returns:
        ``(refined, weights)``: ``(N, C, h, w)`` and ``(N, C, C)``.

    Example:
        >>> refined, weights = channel_attention(torch.full((1, 1, 2, 2), 3.0))
        >>> weights.item(), refined.flatten().tolist()  # one channel: its weight is 1
        (1.0, [6.0, 6.0, 6.0, 6.0])
    """
    maps = features.flatten(2)  # (N, C, P)
    weights = (maps @ maps.transpose(1, 2)).softmax(dim=-1)  # (N, C, C): x_c · x_d
    return (weights @ maps).view_as(features) + features, weights


def _backbone_stages(backbone: str, weights: str | None) -> nn.ModuleList:
    """The backbone as stages run one after the other; the last three give ``I_A, I_B, I_C``."""
    if backbone not in MLDAM_BACKBONES:
        raise ValueError(f"MLDAM supports the backbones {', '.join(MLDAM_BACKBONES)}; got {backbone!r}")
    model, _ = build_backbone(backbone, weights)
    if backbone == "small_cnn":  # stem, then four conv stages (32, 64, 128, 256 channels)
        return nn.ModuleList(model.features)
    stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool, model.layer1)
    return nn.ModuleList([stem, model.layer2, model.layer3, model.layer4])


def _tile_channels(features: Tensor, channels: int) -> Tensor:
    """``(N, c, h, w)`` → ``(N, channels, h, w)`` by repeating the ``c`` channels ``channels / c`` times."""
    return features.repeat(1, channels // features.shape[1], 1, 1)


def _channel_layer_norm(features: Tensor, norm: nn.LayerNorm) -> Tensor:
    """``norm`` over the channels of ``(N, C, h, w)`` features, separately at every position."""
    return norm(features.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class MLDAMClassifier(nn.Module):
    """Backbone levels → dual attention (Eqs. M1–M3) → classifier (Eq. M4); logits ``(N, C)``.

    Inputs are ``(N, 3, H, W)`` float images in [0, 1], normalised inside with the ImageNet
    statistics as :class:`~corrrelax_lib.models.classifier.MultiLabelClassifier`, whose interface
    (``features_and_logits``, ``forward`` → logits) this shares: the training loop and the
    attribution methods take either.

    Args:
        backbone: one of :data:`MLDAM_BACKBONES`.
        n_labels: number of outputs ``C``.
        weights: ``None`` (random initialisation) or a torchvision weights spec such as ``"DEFAULT"``.
        attention: ``False`` for the baseline: ``flatten(I_C)`` straight into the classifier.
        input_size: side of the square input, pixels; the flattened features' length depends on it
            (the paper: 224; our crops: the profile's ``crop_size``).
        hidden_units: width of the classifier's two hidden layers (Mishra et al.: 512).
        dropout: drop probability after each hidden layer (Mishra et al.: 0.25).

    Raises:
        ValueError: unknown backbone, or ``I_C``'s channels not a multiple of ``I_A``'s and ``I_B``'s.

    Example:
        >>> model = MLDAMClassifier("small_cnn", n_labels=4, input_size=64).eval()
        >>> h, logits = model.features_and_logits(torch.rand(2, 3, 64, 64))
        >>> h.shape, logits.shape  # h = flatten(F): 256 channels on a 2 × 2 grid
        (torch.Size([2, 1024]), torch.Size([2, 4]))
        >>> model.attention_maps(torch.rand(2, 3, 64, 64)).spatial.shape
        torch.Size([2, 2, 2])
    """

    def __init__(
        self,
        backbone: str,
        n_labels: int,
        *,
        weights: str | None = None,
        attention: bool = True,
        input_size: int = 224,
        hidden_units: int = 512,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        self.backbone_name, self.n_labels = backbone, n_labels
        self.attention = attention
        self.input_size = input_size
        self.stages = _backbone_stages(backbone, weights)
        self.register_buffer("pixel_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        shapes = self._level_shapes(input_size)
        (channels_a, _, _), (channels_b, _, _), (channels, height, width) = shapes
        if channels % channels_a or channels % channels_b:
            raise ValueError(f"{backbone}: I_C has {channels} channels, not a multiple of I_A's {channels_a} "
                             f"and I_B's {channels_b}")
        self.channels, self.grid = channels, (height, width)
        self.feature_dim = channels * height * width
        self.position_norm = nn.LayerNorm(channels) if attention else None
        self.channel_norm = nn.LayerNorm(channels) if attention else None
        self.head = nn.Sequential(
            nn.Linear(self.feature_dim, hidden_units), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden_units, hidden_units), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden_units, n_labels),
        )

    def _level_shapes(self, input_size: int) -> list[tuple[int, int, int]]:
        """``(channels, height, width)`` of ``I_A, I_B, I_C`` for one zero image, from one eval-mode pass."""
        was_training = self.training
        self.eval()
        with torch.no_grad():
            levels = self._levels(torch.zeros(1, 3, input_size, input_size))
        self.train(was_training)
        return [tuple(level.shape[1:]) for level in levels]

    def _levels(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``I_A, I_B, I_C``: outputs of the last three stages for images ``(N, 3, H, W)`` in [0, 1]."""
        outputs, features = [], (x - self.pixel_mean) / self.pixel_std
        for stage in self.stages:
            features = stage(features)
            outputs.append(features)
        return outputs[-3], outputs[-2], outputs[-1]

    def _fused(self, x: Tensor) -> tuple[Tensor, AttentionMaps | None]:
        """``F`` of Eq. (M3) ``(N, C, h, w)`` (``I_C`` for the baseline) and the attention weights."""
        level_a, level_b, level_c = self._levels(x)
        if not self.attention:
            return level_c, None
        # Queries and keys: the shallower levels pooled to I_C's grid and tiled to its channels.
        query = _tile_channels(F.adaptive_avg_pool2d(level_a, self.grid), self.channels)
        key = _tile_channels(F.adaptive_avg_pool2d(level_b, self.grid), self.channels)
        position, position_weights = position_attention(level_c, query, key)
        channel, channel_weights = channel_attention(level_c)
        fused = 0.5 * (_channel_layer_norm(F.relu(position), self.position_norm)
                       + _channel_layer_norm(F.relu(channel), self.channel_norm))
        spatial = position_weights.mean(dim=1).view(-1, *self.grid)
        return fused, AttentionMaps(position_weights, channel_weights, spatial)

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """``(h, logits)``: ``h = flatten(F)`` of shape ``(N, feature_dim)``, the classifier's input, and ``(N, C)``.

        Args:
            x: ``(N, 3, input_size, input_size)`` float images in [0, 1].
        """
        fused, _ = self._fused(x)
        h = torch.flatten(fused, 1)
        return h, self.head(h)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, C)`` for images ``x`` of shape ``(N, 3, input_size, input_size)`` in [0, 1]."""
        return self.features_and_logits(x)[1]

    def attention_maps(self, x: Tensor) -> AttentionMaps:
        """The attention weights of Eqs. (M1) and (M2) for images ``(N, 3, input_size, input_size)`` in [0, 1].

        Raises:
            ValueError: the baseline (``attention=False``) has none.
        """
        if not self.attention:
            raise ValueError("the baseline MLDAMClassifier(attention=False) has no attention maps")
        return self._fused(x)[1]
