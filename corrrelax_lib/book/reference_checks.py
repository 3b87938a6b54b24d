"""Our implementations measured against reference libraries, for ``tests/reference/`` and the book page
``book/reference_checks.md`` (written by the book build, like the status page).

Each check runs one of our functions and the reference on the same inputs and returns the largest difference
under the relation it asserts: *equal*, or a documented deviation written as an exact relation (Grad-CAM++
keeps the paper's ``exp(S)`` factor; Eigen-CAM does not centre the feature map; Eq. 1 as printed carries α on
both terms). A reference library that is not installed gives a check with ``skipped`` set and no number.

The references are the ``reference`` extra (``pip install -e ".[reference]"``) and Quantus, installed with
``pip install --no-deps quantus`` because it requires ``opencv-python``, which would overwrite the
``opencv-python-headless`` our dependencies name (``make install`` does both, from ``requirements-lock.txt``).

Example:
    >>> check = check_box_iou()
    >>> check.passed
    True
"""

from __future__ import annotations

import copy
import importlib.metadata
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from corrrelax_lib.attribution.eigencam import EigenCAM
from corrrelax_lib.attribution.gradcam import GradCAM
from corrrelax_lib.attribution.gradcam_plus_plus import GradCAMPlusPlus
from corrrelax_lib.attribution.saliency import GradientSaliency
from corrrelax_lib.metrics.classification import per_label_metrics, roc_auc, roc_curve
from corrrelax_lib.metrics.pointing_game import hit
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.models.target_layers import capture_layer, last_conv_layer
from corrrelax_lib.training.focal_loss import focal_loss
from corrrelax_lib.windows.kernel import box_iou

#: Labels of the small classifier the attribution checks explain.
LABELS = ("a", "b", "c")


@dataclass(frozen=True)
class ReferenceCheck:
    """One comparison: ours against a reference library, under an exact relation.

    Attributes:
        name: what is compared, e.g. ``"Grad-CAM"``.
        ours: our function or class, e.g. ``"attribution.gradcam.GradCAM"``.
        reference: the reference's function or class, e.g. ``"captum.attr.LayerGradCam"``.
        distribution: the reference's PyPI name (its version is read from the installed metadata).
        version: the installed version, ``None`` when not installed.
        relation: the relation asserted, in words and symbols.
        largest_difference: the largest difference under the relation (``None`` when skipped).
        unit: what ``largest_difference`` measures (absolute, relative, or a count of disagreeing pairs).
        tolerance: the largest difference the test accepts.
        skipped: why the check did not run, or ``None``.
    """

    name: str
    ours: str
    reference: str
    distribution: str
    version: str | None
    relation: str
    largest_difference: float | None
    unit: str
    tolerance: float
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        """Whether the check ran and its largest difference is within ``tolerance``."""
        return self.largest_difference is not None and self.largest_difference <= self.tolerance


@dataclass(frozen=True)
class _Spec:
    """What a check is, before it runs."""

    name: str
    ours: str
    reference: str
    distribution: str
    module: str
    relation: str
    unit: str
    tolerance: float


def _installed(spec: _Spec) -> str | None:
    """The installed version of ``spec.distribution``, ``None`` when its module cannot be imported."""
    if importlib.util.find_spec(spec.module) is None:
        return None
    return importlib.metadata.version(spec.distribution)


def _run(spec: _Spec, measure: Callable[[], float]) -> ReferenceCheck:
    """Run ``measure`` if the reference is installed; a skipped check (with the install command) otherwise."""
    version = _installed(spec)
    fields = dict(name=spec.name, ours=spec.ours, reference=spec.reference, distribution=spec.distribution,
                  version=version, relation=spec.relation, unit=spec.unit, tolerance=spec.tolerance)
    if version is None:
        how = "pip install --no-deps quantus" if spec.distribution == "quantus" else 'pip install -e ".[reference]"'
        skipped = f"{spec.distribution} is not installed ({how})"
        return ReferenceCheck(**fields, largest_difference=None, skipped=skipped)
    return ReferenceCheck(**fields, largest_difference=float(measure()))


