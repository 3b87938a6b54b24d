"""CorRELAX maps of many images, one cached ``.npz`` per image, and their pointing game (Table 4)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from corrrelax_lib.attribution.adaptive import AdaptiveMasks
from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.attribution.outcome_budget import OutcomeBudget
from corrrelax_lib.config import StudyConfig
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.explain import explain_shard
from corrrelax_lib.distributed.gather import read_artifacts
from corrrelax_lib.io.artifacts import parameters_key
from corrrelax_lib.metrics.pointing_game import chance_hit_rate, hit, pointing_game_table, table4_criteria
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage


def maps_directory(artifacts_dir: str | os.PathLike[str], classifier_name: str, explainer: CorRELAX) -> Path:
    """``<artifacts_dir>/correlax/<classifier>-<12 hex>``: one folder per classifier and map parameters.

    The key covers every parameter that changes the maps (window grid, masks, seed, adaptive
    rule, checkpoints), not the device or batch size.
    """
    key = parameters_key(explainer.parameters)
    return Path(artifacts_dir) / "correlax" / f"{classifier_name}-{key}"


def explain_images(
    explainer: CorRELAX, images: Sequence[AnnotatedImage], directory: str | os.PathLike[str],
    context: DistributedContext | None = None, *, progress: bool = False,
) -> dict[str, CorrelaxMaps]:
    """``{image_id: maps}``, computing only images without a complete ``<directory>/<image_id>.npz``.

    Each image's maps are a checksummed artifact (:mod:`corrrelax_lib.io.artifacts`) written once the
    image is done, so an interrupted run resumes where it stopped, and a partial or corrupt file is
    recomputed rather than read. Under ``torchrun`` (``context``) each rank computes its share of the images
    and every rank returns all of them (``corrrelax explain``).
    """
    parameters = explainer.parameters
    explain_shard(lambda image: explainer.explain(image.image), images, directory, parameters, context,
                  progress=progress)
    return read_artifacts([image.image_id for image in images], directory, parameters, CorrelaxMaps.load)


def pointing_game_pairs(
    images: Sequence[AnnotatedImage], maps: Mapping[str, CorrelaxMaps], labels: Sequence[str], *, tolerance: float,
    correlation_above: float = 0.0,
) -> pd.DataFrame:
    """One row per image-label pair with the hit of each Table 4 criterion (paper §3.5, Eq. 11).

    A pair is hit by the prediction map when its maximum lies on one of the label's boxes
    (grown by ``tolerance`` px) and is at least 0.25 / 0.5, and by the correlation map when its
    maximum lies on a box and is above ``correlation_above`` (the paper's text: 0, a positive
    correlation; the authors' code: 0.05). A study's settings are its ``pointing_game`` section
    (:meth:`~corrrelax_lib.pipeline.study.Study.pointing_game_pairs`).

    Returns:
        Columns ``image_id, label``, the bool columns :func:`table4_criteria` ``(correlation_above)``, and
        ``chance``: the hit rate of a point drawn uniformly from the pixels the maps cover (:func:`chance_hit_rate`).
    """
    criteria = table4_criteria(correlation_above)
    rows = []
    for image in images:
        for label in labels:
            if label not in image.boxes_by_label:
                continue
            boxes = image.boxes_by_label[label]
            prediction = maps[image.image_id].pixel_map("prediction", label)
            correlation = maps[image.image_id].pixel_map("correlation", label)
            hits = (hit(prediction, boxes, tolerance=tolerance, threshold=0.25),
                    hit(prediction, boxes, tolerance=tolerance, threshold=0.5),
                    hit(correlation, boxes, tolerance=tolerance, above=correlation_above))
            chance = chance_hit_rate(np.isfinite(prediction), boxes, tolerance=tolerance)
            rows.append({"image_id": image.image_id, "label": label, **dict(zip(criteria, hits, strict=True)),
                         "chance": chance})
    return pd.DataFrame(rows, columns=["image_id", "label", *criteria, "chance"])


def pointing_game_from_artifacts(
    images: Sequence[AnnotatedImage], directory: str | os.PathLike[str], parameters: Mapping[str, Any],
    labels: Sequence[str], *, tolerance: float, correlation_above: float = 0.0,
) -> pd.DataFrame:
    """Table 4 of the maps in ``directory`` (the gather step of ``corrrelax evaluate``): every image's
    artifact verified and read, :func:`pointing_game_pairs`, then
    :func:`~corrrelax_lib.metrics.pointing_game.pointing_game_table` over :func:`table4_criteria`.

    Args:
        parameters: the explainer's parameters (``CorRELAX.parameters``), as the artifacts record them.

    Raises:
        MissingArtifactsError: an image has no complete artifact (run the explain step first).
    """
    maps = read_artifacts([image.image_id for image in images], directory, parameters, CorrelaxMaps.load)
    pairs = pointing_game_pairs(images, maps, labels, tolerance=tolerance, correlation_above=correlation_above)
    return pointing_game_table(pairs, table4_criteria(correlation_above), labels)


def study_explainer(
    model: nn.Module, config: StudyConfig, labels: Sequence[str], *, n_masks: int | None = None,
    adaptive: AdaptiveMasks | OutcomeBudget | None = None, checkpoints: Sequence[int] = (), progress: bool = False,
) -> CorRELAX:
    """The :class:`CorRELAX` of a study: its ``correlax`` section, ``seed`` and ``device``.

    ``n_masks`` overrides the section's count (Figure 7's reference); ``adaptive`` the section's budget
    (``mask_budget: outcome`` gives :func:`outcome_budget` of the section).
    """
    correlax = config.correlax
    if adaptive is None and correlax.mask_budget == "outcome":
        adaptive = outcome_budget(config)
    return CorRELAX(
        model, labels, window_size=correlax.window_size, stride=correlax.stride,
        n_masks=n_masks or correlax.n_masks, mask_cells=correlax.mask_cells, keep_prob=correlax.keep_prob,
        mask_shift=correlax.mask_shift, mask_sharing=correlax.mask_sharing, mask_design=correlax.mask_design,
        seed=config.seed,
        correlation_dtype=correlax.correlation_dtype, undefined_correlation=correlax.undefined_correlation,
        reconstruction=correlax.reconstruction, batch_size=correlax.batch_size,
        mask_chunk=correlax.mask_chunk, min_foreground=correlax.min_foreground, adaptive=adaptive,
        checkpoints=checkpoints, device=config.device, progress=progress,
    )


def outcome_budget(config: StudyConfig, first_masks: int | None = None) -> OutcomeBudget:
    """The :class:`OutcomeBudget` of a study's ``correlax`` section (its ``pointing_game`` correlation criterion);
    ``first_masks`` overrides the section's first-pass count."""
    correlax = config.correlax
    return OutcomeBudget(first_masks=first_masks or correlax.budget_first_masks, z=correlax.budget_z,
                         tolerance_cells=correlax.budget_tolerance_cells,
                         correlation_above=config.pointing_game.correlation_above)
