"""Eigen-CAM (Muhammad & Yeasin, "Eigen-CAM: Class Activation Map using Principal Components", IJCNN 2020):
the last feature map projected on its first principal direction. No gradients, no classes.

Per image, the activations of the last convolutional layer form the matrix ``O`` of ``h·w``
positions × ``K`` channels. With its singular value decomposition ``O = U Σ Vᵀ`` the map is the
projection ``O V_1`` on the first right singular vector (§III of the paper), reshaped to ``h × w``
and bilinearly upsampled to the input size.

As in the paper, ``O`` is **not** mean-centred (pytorch-grad-cam centres the positions first, which
makes the map a contrast around the mean position). A singular vector's sign is arbitrary; it is
fixed so that the map has a positive inner product with the mean activation ``(1/K) Σ_k A^k``
(``Σ_k V_1[k] > 0``): for non-negative activations (after a ReLU) the map is then non-negative.

The map is class-agnostic: every class gets the same map. Units: activation units.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from corrrelax_lib.attribution.layer_explainer import LayerExplainer
from corrrelax_lib.models.target_layers import capture_layer


class EigenCAM(LayerExplainer):
    """Eigen-CAM maps: the first principal projection of the last feature map, the same for every class.

    Args:
        model, labels: as :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`.
        target_layer: the module whose output is the feature map ``(N, K, h, w)``; default
            :func:`~corrrelax_lib.models.target_layers.last_conv_layer` of ``model``.
        **options: the keyword arguments of :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`.

    Example:
        >>> from corrrelax_lib.models.classifier import MultiLabelClassifier
        >>> explainer = EigenCAM(MultiLabelClassifier("small_cnn", 2), ["a", "b"], progress=False)
        >>> maps = explainer.attribute(torch.rand(3, 3, 64, 64))
        >>> maps.shape, bool((maps[:, 0] == maps[:, 1]).all())
        (torch.Size([3, 2, 64, 64]), True)
    """

    method = "Eigen-CAM"

    def attribute(self, x: Tensor) -> Tensor:
        """``(N, 3, H, W)`` images in [0, 1] → ``(N, C, H, W)``, the same ``O V_1`` map for each of the C classes."""
        with torch.no_grad(), capture_layer(self.target_layer) as capture:
            self.model(x)
        activations = capture.activations.float()
        n, _, height, width = activations.shape
        positions = activations.flatten(2).transpose(1, 2)  # O: (N, h·w, K), not centred
        _, _, right = torch.linalg.svd(positions, full_matrices=False)
        first = right[:, 0]  # V_1: (N, K)
        # Sign: a positive inner product with the mean activation O·1/K, i.e. Σ_k V_1[k] > 0.
        first = first * torch.where(first.sum(dim=1, keepdim=True) < 0, -1.0, 1.0)
        projection = (positions @ first[:, :, None]).view(n, 1, height, width)
        cam = F.interpolate(projection, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return cam.repeat(1, len(self.labels), 1, 1)
