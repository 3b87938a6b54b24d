"""Every method's maps of the same test images, scored by the same pointing game (the baselines chapter).

Each method's maps are cached per image as every method's are
(:func:`~corrrelax_lib.pipeline.explained_images.explain_images`, under ``<artifacts>/baselines/`` for the
baselines), so an interrupted run resumes and a rerun reads them back. A method is scored by three
criteria: the map's maximum lies on a box of the label (grown by the tolerance), and, for maps in
probability units only, that maximum is also at least 25% or 50% (paper Table 4's thresholds).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from corrrelax_lib.attribution.explainer import Explainer, Explanation
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.pipeline.explained_images import Criterion, pointing_pairs

#: Pointing-game criteria of the comparison: the threshold the map's maximum must reach (``None``: none), which
#: applies only to maps in probability units.
COMPARISON_CRITERIA: dict[str, float | None] = {"max on box": None, "max ≥ 25%": 0.25, "max ≥ 50%": 0.5}

#: The CorRELAX maps compared with the other methods.
CORRELAX_KINDS: tuple[str, ...] = ("prediction", "correlation", "product")


@dataclass(frozen=True)
class MethodMaps:
    """One row of the comparison: one kind of map of one method, for every test image.

    Attributes:
        name: row name, e.g. ``"Grad-CAM (whole ROI)"`` or ``"CorRELAX prediction"``.
        maps: ``image_id -> explanation`` (:class:`~corrrelax_lib.attribution.explainer.Explanation`) of every image.
        kind: the map kind compared (:attr:`Explanation.kinds <corrrelax_lib.attribution.explainer.Explanation.kinds>`).
        probability_maps: whether the values are probabilities (the 25% / 50% criteria apply).
    """

    name: str
    maps: Mapping[str, Explanation]
    kind: str
    probability_maps: bool

    @classmethod
    def of(cls, name: str, explainer: Explainer | type[Explainer], maps: Mapping[str, Explanation],
           kind: str) -> MethodMaps:
        """The row of ``kind`` of ``explainer``'s ``maps``: probabilities when the explainer says that kind is."""
        return cls(name, maps, kind, kind in explainer.probability_kinds)

    def pixel_map(self, image_id: str, label: str) -> np.ndarray:
        """The ``(H, W)`` map of ``label`` in image ``image_id``, ROI pixels, NaN where the method has no value."""
        return self.maps[image_id].pixel_map(self.kind, label)

    @property
    def seconds_per_image(self) -> float:
        """Mean compute time per image, seconds (as measured when the maps were computed)."""
        return float(np.mean([explanation.seconds for explanation in self.maps.values()]))

    def pairs(self, images: Sequence[AnnotatedImage], labels: Sequence[str], *, tolerance: float) -> pd.DataFrame:
        """One row per image-label pair: ``method, image_id, label``, a column per :data:`COMPARISON_CRITERIA`
        (bool; ``<NA>`` where a criterion needs probabilities and the maps are not), and ``chance``
        (:func:`~corrrelax_lib.pipeline.explained_images.pointing_pairs`)."""
        criteria = {name: Criterion(self.kind, threshold=threshold) for name, threshold in COMPARISON_CRITERIA.items()
                    if self.probability_maps or threshold is None}
        pairs = pointing_pairs(images, self.maps, labels, criteria, tolerance=tolerance)
        pairs = pairs.reindex(columns=["image_id", "label", *COMPARISON_CRITERIA, "chance"])
        pairs.insert(0, "method", self.name)
        return pairs.astype({criterion: "boolean" for criterion in COMPARISON_CRITERIA})


def comparison_table(pairs: pd.DataFrame, methods: Sequence[MethodMaps], labels: Sequence[str]) -> pd.DataFrame:
    """One row per method: pointing accuracy (Eq. 11) per label and over all pairs, the thresholded
    accuracies where they apply, the chance level, support (pairs) and seconds per image.

    Args:
        pairs: :meth:`MethodMaps.pairs` of every method, concatenated.
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
    """Every method's :meth:`MethodMaps.pairs` on the same images, and their :func:`comparison_table`.

    Returns:
        ``(pairs, table)``: one row per method, image and label; one row per method.
    """
    pairs = pd.concat([method.pairs(images, labels, tolerance=tolerance) for method in methods], ignore_index=True)
    return pairs, comparison_table(pairs, methods, labels)
