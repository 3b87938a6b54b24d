"""Pointing game: does a heatmap's maximum fall on the annotated finding? (paper §3.5, Eq. 11, Table 4).

For every image-label pair (one label present in one image, however many boxes it has), the
location of the label's heatmap maximum is the predicted location of the finding
(:func:`predicted_location`: at a window centre, never on a border pixel no window centres on). It is a hit
when it lies inside one of the label's boxes grown by ``tolerance`` pixels on every side (the
paper uses the window stride, 48 pixels) and, where asked, when the maximum itself is high
enough: a prediction of at least 25% or 50%, or a positive correlation (the paper's text; the
authors' code asks for a correlation above 0.05: :func:`table4_criteria`). Per label,

    accuracy = #hits / (#hits + #misses)                                        (Eq. 11)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import ndimage

from corrrelax_lib.windows.reconstruction import refuse_infinite


def prediction_criterion(threshold: float) -> str:
    """The name of a hit column whose prediction-map maximum must be *at least* ``threshold`` (probability).

    :func:`hit` tests ``peak >= threshold``, so the name says ``≥`` (the paper's Table 4 header prints ">").

    >>> prediction_criterion(0.25)
    'prediction ≥ 25%'
    """
    return f"prediction ≥ {threshold:.0%}"


def correlation_criterion(correlation_above: float = 0.0) -> str:
    """The name of a hit column whose correlation-map maximum must *exceed* ``correlation_above``.

    :func:`hit` tests ``peak > correlation_above`` (``require_positive`` or ``above``), so the name says ``>``.

    >>> correlation_criterion(0.05)
    'correlation > 0.05'
    """
    return f"correlation > {correlation_above:g}"


def table4_criteria(correlation_above: float = 0.0) -> tuple[str, str, str]:
    """The names of Table 4's three hit columns when the correlation map's maximum must exceed ``correlation_above``.

    The prediction columns ask for a maximum of at least 25% and 50% (:func:`prediction_criterion`); the correlation
    column for more than ``correlation_above`` (:func:`correlation_criterion`): the paper's text asks for a positive
    correlation (``correlation > 0``, the default), the authors' code for more than 0.05. These names are the one
    vocabulary of the criteria: tables, notebooks and figures take them from here.

    >>> table4_criteria(0.05)
    ('prediction ≥ 25%', 'prediction ≥ 50%', 'correlation > 0.05')
    """
    return prediction_criterion(0.25), prediction_criterion(0.5), correlation_criterion(correlation_above)


#: The columns of paper Table 4, as :func:`pointing_game_table` names them.
TABLE4_CRITERIA: tuple[str, ...] = table4_criteria()

#: Index names of a table's last, weighted-mean row (ours, and the paper's Table 4).
WEIGHTED_MEAN_ROWS: tuple[str, ...] = ("Weighted mean", "Weighted Mean Accuracy")

#: Index name of the row that divides all hits by the images with a finding (the paper's "weighted mean").
PER_IMAGE_ROW = "Hits per image"


def hit(
    heatmap: np.ndarray,
    boxes_xyxy: np.ndarray,
    *,
    tolerance: float = 48,
    threshold: float | None = None,
    require_positive: bool = False,
    above: float | None = None,
) -> bool:
    """One image-label pair of the pointing game: is the heatmap's maximum on a box?

    Args:
        heatmap: ``(H, W)`` map of one label in ROI pixels, indexed ``[y, x]``; NaN pixels
            (e.g. not covered by any window) are ignored; ``±inf`` is refused.
        boxes_xyxy: ``(N, 4)`` boxes ``(x0, y0, x1, y1)`` of that label in the same pixels, ``N >= 1``.
        tolerance: pixels by which every box grows on each side; bounds are inclusive.
        threshold: if given, the maximum must also be ``>= threshold`` (0.25 or 0.5 on a
            prediction map, in probability).
        require_positive: if true, the maximum must also be ``> 0`` (a correlation map; ``above=0``).
        above: if given, the maximum must also be ``> above`` (the authors' code: 0.05 on a correlation map).

    Returns:
        Whether the map's predicted location (:func:`predicted_location`) lies in a grown box
        and its maximum passes the value checks. An all-NaN heatmap is a miss.

    Raises:
        ValueError: a heatmap that is not 2-D, is empty, or holds ``±inf``.

    >>> heatmap, boxes = np.zeros((100, 200)), [[0, 0, 100, 20]]
    >>> heatmap[10, 140] = 0.6  # 40 pixels right of the box
    >>> hit(heatmap, boxes), hit(heatmap, boxes, tolerance=0), hit(heatmap, boxes, threshold=0.7)
    (True, False, False)
    >>> hit(heatmap, boxes, above=0.6), hit(heatmap, boxes, above=0.05)
    (False, True)
    """
    location = predicted_location(heatmap)
    x0, y0, x1, y1 = _check_boxes(boxes_xyxy).T
    if location is None:
        return False
    y, x = location
    peak = float(np.asarray(heatmap, dtype=np.float64)[y, x])
    if threshold is not None and not peak >= threshold:
        return False
    if require_positive and not peak > 0:
        return False
    if above is not None and not peak > above:
        return False
    inside = (x0 - tolerance <= x) & (x <= x1 + tolerance) & (y0 - tolerance <= y) & (y <= y1 + tolerance)
    return bool(inside.any())


def predicted_location(heatmap: np.ndarray) -> tuple[int, int] | None:
    """Where a map points (§3.5: "the location point of these maxima"): ``(y, x)`` in its pixels.

    The maximum's *plateau* is the 8-connected set of pixels equal to the maximum that holds the
    first maximum in row-major order. Usually it is one pixel: a window map upsampled bilinearly
    (:func:`~corrrelax_lib.windows.reconstruction.window_map_to_pixels`) peaks at a window centre.
    Beyond the outermost window centres, though, that map is held constant out to the ROI border,
    so a maximum in the first (or last) row or column of windows is a plateau reaching the border;
    its pixel farthest from the border is the outermost window centre, where the information is,
    and is the location (never a border pixel that no window centres on; of several such pixels, as
    in a constant map, the one nearest the plateau's centroid). Any other plateau (e.g. a map
    upsampled by nearest neighbour) gives its pixel nearest to the plateau's centroid.
    Next to a window skipped as background the map is held for half a stride, so the location can
    lie up to half a stride past that window's centre.

    Args:
        heatmap: ``(H, W)`` float map; NaN pixels are ignored.

    Returns:
        ``(y, x)`` int pixel indices, or ``None`` for an all-NaN map.

    Raises:
        ValueError: a heatmap that is not 2-D, is empty, or holds ``±inf``.

    >>> heatmap = np.zeros((300, 300))
    >>> heatmap[:128, :128] = 1.0  # the first window's value held out to the corner
    >>> predicted_location(heatmap)
    (127, 127)
    """
    heatmap = check_heatmap(heatmap)
    if np.isnan(heatmap).all():
        return None
    first = np.unravel_index(np.nanargmax(heatmap), heatmap.shape)
    components, _ = ndimage.label(heatmap == heatmap[first], structure=np.ones((3, 3), dtype=bool))
    ys, xs = np.nonzero(components == components[first])
    height, width = heatmap.shape
    to_border = np.minimum.reduce([ys, xs, height - 1 - ys, width - 1 - xs])
    candidates = to_border == to_border.max() if to_border.min() == 0 else np.ones(len(ys), dtype=bool)
    # Of the candidates (held out to the border: those farthest from it), the one nearest the centroid.
    distance = np.where(candidates, (ys - ys.mean()) ** 2 + (xs - xs.mean()) ** 2, np.inf)
    index = int(np.argmin(distance))
    return int(ys[index]), int(xs[index])


def check_heatmap(heatmap: np.ndarray) -> np.ndarray:
    """A heatmap as a float64 ``(H, W)`` array with ``H, W >= 1`` and no ``±inf`` (NaN means "no value").

    Raises:
        ValueError: not 2-D, empty, or holding ``±inf`` (the message counts the infinite pixels and
            gives the first one's ``(y, x)``).
    """
    heatmap = np.asarray(heatmap, dtype=np.float64)
    if heatmap.ndim != 2:
        raise ValueError(f"heatmap must be 2-D (H, W), got shape {heatmap.shape}")
    return refuse_infinite(heatmap, "heatmap")


def chance_hit_rate(region: np.ndarray, boxes_xyxy: np.ndarray, *, tolerance: float = 48) -> float:
    """Hit rate of a point drawn uniformly from ``region``: the pointing game's chance level for one pair.

    Args:
        region: ``(H, W)`` bool, where a map's maximum can fall (e.g. the breast in the ROI).
        boxes_xyxy: ``(N, 4)`` boxes of the label, grown by ``tolerance`` as in :func:`hit`.

    Returns:
        The share of ``region`` pixels inside a grown box (NaN for an empty region).

    >>> chance_hit_rate(np.ones((100, 100), bool), [[10, 10, 19, 19]], tolerance=0)
    0.01
    """
    region = np.asarray(region, dtype=bool)
    if region.ndim != 2 or region.size == 0:
        raise ValueError(f"region must be a non-empty 2-D (H, W) mask, got shape {region.shape}")
    ys, xs = np.nonzero(region)
    if len(ys) == 0:
        return float("nan")
    inside = np.zeros(len(ys), dtype=bool)
    for x0, y0, x1, y1 in _check_boxes(boxes_xyxy):
        inside |= (x0 - tolerance <= xs) & (xs <= x1 + tolerance) & (y0 - tolerance <= ys) & (ys <= y1 + tolerance)
    return float(inside.mean())


def pointing_game_table(pairs: pd.DataFrame, criteria: Sequence[str], labels: Sequence[str]) -> pd.DataFrame:
    """Table 4: pointing-game accuracy (Eq. 11) per label and criterion, with support.

    Args:
        pairs: one row per image-label pair, with columns ``image_id``, ``label`` and one
            bool column per criterion (the :func:`hit` of that pair under that criterion).
            Several boxes of one label in one image are one pair, scored once (§4.4).
        criteria: names of the hit columns, e.g. :data:`TABLE4_CRITERIA`.
        labels: the table's rows, in order; every label of ``pairs`` must be one of them.

    Returns:
        DataFrame indexed by ``labels``, then ``"Weighted mean"`` and :data:`PER_IMAGE_ROW`, with one
        float column per criterion (hits / pairs; NaN for a label without pairs) and an int ``support``
        column (pairs). ``"Weighted mean"`` is the support-weighted mean of the label rows, i.e. all
        hits over all pairs, with the total support; :data:`PER_IMAGE_ROW` is all hits over the images
        (its support), which is what the paper's "Weighted Mean Accuracy" computes (chapter 07): it
        can exceed 1 when images hold findings of several labels.

    >>> pairs = pd.DataFrame({"image_id": ["a", "b", "b"], "label": ["Mass", "Mass", "Retractions"],
    ...                       "correlation > 0": [True, False, True]})
    >>> pointing_game_table(pairs, ["correlation > 0"], ["Mass", "Retractions"])["correlation > 0"].tolist()
    [0.5, 1.0, 0.6666666666666666, 1.0]
    """
    missing = [column for column in ("image_id", "label", *criteria) if column not in pairs.columns]
    if missing:
        raise ValueError(f"pairs lacks column(s) {missing}")
    not_bool = [column for column in criteria if not pd.api.types.is_bool_dtype(pairs[column])]
    if not_bool:
        raise ValueError(f"hit column(s) {not_bool} must be bool")
    repeated = pairs.loc[pairs.duplicated(["image_id", "label"]), ["image_id", "label"]]
    if len(repeated):
        image_id, label = repeated.iloc[0]
        raise ValueError(
            f"pair (image_id={image_id!r}, label={label!r}) appears more than once: "
            "merge its boxes into one pair, scored once"
        )
    unknown = sorted(set(pairs["label"]) - set(labels))
    if unknown:
        raise ValueError(f"pairs has labels {unknown} that are not rows of the table")

    hits = pairs[list(criteria)].astype(np.float64)
    by_label = hits.groupby(pairs["label"])
    table = by_label.mean().reindex(list(labels))
    table["support"] = by_label.size().reindex(list(labels), fill_value=0)
    # All hits over all pairs: the support-weighted mean of the label rows.
    table.loc[WEIGHTED_MEAN_ROWS[0]] = [*hits.mean(), len(hits)]
    # All hits over the images with a finding: the paper's "Weighted Mean Accuracy".
    n_images = pairs["image_id"].nunique()
    table.loc[PER_IMAGE_ROW] = [*(hits.sum() / n_images if n_images else hits.sum() * np.nan), n_images]
    table.index.name = "label"
    return table.astype({"support": "int64"})


def support_weighted_mean(table: pd.DataFrame, criteria: Sequence[str]) -> pd.Series:
    """Mean of each criterion over the label rows of a Table-4-shaped table, weighted by ``support``.

    The summary rows (any index in :data:`WEIGHTED_MEAN_ROWS`, and :data:`PER_IMAGE_ROW`) are left
    out, and so are labels without support. NaN when no label has support.

    Returns:
        Series indexed by ``criteria``.
    """
    rows = table.loc[~table.index.isin([*WEIGHTED_MEAN_ROWS, PER_IMAGE_ROW])]
    rows = rows.loc[rows["support"] > 0]
    if rows.empty:
        return pd.Series(np.nan, index=list(criteria))
    return pd.Series({column: np.average(rows[column], weights=rows["support"]) for column in criteria})


def _check_boxes(boxes_xyxy: np.ndarray) -> np.ndarray:
    """Boxes as a float64 ``(N, 4)`` array, ``N >= 1``, each with ``x0 <= x1`` and ``y0 <= y1``."""
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    if boxes.size == 0:
        raise ValueError("boxes_xyxy is empty: an image-label pair has at least one box")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes_xyxy must be (N, 4), got shape {boxes.shape}")
    # Written as "not >=" so that NaN coordinates are refused too.
    inverted = ~((boxes[:, 2] >= boxes[:, 0]) & (boxes[:, 3] >= boxes[:, 1]))
    if inverted.any():
        index = int(np.flatnonzero(inverted)[0])
        raise ValueError(f"box {index} {boxes[index].tolist()} is not (x0, y0, x1, y1) with x0 <= x1 and y0 <= y1")
    return boxes
