"""The baselines chapter's comparison: cached heatmaps per image, pointing pairs and the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch import Tensor

from corrrelax_lib.attribution.explainer import HEATMAP
from corrrelax_lib.attribution.heatmaps import ClassHeatmaps
from corrrelax_lib.attribution.roi_explainer import RoiExplainer
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.pipeline.explained_images import explain_images, maps_directory
from corrrelax_lib.pipeline.method_comparison import MethodMaps, comparison_table, method_comparison
from corrrelax_lib.testing.models import QuadrantMeans

LABELS = ("a", "b")


class _Brightness(RoiExplainer):
    """Every class's map is the first channel; counts its calls."""

    method = "brightness"
    probability_kinds = frozenset({HEATMAP})
    calls = 0

    def attribute(self, x: Tensor) -> Tensor:
        type(self).calls += 1
        return x[:, :1].repeat(1, len(self.labels), 1, 1)

    def explain(self, image, foreground=None):
        return super().explain(image, np.ones(image.shape[:2], dtype=bool))


def _flat(images: list[AnnotatedImage], seconds: float) -> dict[str, ClassHeatmaps]:
    """A flat 0.1 map of every label, as a method that points nowhere would give."""
    return {image.image_id: ClassHeatmaps("flat", LABELS, np.full((2, 40, 60), 0.1), metadata={"seconds": seconds})
            for image in images}


def _image(image_id: str, bright_at: tuple[int, int], boxes: dict[str, list[float]]) -> AnnotatedImage:
    pixels = np.full((40, 60, 3), 20, dtype=np.uint8)
    y, x = bright_at
    pixels[y:y + 6, x:x + 6] = 250
    return AnnotatedImage("study", image_id, pixels, {k: np.array([v], dtype=float) for k, v in boxes.items()})


def _explainer(**options) -> _Brightness:
    model = QuadrantMeans(torch.eye(4, 2), torch.zeros(2))
    return _Brightness(model, LABELS, **{"image_size": 60, "progress": False, **options})


def test_heatmaps_are_cached_per_image_and_resumed(tmp_path):
    images = [_image("one", (5, 5), {"a": [0, 0, 10, 10]}), _image("two", (30, 50), {"b": [50, 30, 59, 39]})]
    _Brightness.calls = 0
    explain_images(_explainer(), images[:1], tmp_path)
    both = explain_images(_explainer(), images, tmp_path)
    assert _Brightness.calls == 2 and sorted(both) == ["one", "two"]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["one.json", "one.npz", "two.json", "two.npz"]


def test_directory_key_follows_map_parameters_only(tmp_path):
    def directory(**options) -> object:
        return maps_directory(tmp_path, "baselines", "run", _explainer(**options).parameters)

    base = directory()
    assert directory(batch_size=3) == base
    assert directory(image_size=30) != base
    assert directory(mode="windows") != base


def test_pairs_and_table_score_hits_thresholds_and_chance(tmp_path):
    images = [_image("one", (5, 5), {"a": [0, 0, 10, 10], "b": [40, 20, 50, 30]}),
              _image("two", (30, 50), {"a": [50, 30, 59, 39]})]
    explainer = _explainer()
    brightness = MethodMaps.of("brightness", explainer, explain_images(explainer, images, tmp_path), HEATMAP)
    flat = MethodMaps("flat", _flat(images, 0.5), HEATMAP, probability_maps=False)
    assert brightness.probability_maps and flat.seconds_per_image == 0.5
    pairs, table = method_comparison(images, [brightness, flat], LABELS, tolerance=0)
    bright = pairs.loc[pairs["method"] == "brightness"].set_index(["image_id", "label"])
    assert bright["max on box"].tolist() == [True, False, True]  # the bright patch is on "a" twice, not on "b"
    assert bright["max ≥ 50%"].tolist() == [True, False, True]  # the patch is ~0.98
    flat_pairs = pairs.loc[pairs["method"] == "flat"]
    assert flat_pairs["max on box"].tolist() == [False, False, False]  # a flat map points at its centre
    assert flat_pairs["max ≥ 25%"].isna().all()
    np.testing.assert_allclose(flat_pairs["chance"].iloc[0], 11 * 11 / (40 * 60))

    pd.testing.assert_frame_equal(table, comparison_table(pairs, [brightness, flat], LABELS))
    assert table.loc["brightness", "a"] == 1.0 and table.loc["brightness", "b"] == 0.0
    assert table.loc["brightness", "all pairs"] == pytest.approx(2 / 3)
    assert table.loc["flat", "all pairs"] == 0.0 and np.isnan(table.loc["flat", "max ≥ 25%"])
    assert table.loc["flat", "seconds / image"] == 0.5 and table.loc["flat", "support"] == 3
    with pytest.raises(ValueError, match="no image-label pairs for method 'other'"):
        comparison_table(pairs, [MethodMaps("other", flat.maps, HEATMAP, False)], LABELS)
