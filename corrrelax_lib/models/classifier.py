"""The paper's multi-label classifier: a torchvision backbone and a 2-layer dense head (§3.3)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from corrrelax_lib.models.backbones import build_backbone

# ImageNet channel statistics, as used by torchvision's pretrained weights.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: What the backbone sees of a [0, 1] input: ImageNet-normalised (this project) or as it is (the authors' code).
InputNormalisation = Literal["imagenet", "none"]


class MultiLabelClassifier(nn.Module):
    """Backbone ``f_extract`` and head ``f_predict``: ``logits = head(backbone(normalise(x)))``.

    The head replaces the backbone's final classification layer as in paper §3.3: Dropout 0.5,
    a hidden layer of 512 units with ReLU, and one output per label. The module returns logits;
    the paper's final Sigmoid is applied by callers: ``probabilities = torch.sigmoid(logits)``.

    Inputs are ``(N, 3, H, W)`` float images in [0, 1] (channels: original, CLAHE 1.0, CLAHE 2.0).
    The first step of the backbone path is a fixed normalisation ``(x - pixel_mean) / pixel_std`` kept in
    non-trainable buffers, so callers never normalise: ImageNet's mean and std (``"imagenet"``), or 0 and 1
    (``"none"``, the authors' code, whose crops enter the backbone in [0, 1]).

    Args:
        backbone: a name from ``corrrelax_lib.models.backbones.BACKBONES``, e.g. ``"efficientnet_v2_s"``.
        n_labels: number of labels ``C`` (the paper: 4 findings).
        weights: ``None`` (random initialisation) or a torchvision weights spec such as ``"DEFAULT"``.
        hidden_units: width of the head's hidden layer (paper: 512).
        dropout: drop probability of the head's first layer (paper: 0.5).
        input_normalisation: ``"imagenet"`` (this project; the paper does not say) or ``"none"``.
        output_bias: whether the head's last Linear has a bias (the paper: a dense layer; one version of
            the authors' code: none, so that a zero feature vector gives zero logits).

    Example:
        >>> model = MultiLabelClassifier("resnet18", n_labels=4).eval()
        >>> h, logits = model.features_and_logits(torch.rand(2, 3, 64, 64))
        >>> h.shape, logits.shape
        (torch.Size([2, 512]), torch.Size([2, 4]))
    """

    def __init__(
        self,
        backbone: str,
        n_labels: int,
        *,
        weights: str | None = None,
        hidden_units: int = 512,
        dropout: float = 0.5,
        input_normalisation: InputNormalisation = "imagenet",
        output_bias: bool = True,
    ) -> None:
        super().__init__()
        self.backbone_name = backbone
        self.backbone, self.feature_dim = build_backbone(backbone, weights)
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(self.feature_dim, hidden_units),
            nn.ReLU(inplace=False),
            nn.Linear(hidden_units, n_labels, bias=output_bias),
        )
        if input_normalisation not in ("imagenet", "none"):
            raise ValueError(f"input_normalisation must be 'imagenet' or 'none', got {input_normalisation!r}")
        mean, std = (IMAGENET_MEAN, IMAGENET_STD) if input_normalisation == "imagenet" else ((0.0,) * 3, (1.0,) * 3)
        self.register_buffer("pixel_mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("pixel_std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """One backbone pass giving the feature vector ``h`` (paper §3.4) and the logits.

        Args:
            x: ``(N, 3, H, W)`` float images in [0, 1].

        Returns:
            ``(h, logits)``: ``h`` of shape ``(N, D)`` with ``D = feature_dim``, the input of the head,
            whose cosine similarities CorRELAX correlates; ``logits`` of shape ``(N, C)``.
        """
        h = self.backbone((x - self.pixel_mean) / self.pixel_std)
        return h, self.head(h)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(N, C)`` for images ``x`` of shape ``(N, 3, H, W)`` in [0, 1]."""
        return self.features_and_logits(x)[1]
