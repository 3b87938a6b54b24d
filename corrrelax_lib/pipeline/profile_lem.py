"""The related-methods chapter's LEM: trained on image-level labels, its maps of the CorRELAX test images."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from corrrelax_lib.attribution.lem_map import lem_heatmaps, score_map_heatmaps
from corrrelax_lib.data.vindr import findings_sha256
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.pipeline.method_comparison import MethodMaps, heatmap_method_maps
from corrrelax_lib.training.lem import LEMRun, profile_lem_config, train_lem


def profile_lem_maps(
    parameters: Mapping[str, Any], images: Sequence[AnnotatedImage],
) -> tuple[LEMRun, list[MethodMaps]]:
    """Train (or load) the profile's LEM classifier and map every test image, two ways.

    Returns:
        The run, and :class:`MethodMaps` named ``"LEM"`` (positive-weight backpropagation from the positive
        local maxima) and ``"LEM score map"`` (the class score maps upsampled); neither is in probability units.
    """
    config = profile_lem_config(parameters, findings_sha256(parameters["data_root"]))
    run = train_lem(config, parameters["data_root"], parameters["artifacts_dir"], progress=parameters["progress"])
    labels, size = run.config.labels, run.config.image_size
    localisation = {image.image_id: lem_heatmaps(run.model, image.image, labels, size) for image in images}
    scores = {image.image_id: score_map_heatmaps(run.model, image.image, labels, size) for image in images}
    return run, [heatmap_method_maps("LEM", localisation, probability_maps=False),
                 heatmap_method_maps("LEM score map", scores, probability_maps=False)]