def _relative(ours: Tensor | np.ndarray, reference: Tensor | np.ndarray) -> float:
    """``max |ours - reference| / max |reference|``."""
    ours, reference = torch.as_tensor(np.asarray(ours)).double(), torch.as_tensor(np.asarray(reference)).double()
    return float((ours - reference).abs().max() / reference.abs().max())


def small_classifier(seed: int = 0, head_std: float = 0.5) -> MultiLabelClassifier:
    """The ``small_cnn`` classifier with three labels that the attribution checks explain.

    The backbone keeps its random initialisation; the head's weights are drawn from ``N(0, head_std²)`` so that the
    gradients at the ``(N, 256, 4, 4)`` feature map of a 128-pixel image are of order 0.1 (the default head's are
    of order 0.001, where pytorch-grad-cam's ε = 1e-6 in Grad-CAM++'s α would matter, and its Grad-CAM maps vanish
    under the ReLU) and the logits stay within ±3.
    """
    torch.manual_seed(seed)
    model = MultiLabelClassifier("small_cnn", len(LABELS)).eval()
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for layer in model.head:
            if isinstance(layer, nn.Linear):
                layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * head_std)
    return model


def _images(n: int = 4, size: int = 128, seed: int = 0) -> Tensor:
    """``(n, 3, size, size)`` images in [0, 1]."""
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


# --- Attribution -----------------------------------------------------------------------------------------------

GRADCAM = _Spec("Grad-CAM", "attribution.gradcam.GradCAM", "captum.attr.LayerGradCam (relu_attributions=True) "
                "and LayerAttribution.interpolate (bilinear)", "captum", "captum",
                "ours = reference, every class, pixel and image", "relative to the largest map value", 1e-5)


def check_gradcam() -> ReferenceCheck:
    """Grad-CAM (Eq. 1–2 of Selvaraju et al.) against Captum, on the last convolutional layer of the classifier."""

    def measure() -> float:
        from captum.attr import LayerAttribution, LayerGradCam

        model, x = small_classifier(), _images()
        ours = GradCAM(model, LABELS, progress=False).attribute(x)
        layer = LayerGradCam(model, last_conv_layer(model))
        reference = torch.cat([
            LayerAttribution.interpolate(layer.attribute(x, target=c, relu_attributions=True), tuple(x.shape[-2:]),
                                         interpolate_mode="bilinear")
            for c in range(len(LABELS))], dim=1)
        return _relative(ours.detach(), reference.detach())

    return _run(GRADCAM, measure)


SALIENCY = _Spec("Gradient saliency", "attribution.saliency.GradientSaliency", "captum.attr.Saliency (abs=True)",
                 "captum", "captum", "ours = max over the 3 input channels of the reference",
                 "relative to the largest map value", 1e-6)


def check_saliency() -> ReferenceCheck:
    """Gradient saliency (Simonyan et al. §3.1) against Captum's ``Saliency``, whose map keeps the channels."""

    def measure() -> float:
        from captum.attr import Saliency

        model, x = small_classifier(), _images()
        ours = GradientSaliency(model, LABELS, progress=False).attribute(x)
        saliency = Saliency(model)
        reference = torch.stack([saliency.attribute(x, target=c, abs=True).amax(dim=1) for c in range(len(LABELS))],
                                dim=1)
        return _relative(ours.detach(), reference.detach())

    return _run(SALIENCY, measure)


GRADCAM_PLUS_PLUS = _Spec(
    "Grad-CAM++", "attribution.gradcam_plus_plus.GradCAMPlusPlus", "pytorch_grad_cam.GradCAMPlusPlus "
    "(get_cam_image on its own hooks' activations A and gradients g, given as A/λ and λ·g with λ = 1000, then "
    "ReLU; before its min-max scaling)", "grad-cam", "pytorch_grad_cam",
    "ours = exp(S^c) · bilinear(ReLU(reference)): the paper's exp(S) factor, which pytorch-grad-cam drops. "
    "(A/λ, λ·g) leaves the reference's map unchanged but divides its ε = 1e-6 in α's denominator by λ²",
    "relative to the largest map value", 1e-5)

