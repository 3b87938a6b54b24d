"""The method grid: one panel per (image, method), the dot at each map's maximum, probability scales fixed."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pytest

from corrrelax_lib.attribution.explainer import HEATMAP
from corrrelax_lib.attribution.heatmaps import ClassHeatmaps
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.pipeline.method_comparison import MethodMaps
from corrrelax_lib.viz.method_comparison import plot_method_grid


@pytest.fixture(autouse=True)
def _agg() -> Iterator[None]:
    plt.switch_backend("Agg")
    yield
    plt.close("all")


def _peak_at(y: int, x: int, value: float) -> dict[str, ClassHeatmaps]:
    """Every image's Mass map: zero but ``value`` at ``(y, x)``."""
    heatmap = np.zeros((1, 30, 40))
    heatmap[0, y, x] = value
    return {f"image{i}": ClassHeatmaps("m", ("Mass",), heatmap, metadata={"seconds": 1.0}) for i in range(2)}


def test_grid_draws_every_method_with_its_maximum_and_scale():
    images = [AnnotatedImage("s", f"image{i}", np.zeros((30, 40, 3), np.uint8), {"Mass": np.array([[1, 1, 5, 5]])})
              for i in range(2)]
    probability = MethodMaps("RISE", _peak_at(3, 4, 0.7), HEATMAP, True)
    signed = MethodMaps("Grad-CAM", _peak_at(20, 30, 12.0), HEATMAP, False)
    fig = plot_method_grid(images, ["Mass", "Mass"], [probability, signed], title="t")
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 4
    assert [ax.get_title() for ax in panels[:2]] == ["RISE", "Grad-CAM"]
    dots = [tuple(ax.lines[0].get_xydata()[0]) for ax in panels[:2]]
    assert dots == [(4.0, 3.0), (30.0, 20.0)]
    assert panels[0].images[1].get_clim() == (0.0, 1.0)
    assert panels[1].images[1].get_clim() == (-12.0, 12.0)
    with pytest.raises(ValueError, match="one label per row"):
        plot_method_grid(images, ["Mass"], [probability], title="t")
