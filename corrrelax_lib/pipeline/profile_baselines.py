"""The baselines chapter's inputs: every baseline method of a book profile on the CorRELAX test images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from corrrelax_lib.attribution import BASELINES
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.attribution.heatmaps import ClassHeatmaps
from corrrelax_lib.attribution.roi_explainer import RoiExplainer
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.gather import read_artifacts
from corrrelax_lib.pipeline.method_comparison import (
    CORRELAX_KINDS,
    MethodMaps,
    correlax_method_maps,
    explain_images_with,
    heatmap_method_maps,
    heatmaps_directory,
)
from corrrelax_lib.pipeline.profile_inputs import ProfileInputs

#: How each mode is named in the comparison's rows.
MODE_NAMES: dict[str, str] = {"whole": "whole ROI", "windows": "windows"}

#: Methods that mask their input and take the profile's mask settings.
MASKING_METHODS: frozenset[str] = frozenset({"RISE", "RELAX"})


def profile_baseline(name: str, mode: str, model: Any, parameters: Mapping[str, Any]) -> RoiExplainer:
    """The baseline ``name`` (a key of :data:`~corrrelax_lib.attribution.BASELINES`) in ``mode`` with a profile's
    parameters: ``baseline_image_size`` (whole), CorRELAX's ``window_size, stride, min_foreground`` (windows),
    ``baseline_batch_size``, ``seed``, ``device``; RISE and RELAX take ``baseline_masks_<mode>`` masks in rounds of
    ``baseline_mask_chunk`` (so ``baseline_batch_size × baseline_mask_chunk`` masked inputs per forward pass) with
    CorRELAX's ``mask_cells`` and ``keep_prob``."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose from {sorted(BASELINES)}")
    masking = {"n_masks": parameters[f"baseline_masks_{mode}"], "mask_cells": parameters["mask_cells"],
               "keep_prob": parameters["keep_prob"], "mask_chunk": parameters["baseline_mask_chunk"]}
    return BASELINES[name](
        model, LABELS, mode=mode, image_size=parameters["baseline_image_size"],
        window_size=parameters["window_size"], stride=parameters["stride"],
        min_foreground=parameters["min_foreground"], batch_size=parameters["baseline_batch_size"],
        seed=parameters["seed"], device=parameters["device"], progress=False,
        **(masking if name in MASKING_METHODS else {}),
    )


def profile_method_maps(
    parameters: Mapping[str, Any], inputs: ProfileInputs, correlax_maps: Mapping[str, CorrelaxMaps],
    correlax_kinds: Sequence[str] = CORRELAX_KINDS,
) -> list[MethodMaps]:
    """CorRELAX's maps, then :func:`profile_baseline_maps` (chapter 08's rows)."""
    return [*correlax_method_maps(correlax_maps, correlax_kinds), *profile_baseline_maps(parameters, inputs)]


def profile_baseline_maps(
    parameters: Mapping[str, Any], inputs: ProfileInputs, context: DistributedContext | None = None, *,
    compute: bool = True,
) -> list[MethodMaps]:
    """Every ``baseline_methods_<mode>`` method for each of ``baseline_modes``, in that order.

    Each baseline's maps are computed once per image and cached beside the classifier's run
    (:func:`~corrrelax_lib.pipeline.method_comparison.heatmaps_directory`); under ``torchrun``
    (``context``, ``corrrelax explain --maps baselines``) each rank computes its share of the images.
    With ``compute=False`` (``corrrelax evaluate``) the maps are only read.

    Raises:
        MissingArtifactsError: ``compute`` is false and an image has no complete map of some method.
    """
    methods = []
    for mode in parameters["baseline_modes"]:
        for name in parameters[f"baseline_methods_{mode}"]:
            explainer = profile_baseline(name, mode, inputs.run.model, parameters)
            directory = heatmaps_directory(parameters["artifacts_dir"], inputs.run.directory.name, explainer)
            heatmaps = (explain_images_with(explainer, inputs.images, directory, context,
                                            progress=parameters["progress"]) if compute else
                        read_artifacts([image.image_id for image in inputs.images], directory, explainer.parameters,
                                       ClassHeatmaps.load))
            methods.append(heatmap_method_maps(f"{name} ({MODE_NAMES[mode]})", heatmaps,
                                               probability_maps=explainer.probability_maps))
    return methods
