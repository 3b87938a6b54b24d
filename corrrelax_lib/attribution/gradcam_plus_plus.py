"""Grad-CAM++ (Chattopadhay et al., "Grad-CAM++: Generalized Gradient-Based Visual Explanations for Deep
Convolutional Networks", WACV 2018): Grad-CAM with pixel-wise weights on the positive gradients.

With the exponential score ``Y^c = exp(S^c)`` of the logit ``S^c`` and a piecewise-linear network
after the feature map ``A`` (so that the higher derivatives of ``S^c`` vanish), the weights have a
closed form in the gradient ``g = ∂S^c / ∂A`` (the paper's Eq. 19):

- ``α^kc_ij = g_ij² / (2 g_ij² + Σ_ab A^k_ab · g_ij³)``, and 0 where the denominator is 0;
- ``w^c_k = Σ_ij α^kc_ij · ReLU(∂Y^c / ∂A^k_ij) = exp(S^c) · Σ_ij α^kc_ij · ReLU(g_ij)``;
- ``L^c = ReLU(Σ_k w^c_k A^k)``, bilinearly upsampled to the input size.

``exp(S^c)`` cancels in ``α`` but not in ``w``: it is kept, as in the paper, so maps scale with
``exp`` of the logit (a window with a higher logit weighs more in ``"windows"`` mode); logits above
about 88 overflow float32 to ``inf``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from corrrelax_lib.attribution.gradcam import GradCAM


class GradCAMPlusPlus(GradCAM):
    """Grad-CAM++ maps: :class:`~corrrelax_lib.attribution.gradcam.GradCAM` with the weights of Eq. 19.

    Same arguments as :class:`~corrrelax_lib.attribution.gradcam.GradCAM` (``model``, ``labels``,
    ``target_layer`` and the :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer` options).

    Example:
        >>> from corrrelax_lib.models.classifier import MultiLabelClassifier
        >>> explainer = GradCAMPlusPlus(MultiLabelClassifier("small_cnn", 2), ["a", "b"], progress=False)
        >>> explainer.attribute(torch.rand(3, 3, 64, 64)).shape
        torch.Size([3, 2, 64, 64])
    """

    method = "Grad-CAM++"

    def channel_weights(self, activations: Tensor, gradients: Tensor, scores: Tensor) -> Tensor:
        """``w^c_k = exp(S^c) Σ_ij α^kc_ij ReLU(g_ij)`` with ``α`` of Eq. 19, ``(N, K)``.

        Args:
            activations: ``A``, ``(N, K, h, w)``.
            gradients: ``g = ∂S^c / ∂A``, ``(N, K, h, w)``.
            scores: ``S^c``, ``(N,)`` logits.
        """
        squared, cubed = gradients**2, gradients**3
        # ∂²Y/∂A² = exp(S) g² and ∂³Y/∂A³ = exp(S) g³: exp(S) cancels in α.
        denominator = 2 * squared + activations.sum(dim=(2, 3), keepdim=True) * cubed
        alphas = torch.where(denominator != 0, squared / torch.where(denominator != 0, denominator, 1), 0)
        return torch.exp(scores)[:, None] * (alphas * F.relu(gradients)).sum(dim=(2, 3))
