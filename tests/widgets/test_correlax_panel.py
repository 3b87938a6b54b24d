"""The CorRELAX explorer on real maps of QuadrantMeans: every control redraws once, from the stored maps only."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from corrrelax_lib.attribution.correlax import CorRELAX
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.metrics.pointing_game import predicted_location
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.testing.models import QuadrantMeans
from corrrelax_lib.viz.correlax_maps import plot_map_over_image
from corrrelax_lib.widgets import CorrelaxPanel
from corrrelax_lib.widgets import correlax_panel as panel_module

LABELS = ("a", "b", "c")
FIRST, SECOND = "a1b2c3d4e5f6", "f6e5d4c3b2a1"


def _maps(seed: int, checkpoints: list[int]) -> tuple[np.ndarray, CorrelaxMaps]:
    """A (40, 56, 3) random image and its maps: 48 masks, 16 × 16 windows at stride 8."""
    generator = torch.Generator().manual_seed(seed)
    weight, bias = torch.randn(4, len(LABELS), generator=generator), torch.randn(len(LABELS), generator=generator)
    model = QuadrantMeans(weight, bias)
    explainer = CorRELAX(model, LABELS, window_size=16, stride=8, n_masks=48, mask_chunk=16, checkpoints=checkpoints,
                         progress=False)
    image = np.random.default_rng(seed).random((40, 56, 3))
    return image, explainer.explain(image, foreground=np.ones((40, 56), dtype=bool))


@pytest.fixture(scope="module")
def data() -> tuple[list[AnnotatedImage], dict[str, CorrelaxMaps]]:
    image_1, maps_1 = _maps(0, [16, 32])
    image_2, maps_2 = _maps(1, [32])
    images = [
        AnnotatedImage("s1", FIRST, (image_1 * 255).astype(np.uint8),
                       {"b": np.array([[2.0, 3.0, 20.0, 18.0]]), "c": np.zeros((0, 4))}),
        AnnotatedImage("s2", SECOND, (image_2 * 255).astype(np.uint8), {"a": np.array([[30.0, 10.0, 50.0, 30.0]])}),
        AnnotatedImage("s3", "no-maps-here", image_2, {}),
    ]
    return images, {FIRST: maps_1, SECOND: maps_2}


class Drawn:
    """Records every heatmap the panel draws (it still draws it, with the real plotting function)."""

    def __init__(self) -> None:
        self.heatmaps: list[np.ndarray] = []
        self.figures: list[Figure] = []

    def __call__(self, image: np.ndarray, heatmap: np.ndarray, *args: Any, **kwargs: Any) -> Figure:
        self.heatmaps.append(heatmap)
        self.figures.append(plot_map_over_image(image, heatmap, *args, **kwargs))
        return self.figures[-1]


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Iterator[Drawn]:
    plt.switch_backend("Agg")
    recorder = Drawn()
    monkeypatch.setattr(panel_module, "plot_map_over_image", recorder)
    # The panel only reads stored maps: any recomputation fails the test.
    monkeypatch.setattr(CorRELAX, "explain", lambda *args, **kwargs: pytest.fail("the panel recomputed maps"))
    yield recorder
    plt.close("all")


def _expected(panel: CorrelaxPanel, maps: dict[str, CorrelaxMaps]) -> np.ndarray:
    label = None if panel.kind.value == "distance" else panel.label.value
    n_masks = None if panel.masks.value == 48 else panel.masks.value
    heatmap = maps[panel.image.value].pixel_map(panel.kind.value, label, n_masks=n_masks)
    return np.where(heatmap < panel.threshold.value, np.nan, heatmap)


def test_initial_panel_shows_the_first_present_label_at_full_masks(data, drawn) -> None:
    images, maps = data
    panel = CorrelaxPanel(images, maps)
    assert panel.image.options == ((f"{FIRST[:8]} (b)", FIRST), (f"{SECOND[:8]} (a)", SECOND))
    assert (panel.label.value, panel.kind.value, panel.masks.value, panel.masks.label) == ("b", "prediction",
                                                                                          48, "all (48)")
    assert panel.masks.options == (("16", 16), ("32", 32), ("all (48)", 48))
    assert (panel.threshold.min, panel.threshold.max, panel.threshold.value) == (0.0, 1.0, 0.0)
    np.testing.assert_array_equal(panel.current_map(), maps[FIRST].pixel_map("prediction", "b"))
    assert len(drawn.heatmaps) == 1 and plt.get_fignums() == []  # drawn, shown, closed
    ax = drawn.figures[0].axes[0]
    y, x = np.unravel_index(np.nanargmax(panel.current_map()), (40, 56))
    assert [(line.get_xdata()[0], line.get_ydata()[0]) for line in ax.get_lines()] == [(x, y)]
    assert [patch.get_bbox().bounds for patch in ax.patches] == [(2.0, 3.0, 18.0, 15.0)]
    assert ax.get_title() == f"{FIRST[:8]} · b: prediction · masks all (48)"
    assert panel.widget.children[-1] is panel.output


@pytest.mark.parametrize(("kind", "control", "value"), [
    ("prediction", "label", "a"), ("prediction", "kind", "correlation"), ("correlation", "kind", "product"),
    ("product", "kind", "distance"), ("prediction", "threshold", 0.625), ("correlation", "masks", 16),
    ("distance", "masks", 32), ("prediction", "image", SECOND),
])
def test_each_control_redraws_once_with_the_stored_map(data, drawn, kind: str, control: str, value: object) -> None:
    images, maps = data
    panel = CorrelaxPanel(images, maps)
    panel.kind.value = kind  # predictions do not depend on the masks: compare correlations there
    before = panel.current_map()
    redraws = len(drawn.heatmaps)
    getattr(panel, control).value = value
    assert len(drawn.heatmaps) == redraws + 1
    np.testing.assert_array_equal(panel.current_map(), _expected(panel, maps))
    np.testing.assert_array_equal(drawn.heatmaps[-1], panel.current_map())
    assert not np.array_equal(panel.current_map(), before, equal_nan=True)


def test_threshold_hides_low_pixels_and_follows_the_kind(data, drawn) -> None:
    images, maps = data
    panel = CorrelaxPanel(images, maps)
    panel.kind.value = "correlation"
    assert (panel.threshold.min, panel.threshold.max, panel.threshold.value) == (-1.0, 1.0, -1.0)
    full = maps[FIRST].pixel_map("correlation", "b")
    np.testing.assert_array_equal(panel.current_map(), full)  # the minimum shows everything
    panel.threshold.value = -0.3  # the map runs over about [-0.40, -0.19]
    shown = panel.current_map()
    assert np.isnan(shown[full < -0.3]).all() and np.array_equal(shown[full >= -0.3], full[full >= -0.3])
    assert 0 < np.isnan(shown).sum() < shown.size
    panel.threshold.value = 0.5
    panel.kind.value = "prediction"  # a threshold the user set is kept inside the new range
    assert (panel.threshold.min, panel.threshold.value) == (0.0, 0.5)
    panel.threshold.value = 0.0
    panel.kind.value = "distance"  # "show everything" stays "show everything"
    assert (panel.threshold.min, panel.threshold.value) == (-1.0, -1.0)
    assert len(drawn.heatmaps) == 7


def test_label_is_disabled_for_the_distance_map(data, drawn) -> None:
    images, maps = data
    panel = CorrelaxPanel(images, maps)
    panel.kind.value = "distance"
    assert panel.label.disabled
    np.testing.assert_array_equal(panel.current_map(), maps[FIRST].pixel_map("distance"))
    panel.label.value = "c"  # still redraws (the boxes change), the map does not
    np.testing.assert_array_equal(drawn.heatmaps[-1], drawn.heatmaps[-2])
    panel.kind.value = "product"
    assert not panel.label.disabled


def test_masks_options_follow_the_image_checkpoints(data, drawn) -> None:
    images, maps = data
    panel = CorrelaxPanel(images, maps)
    panel.masks.value = 32
    panel.image.value = SECOND
    assert panel.masks.options == (("32", 32), ("all (48)", 48))
    assert panel.masks.value == 32  # kept: the new image has it
    panel.masks.value = 48
    panel.image.value = FIRST
    panel.masks.value = 16
    panel.image.value = SECOND
    assert (panel.masks.value, panel.masks.label) == (48, "all (48)")  # 16 is not a checkpoint there
    assert len(drawn.heatmaps) == 7


def test_choosing_all_in_the_browser_keeps_it_selected(data, drawn) -> None:
    images, maps = data
    panel = CorrelaxPanel(images, maps)
    panel.masks.index = 0
    panel.masks.index = 2  # what the front end sends
    assert (panel.masks.index, panel.masks.value, panel.masks.label) == (2, 48, "all (48)")


def test_summary_quotes_the_maximum_box_means_and_masks(data, drawn) -> None:
    images, maps = data
    panel = CorrelaxPanel(images, maps)
    panel.kind.value = "correlation"
    heatmap = maps[FIRST].pixel_map("correlation", "b")
    y, x = predicted_location(heatmap)  # where the pointing game says the map points
    inside = np.zeros(heatmap.shape, dtype=bool)
    inside[3:18, 2:20] = True
    assert f"max {heatmap[y, x]:.3f} at (x, y) = ({x}, {y})" in panel.summary.value
    assert f"mean in b boxes {heatmap[inside].mean():.3f} vs {heatmap[~inside].mean():.3f} outside" \
        in panel.summary.value
    assert "masks per window 48.0 (mean)" in panel.summary.value
    panel.masks.value = 16
    assert "masks per window 16.0 (mean)" in panel.summary.value
    panel.label.value = "c"  # an empty box array: nothing to average over
    assert "mean in c boxes – ·" in panel.summary.value
    panel.threshold.value = 1.0  # hides the map, not the summary
    assert "max " in panel.summary.value and "(x, y)" in panel.summary.value


def test_images_without_maps_are_left_out(data, drawn) -> None:
    images, maps = data
    assert [value for _, value in CorrelaxPanel(images, maps).image.options] == [FIRST, SECOND]
    with pytest.raises(ValueError, match="none of the images"):
        CorrelaxPanel(images[2:], maps)
