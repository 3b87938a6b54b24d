"""Every method's maps of the same test images, scored by the same pointing game (the baselines chapter).

Each method's maps are cached per image (``<artifacts>/baselines/<classifier>-<key>/<image_id>.npz``,
written atomically), so an interrupted run resumes and a rerun reads them back. A method is scored
by three criteria: the map's maximum lies on a box of the label (grown by the tolerance), and, for
maps in probability units only, that maximum is also at least 25% or 50% (paper Table 4's thresholds).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.attribution.heatmaps import ClassHeatmaps
from corrrelax_lib.attribution.roi_explainer import RoiExplainer
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.explain import explain_shard
from corrrelax_lib.distributed.gather import read_artifacts
from corrrelax_lib.io.artifacts import parameters_key
from corrrelax_lib.metrics.pointing_game import chance_hit_rate, hit
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage

#: Pointing-game criteria of the comparison: hit-test keyword arguments, and whether they need probabilities.
COMPARISON_CRITERIA: dict[str, tuple[dict[str, float], bool]] = {
    "max on box": ({}, False),
    "max ≥ 25%": ({"threshold": 0.25}, True),
    "max ≥ 50%": ({"threshold": 0.5}, True),
}


@dataclass(frozen=True)
class MethodMaps:
    """One method's maps of every test image.

    Attributes:
        name: row name of the comparison, e.g. ``"Grad-CAM (whole ROI)"``.
        pixel_map: ``(image_id, label) -> (H, W)`` map in ROI pixels, NaN where the method has no value.
        probability_maps: whether the values are probabilities (the 25% / 50% criteria apply).
        seconds_per_image: mean compute time per image, seconds (as measured when the maps were computed).
    """

    name: str
    pixel_map: Callable[[str, str], np.ndarray]
    probability_maps: bool
    seconds_per_image: float


def heatmaps_directory(artifacts_dir: str | os.PathLike[str], classifier_name: str, explainer: RoiExplainer) -> Path:
    """``<artifacts_dir>/baselines/<classifier>-<12 hex>``: one folder per classifier, method and parameters."""
    key = parameters_key(explainer.parameters)
    return Path(artifacts_dir) / "baselines" / f"{classifier_name}-{key}"


def explain_images_with(
    explainer: RoiExplainer, images: Sequence[AnnotatedImage], directory: str | os.PathLike[str],
    context: DistributedContext | None = None, *, progress: bool = False,
) -> dict[str, ClassHeatmaps]:
    """``{image_id: heatmaps}``, computing only images without a complete ``<directory>/<image_id>.npz``
    (a checksummed artifact; shared across ``torchrun`` ranks as
    :func:`corrrelax_lib.pipeline.correlax_images.explain_images`)."""
    parameters = explainer.parameters
    explain_shard(lambda image: explainer.explain(image.image), images, directory, parameters, context,
                  progress=progress, desc=explainer.method)
    return read_artifacts([image.image_id for image in images], directory, parameters, ClassHeatmaps.load)


def heatmap_method_maps(name: str, heatmaps: Mapping[str, ClassHeatmaps], *, probability_maps: bool) -> MethodMaps:
    """A method's :class:`MethodMaps` from its heatmaps of every image (``image_id -> ClassHeatmaps``)."""
    seconds = float(np.mean([maps.metadata["seconds"] for maps in heatmaps.values()]))
    return MethodMaps(name, lambda image_id, label: heatmaps[image_id].pixel_map(label), probability_maps, seconds)


#: The CorRELAX map kinds compared with the baselines (chapter 08's first rows).
CORRELAX_KINDS: tuple[str, ...] = ("prediction", "correlation", "product")


def correlax_method_maps(maps: Mapping[str, CorrelaxMaps], kinds: Sequence[str]) -> list[MethodMaps]:
    """One :class:`MethodMaps` per CorRELAX map kind (``prediction`` maps are probabilities)."""
    seconds = float(np.mean([m.metadata["seconds"]["explain"] for m in maps.values()]))

    def of_kind(kind: str) -> Callable[[str, str], np.ndarray]:
        return lambda image_id, label: maps[image_id].pixel_map(kind, label)

    return [MethodMaps(f"CorRELAX {kind}", of_kind(kind), kind == "prediction", seconds) for kind in kinds]


def method_pointing_pairs(
    images: Sequence[AnnotatedImage], method: MethodMaps, labels: Sequence[str], *, tolerance: float,
) -> pd.DataFrame:
    """One row per image-label pair: ``method, image_id, label``, a column per :data:`COMPARISON_CRITERIA`
    (bool; ``<NA>`` where a criterion needs probabilities and the maps are not), and ``chance``
    (the hit rate of a uniformly random point where the map is defined)."""
    rows = []
    for image in images:
        for label in labels:
            if label not in image.boxes_by_label:
                continue
            boxes, heatmap = image.boxes_by_label[label], method.pixel_map(image.image_id, label)
            hits = {criterion: hit(heatmap, boxes, tolerance=tolerance, **keywords)
                    if method.probability_maps or not needs_probability else pd.NA
                    for criterion, (keywords, needs_probability) in COMPARISON_CRITERIA.items()}
            rows.append({"method": method.name, "image_id": image.image_id, "label": label, **hits,
                         "chance": chance_hit_rate(np.isfinite(heatmap), boxes, tolerance=tolerance)})
    pairs = pd.DataFrame(rows, columns=["method", "image_id", "label", *COMPARISON_CRITERIA, "chance"])
    return pairs.astype({criterion: "boolean" for criterion in COMPARISON_CRITERIA})


def comparison_table(pairs: pd.DataFrame, methods: Sequence[MethodMaps], labels: Sequence[str]) -> pd.DataFrame:
    """One row per method: pointing accuracy (Eq. 11) per label and over all pairs, the thresholded
    accuracies where they apply, the chance level, support (pairs) and seconds per image.

    Args:
        pairs: :func:`method_pointing_pairs` of every method, concatenated.
        methods: the methods, in row order.
        labels: the labels, in column order; a label without pairs has NaN accuracy.
    """
    rows = {}
    for method in methods:
        own = pairs.loc[pairs["method"] == method.name]
        if own.empty:
            raise ValueError(f"no image-label pairs for method {method.name!r}")
        hits = own["max on box"].astype(float)
        row = {label: hits[own["label"] == label].mean() for label in labels}
        row["all pairs"] = hits.mean()
        for criterion in list(COMPARISON_CRITERIA)[1:]:
            row[criterion] = own[criterion].astype(float).mean() if method.probability_maps else np.nan
        row.update({"chance": own["chance"].mean(), "support": len(own), "seconds / image": method.seconds_per_image})
        rows[method.name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    return table


def method_comparison(
    images: Sequence[AnnotatedImage], methods: Sequence[MethodMaps], labels: Sequence[str], *, tolerance: float,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every method's :func:`method_pointing_pairs` on the same images, and their :func:`comparison_table`.

    Returns:
        ``(pairs, table)``: one row per method, image and label; one row per method.
    """
    pairs = pd.concat([method_pointing_pairs(images, method, labels, tolerance=tolerance) for method in methods],
                      ignore_index=True)
    return pairs, comparison_table(pairs, methods, labels)
