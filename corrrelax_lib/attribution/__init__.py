"""Explain: attribution methods, one per module, each an :class:`Explainer` returning an :class:`Explanation`.

The protocol and the shared ROI preparation are in :mod:`corrrelax_lib.attribution.explainer`; CorRELAX in
:mod:`~corrrelax_lib.attribution.correlax`; the baselines below; LEM's maps in
:mod:`~corrrelax_lib.attribution.lem_map`; the neuron maps in :mod:`~corrrelax_lib.attribution.neuron_maps`.
"""

from corrrelax_lib.attribution.eigencam import EigenCAM
from corrrelax_lib.attribution.explainer import Explainer, Explanation, prepare_roi
from corrrelax_lib.attribution.gradcam import GradCAM
from corrrelax_lib.attribution.gradcam_plus_plus import GradCAMPlusPlus
from corrrelax_lib.attribution.relax import RELAX
from corrrelax_lib.attribution.rise import RISE
from corrrelax_lib.attribution.roi_explainer import RoiExplainer
from corrrelax_lib.attribution.saliency import GradientSaliency

#: The baseline methods by display name, in the order of the comparison: ``BASELINES["RISE"](model, labels, ...)``.
BASELINES: dict[str, type[RoiExplainer]] = {
    cls.method: cls for cls in (GradCAM, GradCAMPlusPlus, EigenCAM, GradientSaliency, RISE, RELAX)
}

__all__ = ["BASELINES", "RELAX", "RISE", "EigenCAM", "Explainer", "Explanation", "GradCAM", "GradCAMPlusPlus",
           "GradientSaliency", "RoiExplainer", "prepare_roi"]