GRADCAM_PLUS_PLUS_EPSILON = _Spec(
    "Grad-CAM++, reference's ε as it is", "attribution.gradcam_plus_plus.GradCAMPlusPlus",
    "pytorch_grad_cam.GradCAMPlusPlus (as above, with λ = 1)", "grad-cam", "pytorch_grad_cam",
    "ours = exp(S^c) · bilinear(ReLU(reference)) up to the reference's ε = 1e-6 (gradients of order 0.1 here)",
    "relative to the largest map value", 1e-3)


def _gradcam_plus_plus_difference(scale: float) -> float:
    """The relative difference of ours and exp(S) times pytorch-grad-cam's map of ``(A/scale, scale·g)``."""
    from pytorch_grad_cam import GradCAMPlusPlus as ReferenceGradCAMPlusPlus
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model, x = small_classifier(), _images()
    ours = GradCAMPlusPlus(model, LABELS, progress=False).attribute(x).detach()
    layer = last_conv_layer(model)
    expected = []
    with ReferenceGradCAMPlusPlus(model, [layer]) as cam:
        for c in range(len(LABELS)):
            targets = [ClassifierOutputTarget(c)] * len(x)
            # BaseCAM.forward up to compute_cam_per_layer, without its scale_cam_image (min-max, then resize).
            outputs = cam.activations_and_grads(x)
            model.zero_grad()
            sum(target(output) for target, output in zip(targets, outputs, strict=True)).backward()
            activations = cam.activations_and_grads.activations[0].numpy() / scale
            gradients = cam.activations_and_grads.gradients[0].numpy() * scale
            low = np.maximum(cam.get_cam_image(x, layer, targets, activations, gradients), 0)
            upsampled = F.interpolate(torch.from_numpy(low)[:, None], size=x.shape[-2:], mode="bilinear",
                                      align_corners=False)[:, 0]
            expected.append(torch.exp(outputs[:, c].detach())[:, None, None] * upsampled)
    model.zero_grad(set_to_none=True)
    return _relative(ours, torch.stack(expected, dim=1))


def check_gradcam_plus_plus() -> ReferenceCheck:
    """Grad-CAM++ (Eq. 19 of Chattopadhay et al.) against pytorch-grad-cam, class by class, ε made negligible."""
    return _run(GRADCAM_PLUS_PLUS, lambda: _gradcam_plus_plus_difference(1000.0))


def check_gradcam_plus_plus_epsilon() -> ReferenceCheck:
    """As :func:`check_gradcam_plus_plus`, the reference's ε left as it is: how much it moves the maps."""
    return _run(GRADCAM_PLUS_PLUS_EPSILON, lambda: _gradcam_plus_plus_difference(1.0))


EIGENCAM = _Spec(
    "Eigen-CAM", "attribution.eigencam.EigenCAM", "pytorch_grad_cam.EigenCAM (get_2d_projection, before ReLU and "
    "min-max scaling)", "grad-cam", "pytorch_grad_cam",
    "ours(A − mean over positions of A) = ± bilinear(reference(A)): the reference centres the h·w positions "
    "before the SVD, ours (as the paper) does not", "relative to the largest map value", 1e-4)


