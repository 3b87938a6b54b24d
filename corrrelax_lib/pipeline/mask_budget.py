"""How many masked passes do the paper's outcomes need? Mask budgets against an independent reference.

The outcomes the paper reports from CorRELAX are where each map peaks and Table 4's pointing-game hits
(§3.5, Eq. 11). This module explains test images (every window, or a square around
a finding: ``mask_sensitivity.budget_region``) with every method of :func:`budget_methods`
(fixed counts of the paper's masks, variance-reduced mask designs, :class:`AdaptiveMasks`, outcome budgets
and the profile's own setting) and compares each with a reference of many masks drawn from a seed of its
own (:func:`reference_explainer`), so that a method is not judged against its own masks. Every method's
maps are cached per image like chapter 05's (one folder per :func:`~corrrelax_lib.io.artifacts.parameters_key`),
so the chapter and ``benchmarks/mask_budget.py`` compute them once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from corrrelax_lib.attribution.adaptive import AdaptiveMasks
from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.attribution.mask_designs import MASK_DESIGNS
from corrrelax_lib.attribution.outcome_budget import OutcomeBudget
from corrrelax_lib.config import StudyConfig
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.metrics.pointing_game import predicted_location
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.pipeline.correlax_images import outcome_budget, study_explainer, table4_pointing_criteria
from corrrelax_lib.pipeline.explained_images import explain_images, pointing_pairs
from corrrelax_lib.pipeline.study import FINDINGS, Study
from corrrelax_lib.windows.grid import window_grid

#: The columns of :func:`mask_budget_table` that say how close a method comes to the reference.
AGREEMENT_COLUMNS: tuple[str, ...] = ("pair_agreement", "max_agreement", "map_pearson")


@dataclass(frozen=True)
class BudgetMethod:
    """One way to spend masks, and the mask counts at which its maps are read.

    Attributes:
        name: the row's name, e.g. ``"sobol"`` or ``"outcome, first 16"``.
        family: ``"fixed"`` (a mask design at fixed counts), ``"adaptive"``, ``"outcome"`` or ``"default"``
            (the profile's ``correlax`` section as it stands).
        explainer: computes the maps.
        counts: checkpoints read as fixed counts; ``()`` reads the run's final maps.
    """

    name: str
    family: str
    explainer: CorRELAX
    counts: tuple[int, ...] = ()


def reference_explainer(study: Study) -> CorRELAX:
    """The reference: ``mask_sensitivity.budget_reference_masks`` of the paper's masks per window, seeded by
    ``budget_reference_seed`` (the compared methods by ``seed``), every window all of them."""
    sensitivity = study.config.mask_sensitivity
    config = _variant(study.config, seed=sensitivity.budget_reference_seed)
    return study_explainer(study.classifier().model, config, LABELS, n_masks=sensitivity.budget_reference_masks,
                           progress=study.progress)


def budget_methods(study: Study) -> list[BudgetMethod]:
    """Every method compared, in the table's order (chapter 06, ``benchmarks/mask_budget.py``).

    * each mask design of :data:`MASK_DESIGNS` (``"bernoulli"``: the paper's protocol) at every
      ``budget_counts``, read from one run's checkpoints;
    * :class:`AdaptiveMasks` with the section's ``adaptive_*`` settings, capped at the reference count;
    * an :class:`OutcomeBudget` per ``budget_first_masks`` with the section's mask design, capped at the
      reference count;
    * ``default``: the study's own ``correlax`` section (the maps every other chapter reads).
    """
    config, model = study.config, study.classifier().model
    sensitivity = config.mask_sensitivity
    cap = sensitivity.budget_reference_masks
    counts = tuple(sorted(sensitivity.budget_counts))

    def explainer(n_masks: int, *, adaptive: AdaptiveMasks | OutcomeBudget | None = None, design: str = "bernoulli",
                  checkpoints: Sequence[int] = ()) -> CorRELAX:
        variant = _variant(config, mask_design=design)
        return study_explainer(model, variant, LABELS, n_masks=n_masks, adaptive=adaptive, checkpoints=checkpoints,
                               progress=study.progress)

    methods = [BudgetMethod(design, "fixed", explainer(counts[-1], design=design, checkpoints=counts[:-1]), counts)
               for design in MASK_DESIGNS]
    adaptive = AdaptiveMasks(tolerance=sensitivity.adaptive_tolerance, z=sensitivity.adaptive_z,
                             min_masks=sensitivity.adaptive_min_masks)
    methods.append(BudgetMethod("adaptive", "adaptive", explainer(cap, adaptive=adaptive)))
    methods += [BudgetMethod(f"outcome, first {first}", "outcome",
                             explainer(cap, adaptive=outcome_budget(config, first),
                                       design=config.correlax.mask_design))
                for first in sensitivity.budget_first_masks]
    methods.append(BudgetMethod("default", "default", study.explainer(checkpoints=())))
    return methods


def windows_around_finding(image: AnnotatedImage, explainer: CorRELAX, side: int) -> np.ndarray:
    """``(n_rows, n_cols)`` bool: the windows of ``explainer``'s grid over ``image`` whose centre lies in a
    ``side × side`` square centred on its first finding box (first of :data:`FINDINGS` it holds), the square
    moved inside the ROI where it would reach past it."""
    height, width = image.image.shape[:2]
    grid = window_grid(height, width, explainer.window_size, explainer.stride)
    label = next(label for label in FINDINGS if len(image.boxes_by_label.get(label, ())))
    x0, y0, x1, y1 = image.boxes_by_label[label][0]
    centres_y, centres_x = grid.centres()
    inside = []
    for centre, extent, centres in (((y0 + y1) / 2, height, centres_y), ((x0 + x1) / 2, width, centres_x)):
        low = min(max(centre - side / 2, 0.0), max(extent - side, 0.0))
        inside.append((centres >= low) & (centres <= low + side))
    return inside[0][:, None] & inside[1][None, :]


def method_maps(study: Study, explainer: CorRELAX, images: Sequence[AnnotatedImage]) -> dict[str, CorrelaxMaps]:
    """``{image_id: maps}`` of ``explainer``, each image computed once (:func:`explain_images`): every window, or
    with ``mask_sensitivity.budget_region`` set, those around its first finding (:func:`windows_around_finding`),
    kept in a subfolder ``region-<side>`` so that whole maps and squares of the same image never replace each
    other."""
    side = study.config.mask_sensitivity.budget_region
    directory = study.maps_directory(explainer)
    if side is None:
        return explain_images(explainer, images, directory, progress=study.progress)
    windows = {image.image_id: windows_around_finding(image, explainer, side) for image in images}
    return explain_images(explainer, images, directory / f"region-{side}", windows=windows, progress=study.progress)


def maps_at(maps: CorrelaxMaps, n_masks: int) -> CorrelaxMaps:
    """The maps a run would have made with its first ``n_masks`` masks (one of its checkpoints)."""
    return dataclasses.replace(maps, window_rho_dist=maps.rho_dist_at[n_masks],
                               window_rho_class=maps.rho_class_at[n_masks],
                               masks_used=np.minimum(maps.masks_used, n_masks), rho_dist_at={}, rho_class_at={})


def outcome_agreement(
    maps: Mapping[str, CorrelaxMaps], reference: Mapping[str, CorrelaxMaps], images: Sequence[AnnotatedImage], *,
    tolerance: float, correlation_above: float = 0.0,
) -> dict[str, float]:
    """How close ``maps`` come to ``reference`` on the same images, in what the paper reports.

    Args:
        maps, reference: ``{image_id: maps}`` of one method and of the reference.
        images: the test images (their boxes score Table 4).
        tolerance, correlation_above: the ``pointing_game`` section.

    Returns:
        ``passes_fraction`` (masked passes over the reference's); ``rho_dist_median``, ``rho_dist_p95``,
        ``rho_class_median``, ``rho_class_p95`` (per-window ``|ρ − ρ_ref|`` of Eq. 3 and Eq. 4);
        ``pair_agreement`` (share of image-label pairs whose every Table 4 criterion equals the reference's);
        ``max_agreement`` (share of maps — the distance map and each finding's correlation map — whose maximum
        lies within one stride of the reference's, in both axes); ``map_pearson`` (mean Pearson correlation of
        the smoothed window maps, :meth:`CorrelaxMaps.window_map`).
    """
    ids = [image.image_id for image in images]
    passes = sum(int(maps[i].masks_used.sum()) for i in ids) / sum(int(reference[i].masks_used.sum()) for i in ids)
    dist = np.concatenate([np.abs(maps[i].window_rho_dist - reference[i].window_rho_dist).ravel() for i in ids])
    rho_class = np.concatenate([np.abs(maps[i].window_rho_class - reference[i].window_rho_class).ravel() for i in ids])
    dist, rho_class = dist[np.isfinite(dist)], rho_class[np.isfinite(rho_class)]
    criteria = table4_pointing_criteria(correlation_above)
    pairs = [pointing_pairs(images, of, FINDINGS, criteria, tolerance=tolerance) for of in (maps, reference)]
    columns = list(criteria)
    pair_agreement = float((pairs[0][columns].to_numpy() == pairs[1][columns].to_numpy()).all(axis=1).mean())
    same_max, pearson = [], []
    for i in ids:
        for kind, label in (("distance", None), *(("correlation", label) for label in FINDINGS)):
            same_max.append(_same_maximum(maps[i], reference[i], kind, label))
            pearson.append(_pearson(maps[i].window_map(kind, label), reference[i].window_map(kind, label)))
    return {"passes_fraction": passes,
            "rho_dist_median": float(np.median(dist)), "rho_dist_p95": float(np.quantile(dist, 0.95)),
            "rho_class_median": float(np.median(rho_class)), "rho_class_p95": float(np.quantile(rho_class, 0.95)),
            "pair_agreement": pair_agreement, "max_agreement": float(np.mean(same_max)),
            "map_pearson": float(np.nanmean(pearson))}


def mask_budget_table(study: Study, images: Sequence[AnnotatedImage] | None = None) -> pd.DataFrame:
    """Every :func:`budget_methods` row against :func:`reference_explainer` (:func:`outcome_agreement`).

    Args:
        images: default the first ``mask_sensitivity.budget_images`` test images with findings.

    Returns:
        One row per method and count: ``method``, ``family``, ``n_masks`` (the fixed count, or the cap),
        the columns of :func:`outcome_agreement`, and ``default`` (bool: the profile's own setting, marked on
        the row whose final maps it would make, or a row of its own).
    """
    images = study.test_images()[:study.config.mask_sensitivity.budget_images] if images is None else images
    game = study.config.pointing_game
    reference = method_maps(study, reference_explainer(study), images)
    methods = budget_methods(study)
    default_maps = _maps_parameters(methods[-1].explainer)
    rows = []
    for method in methods:
        is_default = _maps_parameters(method.explainer) == default_maps
        if method.family == "default" and any(row["default"] for row in rows):
            continue  # the profile's setting is one of the rows above
        maps = method_maps(study, method.explainer, images)
        for n in method.counts or (method.explainer.parameters["n_masks"],):
            read = maps if not method.counts or n == method.counts[-1] else {i: maps_at(m, n) for i, m in maps.items()}
            rows.append({"method": method.name, "family": method.family, "n_masks": n,
                         **outcome_agreement(read, reference, images, tolerance=game.tolerance,
                                             correlation_above=game.correlation_above),
                         "default": is_default and (not method.counts or n == method.counts[-1])})
    return pd.DataFrame(rows)


def _variant(config: StudyConfig, *, seed: int | None = None, mask_design: str = "bernoulli") -> StudyConfig:
    """``config`` with the paper's fixed budget, mask design ``mask_design`` and (if given) masks seeded by ``seed``."""
    correlax = dataclasses.replace(config.correlax, mask_budget="fixed", mask_design=mask_design)
    return dataclasses.replace(config, correlax=correlax, seed=config.seed if seed is None else seed)


def _maps_parameters(explainer: CorRELAX) -> dict[str, object]:
    """What decides ``explainer``'s final maps: its parameters but the checkpoints (which only add earlier reads)."""
    return {name: value for name, value in explainer.parameters.items() if name != "checkpoints"}


def _same_maximum(maps: CorrelaxMaps, reference: CorrelaxMaps, kind: str, label: str | None) -> bool:
    """Whether the two maps' :func:`predicted_location` lie within one stride of each other (both axes)."""
    here, there = (predicted_location(of.pixel_map(kind, label)) for of in (maps, reference))
    if here is None or there is None:
        return here is None and there is None
    return max(abs(here[0] - there[0]), abs(here[1] - there[1])) <= maps.grid.stride


def _pearson(values: np.ndarray, reference: np.ndarray) -> float:
    """Pearson correlation over the cells finite in both maps (NaN with fewer than 3, or no variance)."""
    both = np.isfinite(values) & np.isfinite(reference)
    if both.sum() < 3 or np.std(values[both]) == 0 or np.std(reference[both]) == 0:
        return float("nan")
    return float(np.corrcoef(values[both], reference[both])[0, 1])
