"""Gradient saliency (Simonyan, Vedaldi & Zisserman, "Deep Inside Convolutional Networks: Visualising Image
Classification Models and Saliency Maps", ICLR workshop 2014, §3.1): the input gradient of the class score.

For class ``c`` with logit ``S_c`` and input pixels ``x_{ij,ch}``:
``M^c_ij = max_ch |∂S_c / ∂x_{ij,ch}|``, the largest absolute gradient over the three channels.

Our own few lines rather than Captum's ``Saliency``: one dependency less for a dozen lines, the
call shape of every other baseline (:class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`),
and all ``C`` outputs of the multi-label head ``(N, C)`` from one forward pass (one gradient per
class, batched over images). Units: logit per unit of input intensity (inputs in [0, 1]).
"""

from __future__ import annotations

import torch
from torch import Tensor

from corrrelax_lib.attribution.roi_explainer import RoiExplainer


class GradientSaliency(RoiExplainer):
    """Gradient saliency maps ``max_ch |∂S_c / ∂x|``, one per class.

    Args: those of :class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`.

    Gradients are taken with :func:`torch.autograd.grad` with respect to the input only: no
    parameter's ``.grad`` is written.

    Example:
        >>> from corrrelax_lib.models.classifier import MultiLabelClassifier
        >>> explainer = GradientSaliency(MultiLabelClassifier("small_cnn", 2), ["a", "b"], progress=False)
        >>> explainer.attribute(torch.rand(3, 3, 64, 64)).shape
        torch.Size([3, 2, 64, 64])
    """

    method = "Gradient saliency"

    def attribute(self, x: Tensor) -> Tensor:
        """``(N, 3, H, W)`` images in [0, 1] → ``(N, C, H, W)`` maps, ≥ 0."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            logits = self.model(x)
            n_classes = logits.shape[1]
            maps = []
            for c in range(n_classes):
                # Summing over the batch gives each image its own gradient: images are independent in eval mode.
                (gradient,) = torch.autograd.grad(logits[:, c].sum(), x, retain_graph=c + 1 < n_classes)
                maps.append(gradient.abs().amax(dim=1))
        return torch.stack(maps, dim=1)