class _CentrePositions:
    """A forward hook replacing a ``(N, K, h, w)`` output by ``A - mean_{h,w}(A)``: the reference's centring."""

    def __call__(self, module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> Tensor:
        return output - output.mean(dim=(2, 3), keepdim=True)


def check_eigencam() -> ReferenceCheck:
    """Eigen-CAM (Muhammad & Yeasin §III) against pytorch-grad-cam's projection, the sign of each map free."""

    def measure() -> float:
        from pytorch_grad_cam.utils.svd_on_activations import get_2d_projection

        model, x = small_classifier(), _images()
        with torch.no_grad(), capture_layer(last_conv_layer(model)) as capture:
            model(x)
        reference = torch.from_numpy(get_2d_projection(capture.activations.numpy())).double()
        reference = F.interpolate(reference[:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
        centred = copy.deepcopy(model)
        last_conv_layer(centred).register_forward_hook(_CentrePositions())
        ours = EigenCAM(centred, LABELS, progress=False).attribute(x)[:, 0].double()
        # A singular vector's sign is arbitrary: compare each image's map with the sign that fits it.
        signs = torch.where((ours * reference).sum(dim=(1, 2)) < 0, -1.0, 1.0).double()[:, None, None]
        return _relative(ours, signs * reference)

    return _run(EIGENCAM, measure)


# --- Classification metrics -----------------------------------------------------------------------------------

PER_LABEL = _Spec("Per-label metrics", "metrics.classification.per_label_metrics",
                  "sklearn.metrics accuracy_score, precision_score, recall_score, f1_score (zero_division=nan)",
                  "scikit-learn", "sklearn", "ours = reference for accuracy, precision, recall, F1 of every label "
                  "(NaN where both are undefined)", "absolute", 1e-12)


def _labelled_scores(seed: int = 0, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """``(n, 4)`` targets and probabilities rounded to 0.01 (ties), the last label never predicted positive."""
    rng = np.random.default_rng(seed)
    targets = rng.random((n, 4)) < [0.5, 0.2, 0.05, 0.3]
    probabilities = np.round(np.clip(0.3 * targets + rng.random((n, 4)) * 0.7, 0, 1), 2)
    probabilities[:, 3] *= 0.49
    return targets.astype(int), probabilities


def check_per_label_metrics() -> ReferenceCheck:
    """Table 3's columns against scikit-learn's binary scores at threshold 0.5."""

    def measure() -> float:
        from sklearn import metrics

        targets, probabilities = _labelled_scores()
        table = per_label_metrics(targets, probabilities, ["A", "B", "C", "D"])
        predicted = (probabilities >= 0.5).astype(int)
        largest = 0.0
        for c, label in enumerate(table.index):
            truth, guess = targets[:, c], predicted[:, c]
            reference = {"accuracy": metrics.accuracy_score(truth, guess),
                         "precision": metrics.precision_score(truth, guess, zero_division=np.nan),
                         "recall": metrics.recall_score(truth, guess, zero_division=np.nan),
                         "f1": metrics.f1_score(truth, guess, zero_division=np.nan)}
            for column, value in reference.items():
                ours = table.loc[label, column]
                if np.isnan(ours) != np.isnan(value):
                    return float("inf")
                largest = max(largest, 0.0 if np.isnan(ours) else abs(ours - value))
        return largest

    return _run(PER_LABEL, measure)


ROC_AUC = _Spec("ROC AUC", "metrics.classification.roc_auc (Mann-Whitney U)", "sklearn.metrics.roc_auc_score",
                "scikit-learn", "sklearn", "ours = reference, with tied scores", "absolute", 1e-12)


def check_roc_auc() -> ReferenceCheck:
    """The rank form of the AUC against scikit-learn's trapezoidal ROC area (ties count one half in both)."""

    def measure() -> float:
        from sklearn.metrics import roc_auc_score

        targets, probabilities = _labelled_scores()
        return max(abs(roc_auc(targets[:, c], probabilities[:, c]) - roc_auc_score(targets[:, c], probabilities[:, c]))
                   for c in range(targets.shape[1]))

    return _run(ROC_AUC, measure)


ROC_CURVE = _Spec("ROC curve", "metrics.classification.roc_curve", "sklearn.metrics.roc_curve "
                  "(drop_intermediate=False)", "scikit-learn", "sklearn",
                  "ours = reference, point by point (one point per distinct score, from (0, 0))", "absolute", 1e-12)


def check_roc_curve() -> ReferenceCheck:
    """Figure 6's curves against scikit-learn's, every threshold kept."""

    def measure() -> float:
        from sklearn.metrics import roc_curve as reference_roc_curve

        targets, probabilities = _labelled_scores()
        largest = 0.0
        for c in range(targets.shape[1]):
            ours = np.stack(roc_curve(targets[:, c], probabilities[:, c]))
            reference = np.stack(reference_roc_curve(targets[:, c], probabilities[:, c], drop_intermediate=False)[:2])
            if ours.shape != reference.shape:
                return float("inf")
            largest = max(largest, float(np.abs(ours - reference).max()))
        return largest

    return _run(ROC_CURVE, measure)


# --- Training loss and geometry -------------------------------------------------------------------------------

FOCAL_ALPHA_T = _Spec("Focal loss, α_t form", 'training.focal_loss.focal_loss(alpha_form="alpha_t")',
                      "torchvision.ops.sigmoid_focal_loss", "torchvision", "torchvision",
                      "ours = reference, element-wise (α = 0.95, γ = 2.5, float64)", "absolute", 1e-12)

FOCAL_PRINTED = _Spec("Focal loss, Eq. 1 as printed", 'training.focal_loss.focal_loss(alpha_form="printed")',
                      "torchvision.ops.sigmoid_focal_loss (alpha=-1: no α weighting)", "torchvision", "torchvision",
                      "ours = α · reference, element-wise: the printed α is a constant factor", "absolute", 1e-12)


def _focal_inputs(seed: int = 0) -> tuple[Tensor, Tensor]:
    """``(64, 7)`` float64 logits in [-20, 20] and 0/1 targets."""
    generator = torch.Generator().manual_seed(seed)
    logits = (torch.rand(64, 7, generator=generator, dtype=torch.float64) - 0.5) * 40
    return logits, (torch.rand(64, 7, generator=generator) < 0.3).double()


def check_focal_loss_alpha_t() -> ReferenceCheck:
    """Lin et al.'s α_t focal loss against torchvision (the authors' training code calls it)."""

    def measure() -> float:
        from torchvision.ops import sigmoid_focal_loss

        logits, targets = _focal_inputs()
        ours = focal_loss(logits, targets, alpha=0.95, gamma=2.5, alpha_form="alpha_t", reduction="none")
        reference = sigmoid_focal_loss(logits, targets, alpha=0.95, gamma=2.5, reduction="none")
        return float((ours - reference).abs().max())

    return _run(FOCAL_ALPHA_T, measure)


def check_focal_loss_printed() -> ReferenceCheck:
    """Eq. 1 as printed (α on both terms) against torchvision's unweighted focal loss times α."""

    def measure() -> float:
        from torchvision.ops import sigmoid_focal_loss

        logits, targets = _focal_inputs()
        ours = focal_loss(logits, targets, alpha=0.95, gamma=2.5, alpha_form="printed", reduction="none")
        reference = 0.95 * sigmoid_focal_loss(logits, targets, alpha=-1, gamma=2.5, reduction="none")
        return float((ours - reference).abs().max())

    return _run(FOCAL_PRINTED, measure)


BOX_IOU = _Spec("Box IoU (Eq. 5–10)", "windows.kernel.box_iou", "torchvision.ops.box_iou", "torchvision",
                "torchvision", "ours = reference, for overlapping, nested, touching and disjoint boxes (float64)",
                "absolute", 1e-12)


def check_box_iou() -> ReferenceCheck:
    """The IoU of the smoothing kernel against torchvision's pairwise box IoU."""

    def measure() -> float:
        from torchvision.ops import box_iou as reference_box_iou

        rng = np.random.default_rng(0)
        corners = rng.integers(0, 300, size=(200, 2, 2))
        boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1) + 1], axis=1).astype(np.float64)
        boxes = np.concatenate([boxes, [[0, 0, 256, 256], [48, 0, 304, 256], [256, 0, 512, 256]]])
        reference = reference_box_iou(torch.from_numpy(boxes), torch.from_numpy(boxes)).numpy()
        ours = np.array([[box_iou(a, b) for b in boxes] for a in boxes])
        return float(np.abs(ours - reference).max())

    return _run(BOX_IOU, measure)


# --- Pointing game --------------------------------------------------------------------------------------------

POINTING_GAME = _Spec("Pointing game, plain", "metrics.pointing_game.hit (no value criterion)",
                      "quantus.PointingGame (normalise=False, abs=False) on masks of the boxes grown by the "
                      "tolerance", "quantus", "quantus", "ours = reference for every image-label pair "
                      "(maps with a unique maximum)", "pairs that disagree", 0)


def _pointing_game_cases(n: int = 200, size: int = 96, tolerance: int = 8, seed: int = 0):
    """Smooth random maps with a unique maximum, 1–3 boxes per map, and the grown-box masks ``(n, size, size)``."""
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    maps = ndimage.gaussian_filter(rng.random((n, size, size)), sigma=(0, 4, 4)) + 1e-9 * rng.random((n, size, size))
    masks = np.zeros((n, size, size), dtype=bool)
    boxes = []
    for i in range(n):
        corners = rng.integers(0, size, size=(rng.integers(1, 4), 2, 2))
        image_boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)  # x0, y0, x1, y1
        for x0, y0, x1, y1 in image_boxes:
            masks[i, max(y0 - tolerance, 0):y1 + tolerance + 1, max(x0 - tolerance, 0):x1 + tolerance + 1] = True
        boxes.append(image_boxes)
    return maps, boxes, masks, tolerance


