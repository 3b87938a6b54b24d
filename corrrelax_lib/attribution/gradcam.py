"""Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
Localization", ICCV 2017): the last feature map weighted by the spatial mean of its gradient.

For class ``c`` with logit ``y^c`` and the ``K`` channels ``A^k`` of the last convolutional feature
map (``h × w`` positions):

- Eq. 1: ``α_k^c = 1/(h w) Σ_ij ∂y^c / ∂A^k_ij``, the channel weights;
- Eq. 2: ``L^c = ReLU(Σ_k α_k^c A^k)``, bilinearly upsampled to the input size.

``y^c`` is the logit (the score before the sigmoid), as the paper uses the score before the softmax.
Units: logits, not probabilities (for a linear head on average-pooled features, the map before the
ReLU summed over the ``h × w`` positions is the logit minus the bias).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from corrrelax_lib.attribution.layer_explainer import LayerExplainer
from corrrelax_lib.models.target_layers import capture_layer


class GradCAM(LayerExplainer):
    """Grad-CAM maps, one per class, computed with one backward pass per class over the whole batch.

    Args:
        model, labels: as :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`.
        target_layer: the module whose output is the feature map ``A`` ``(N, K, h, w)``; default
            :func:`~corrrelax_lib.models.target_layers.last_conv_layer` of ``model``.
        **options: the keyword arguments of :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`
            (``mode``, ``image_size``, ``window_size``, ``stride``, ...).

    Gradients are taken with :func:`torch.autograd.grad` with respect to ``A`` only: no parameter's
    ``.grad`` is written and no hook outlives :meth:`attribute`.

    Example:
        >>> from corrrelax_lib.models.classifier import MultiLabelClassifier
        >>> explainer = GradCAM(MultiLabelClassifier("small_cnn", 2), ["a", "b"], progress=False)
        >>> explainer.attribute(torch.rand(3, 3, 64, 64)).shape
        torch.Size([3, 2, 64, 64])
    """

    method = "Grad-CAM"

    def channel_weights(self, activations: Tensor, gradients: Tensor, scores: Tensor) -> Tensor:
        """Eq. 1: ``α_k^c``, the spatial mean of the gradient, ``(N, K)``.

        Args:
            activations: ``A``, ``(N, K, h, w)``.
            gradients: ``∂y^c / ∂A``, ``(N, K, h, w)``.
            scores: ``y^c``, ``(N,)`` logits (unused by Grad-CAM; Grad-CAM++ needs them).
        """
        return gradients.mean(dim=(2, 3))

    def attribute(self, x: Tensor) -> Tensor:
        """``(N, 3, H, W)`` images in [0, 1] → ``(N, C, H, W)`` maps ``L^c`` (Eq. 2), ≥ 0."""
        with torch.enable_grad(), capture_layer(self.target_layer, gradients=True) as capture:
            logits = self.model(x)
            n_classes = logits.shape[1]
            maps = []
            for c in range(n_classes):
                gradients = capture.gradient(logits[:, c].sum(), retain_graph=c + 1 < n_classes)
                activations = capture.activations.detach()
                weights = self.channel_weights(activations, gradients, logits[:, c].detach())
                # Eq. 2: the weighted sum of the channels, negative evidence cut by the ReLU.
                maps.append(F.relu(torch.einsum("nk,nkhw->nhw", weights, activations)))
        cam = torch.stack(maps, dim=1)
        return F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
