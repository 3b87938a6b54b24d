"""CorRELAX over a study's images: its explainer, and the pointing game of its maps (Table 4).

The maps themselves are computed and cached as every method's are
(:func:`~corrrelax_lib.pipeline.explained_images.explain_images`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from torch import nn

from corrrelax_lib.attribution.adaptive import AdaptiveMasks
from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.attribution.outcome_budget import OutcomeBudget
from corrrelax_lib.config import StudyConfig
from corrrelax_lib.distributed.gather import read_artifacts
from corrrelax_lib.metrics.pointing_game import pointing_game_table, table4_criteria
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.pipeline.explained_images import Criterion, pointing_pairs


def table4_pointing_criteria(correlation_above: float = 0.0) -> dict[str, Criterion]:
    """Table 4's three criteria for :func:`~corrrelax_lib.pipeline.explained_images.pointing_pairs` (§3.5, Eq. 11).

    A pair is hit by the prediction map when its maximum lies on one of the label's boxes and is at
    least 0.25 / 0.5, and by the correlation map when its maximum lies on a box and is above
    ``correlation_above`` (the paper's text: 0, a positive correlation; the authors' code: 0.05). The
    columns are named by :func:`~corrrelax_lib.metrics.pointing_game.table4_criteria`; a study's settings
    are its ``pointing_game`` section (:meth:`~corrrelax_lib.pipeline.study.Study.pointing_game_pairs`).

    >>> list(table4_pointing_criteria().values())[2]
    Criterion(kind='correlation', threshold=None, above=0.0)
    """
    names = table4_criteria(correlation_above)
    criteria = (Criterion("prediction", threshold=0.25), Criterion("prediction", threshold=0.5),
                Criterion("correlation", above=correlation_above))
    return dict(zip(names, criteria, strict=True))


def pointing_game_from_artifacts(
    images: Sequence[AnnotatedImage], directory: str | os.PathLike[str], parameters: Mapping[str, Any],
    labels: Sequence[str], *, tolerance: float, correlation_above: float = 0.0,
) -> pd.DataFrame:
    """Table 4 of the maps in ``directory`` (the gather step of ``corrrelax evaluate``): every image's
    artifact verified and read, :func:`~corrrelax_lib.pipeline.explained_images.pointing_pairs` under
    :func:`table4_pointing_criteria`, then
    :func:`~corrrelax_lib.metrics.pointing_game.pointing_game_table` over :func:`table4_criteria`.

    Args:
        parameters: the explainer's parameters (``CorRELAX.parameters``), as the artifacts record them.

    Raises:
        MissingArtifactsError: an image has no complete artifact (run the explain step first).
    """
    maps = read_artifacts([image.image_id for image in images], directory, parameters, CorrelaxMaps.load)
    pairs = pointing_pairs(images, maps, labels, table4_pointing_criteria(correlation_above), tolerance=tolerance)
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