def check_pointing_game() -> ReferenceCheck:
    """The plain pointing game (the maximum inside a box grown by the tolerance) against Quantus."""

    def measure() -> float:
        import quantus

        maps, boxes, masks, tolerance = _pointing_game_cases()
        ours = np.array([hit(m, b, tolerance=tolerance) for m, b in zip(maps, boxes, strict=True)])
        metric = quantus.PointingGame(normalise=False, abs=False, disable_warnings=True)
        reference = metric(model=None, x_batch=maps[:, None], y_batch=np.zeros(len(maps), dtype=int),
                           a_batch=maps[:, None], s_batch=masks[:, None].astype(float))
        return float((ours != np.asarray(reference, dtype=bool)).sum())

    return _run(POINTING_GAME, measure)


#: Every check, in the order of the book page.
REFERENCE_CHECKS: tuple[Callable[[], ReferenceCheck], ...] = (
    check_gradcam, check_saliency, check_gradcam_plus_plus, check_gradcam_plus_plus_epsilon, check_eigencam,
    check_per_label_metrics, check_roc_auc,
    check_roc_curve, check_focal_loss_alpha_t, check_focal_loss_printed, check_box_iou, check_pointing_game,
)


def run_reference_checks() -> list[ReferenceCheck]:
    """Every check of :data:`REFERENCE_CHECKS`, run now."""
    return [check() for check in REFERENCE_CHECKS]


def render_reference_page(checks: list[ReferenceCheck]) -> str:
    """Markdown for ``book/reference_checks.md``: one row per check, its numbers measured by this build."""
    lines = [
        "# Reference checks",
        "",
        "Generated by the book build, which runs `corrrelax_lib.book.reference_checks` (the same checks as "
        "`tests/reference/`). Each row runs our implementation and a reference library on the same inputs and "
        "reports the largest difference under the relation asserted; a documented deviation is asserted as its "
        "exact relation, not as closeness. Quantus is installed with `--no-deps` (it requires `opencv-python`, "
        "which would replace our `opencv-python-headless`).",
        "",
        "| Check | Ours (`corrrelax_lib.…`) | Reference | Version | Relation asserted | Largest difference | "
        "Tolerance | Result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for check in checks:
        if check.skipped:
            measured, result = "—", f"skipped: {check.skipped}"
        else:
            measured, result = f"{check.largest_difference:.3g} ({check.unit})", "pass" if check.passed else "FAIL"
        lines.append(f"| {check.name} | `{check.ours}` | {check.reference} | {check.distribution} "
                     f"{check.version or '—'} | {check.relation} | {measured} | {check.tolerance:g} | {result} |")
    return "\n".join(lines) + "\n"
