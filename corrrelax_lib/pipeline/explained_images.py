"""Any explainer's maps of many images, one checksummed artifact per image, and their pointing game.

The one artifact store of every method: ``<artifacts>/<folder>/<classifier>-<key>/<image_id>.npz`` with its
sidecar (:mod:`corrrelax_lib.io.artifacts`), named by :func:`maps_directory`, filled by
:func:`explain_images` (sharded across ``torchrun`` ranks) and scored by :func:`pointing_pairs`, whatever
the method: CorRELAX (Table 4), the baselines (the comparison chapter), LEM, a Figure 7 window sample.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from corrrelax_lib.attribution.explainer import Explainer, Explanation
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.explain import explain_shard
from corrrelax_lib.distributed.gather import read_artifacts
from corrrelax_lib.io.artifacts import parameters_key
from corrrelax_lib.metrics.pointing_game import chance_hit_rate, hit
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage


def maps_directory(artifacts_dir: str | os.PathLike[str], folder: str, classifier_name: str,
                   parameters: Mapping[str, Any]) -> Path:
    """``<artifacts_dir>/<folder>/<classifier>-<12 hex>``: one folder per classifier and map parameters.

    Args:
        folder: the kind of maps, e.g. ``"correlax"``, ``"baselines"``, ``"external"``.
        parameters: what made the maps (an explainer's
            :attr:`~corrrelax_lib.attribution.explainer.Explainer.parameters`, with more where more changes
            them), keyed by :func:`~corrrelax_lib.io.artifacts.parameters_key`.

    >>> maps_directory("artifacts", "baselines", "small_cnn-c7e9cdf5def2", {"method": "RISE"}).parent.name
    'baselines'
    """
    return Path(artifacts_dir) / folder / f"{classifier_name}-{parameters_key(parameters)}"


def explain_images(
    explainer: Explainer, images: Sequence[AnnotatedImage], directory: str | os.PathLike[str],
    context: DistributedContext | None = None, *, windows: Mapping[str, np.ndarray] | None = None,
    progress: bool = False,
) -> dict[str, Explanation]:
    """``{image_id: explanation}``, computing only images without a complete ``<directory>/<image_id>.npz``.

    Each image's result is a checksummed artifact (:mod:`corrrelax_lib.io.artifacts`) written once the
    image is done, so an interrupted run resumes where it stopped, and a partial or corrupt file is
    recomputed rather than read. Under ``torchrun`` (``context``) each rank computes its share of the images
    and every rank returns all of them (``corrrelax explain``).

    Args:
        explainer: any :class:`~corrrelax_lib.attribution.explainer.Explainer`; its ``parameters`` are recorded
            with every artifact and its ``result_type`` reads them back.
        windows: ``image_id -> (n_rows, n_cols)`` bool window selection, for an explainer whose ``explain`` takes
            ``windows=`` (CorRELAX; Figure 7's sample); the selections are part of what the artifacts record.
        progress: show a progress bar.
    """
    parameters = explainer.parameters
    if windows is None:
        def explain(image: AnnotatedImage) -> Explanation:
            return explainer.explain(image.image)
    else:
        parameters = {**parameters, "windows": parameters_key(
            {image.image_id: np.asarray(windows[image.image_id], dtype=bool).tolist() for image in images})}

        def explain(image: AnnotatedImage) -> Explanation:
            return explainer.explain(image.image, windows=windows[image.image_id])
    explain_shard(explain, images, directory, parameters, context, progress=progress, desc=explainer.method)
    return read_artifacts([image.image_id for image in images], directory, parameters, explainer.result_type.load)


class Criterion(NamedTuple):
    """One hit column of the pointing game: which map kind it reads and what its maximum must pass.

    Attributes:
        kind: the map kind (:attr:`~corrrelax_lib.attribution.explainer.Explanation.kinds`), e.g. ``"prediction"``.
        threshold: the maximum must be ``>= threshold`` (a probability map: 0.25, 0.5); ``None``: no check.
        above: the maximum must be ``> above`` (a correlation map: 0, the authors' 0.05); ``None``: no check.
    """

    kind: str
    threshold: float | None = None
    above: float | None = None


def pointing_pairs(
    images: Sequence[AnnotatedImage], maps: Mapping[str, Explanation], labels: Sequence[str],
    criteria: Mapping[str, Criterion], *, tolerance: float,
) -> pd.DataFrame:
    """One row per image-label pair with the hit of every criterion (paper §3.5, Eq. 11): the map's maximum
    lies on one of the label's boxes grown by ``tolerance`` px and passes the criterion's value check.

    Args:
        images: the images with their boxes; a label without boxes in an image makes no pair.
        maps: ``image_id -> explanation`` of every image, of any method.
        labels: the labels scored, in row order within an image.
        criteria: column name -> :class:`Criterion`, e.g. Table 4's
            (:func:`~corrrelax_lib.pipeline.correlax_images.table4_pointing_criteria`).
        tolerance: pixels by which every box grows on each side.

    Returns:
        Columns ``image_id, label``, a bool column per criterion, and ``chance``: the hit rate of a point
        drawn uniformly from the pixels where the first criterion's map is defined (:func:`chance_hit_rate`).
    """
    kinds = list(dict.fromkeys(criterion.kind for criterion in criteria.values()))  # the first criterion's first
    rows = []
    for image in images:
        for label in labels:
            if label not in image.boxes_by_label:
                continue
            boxes = image.boxes_by_label[label]
            heatmaps = {kind: maps[image.image_id].pixel_map(kind, label) for kind in kinds}
            hits = {name: hit(heatmaps[criterion.kind], boxes, tolerance=tolerance, threshold=criterion.threshold,
                              above=criterion.above)
                    for name, criterion in criteria.items()}
            defined = np.isfinite(heatmaps[kinds[0]])
            rows.append({"image_id": image.image_id, "label": label, **hits,
                         "chance": chance_hit_rate(defined, boxes, tolerance=tolerance)})
    return pd.DataFrame(rows, columns=["image_id", "label", *criteria, "chance"])
