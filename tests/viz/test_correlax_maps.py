"""Figures 5, 7 and 8 on random maps whose maxima, scales and panels can be checked directly."""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from corrrelax_lib.viz.correlax_maps import (
    plot_budget_agreement,
    plot_correlax_panel,
    plot_label_maps,
    plot_mask_sensitivity,
    plot_masks_used,
    plot_views_side_by_side,
)

H, W = 40, 30
LABELS = ["No Finding", "Mass", "Suspicious Calcification"]
KINDS = ["prediction", "correlation", "product"]
# image (H, W, 3) uint8, boxes by label, distance map (H, W), label → kind → map (H, W)
Example = tuple[np.ndarray, dict[str, np.ndarray], np.ndarray, dict[str, dict[str, np.ndarray]]]


@pytest.fixture(autouse=True)
def _agg() -> Iterator[None]:
    plt.switch_backend("Agg")
    yield
    plt.close("all")


@pytest.fixture
def example() -> Example:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    boxes = {"Mass": np.array([[2, 3, 10, 12], [15, 20, 25, 30]]), "Suspicious Calcification": np.array([[5, 5, 9, 9]])}
    maps = {label: {"prediction": rng.random((H, W)), "correlation": rng.uniform(-0.4, 0.3, (H, W))}
            for label in LABELS}
    for label_maps in maps.values():
        label_maps["product"] = label_maps["prediction"] * label_maps["correlation"]
        label_maps["correlation"][:3] = np.nan
    return image, boxes, rng.normal(size=(H, W)), maps


def _panels(fig: Figure) -> dict[str, Axes]:
    """Titled axes (colourbars have no title), by title."""
    return {ax.get_title(): ax for ax in fig.axes if ax.get_title()}


def _dots(ax: Axes) -> list[tuple[float, float]]:
    return [(line.get_xdata()[0], line.get_ydata()[0]) for line in ax.get_lines() if line.get_marker() == "o"]


def _argmax_xy(heatmap: np.ndarray) -> tuple[int, int]:
    y, x = np.unravel_index(np.nanargmax(heatmap), heatmap.shape)
    return int(x), int(y)


def test_panel_has_image_distance_and_one_panel_per_label_and_kind(example: Example) -> None:
    image, boxes, distance, maps = example
    fig = plot_correlax_panel(image, boxes, distance, maps, title="R-CC")
    panels = _panels(fig)
    assert len(panels) == 2 + len(LABELS) * len(KINDS)
    # Every panel but the image has a colourbar; 11 panels wrap into 3 rows of 5.
    assert len(fig.axes) == 2 * len(panels) - 1
    assert fig.axes[0].get_subplotspec().get_topmost_subplotspec().get_gridspec().get_geometry() == (3, 5)
    assert fig.get_suptitle() == "R-CC"
    legend = [text.get_text() for text in panels["image and annotated boxes"].get_legend().get_texts()]
    assert legend == ["Mass", "Suspicious Calcification"]
    for label in LABELS:
        for kind in KINDS:
            ax = panels[f"{label}: {kind}"]
            assert _dots(ax) == [_argmax_xy(maps[label][kind])]
            rectangles = [patch for patch in ax.patches if isinstance(patch, Rectangle)]
            assert len(rectangles) == len(boxes.get(label, []))


def test_panel_scales_probability_fixed_and_signed_maps_symmetric(example: Example) -> None:
    image, boxes, distance, maps = example
    panels = _panels(plot_correlax_panel(image, boxes, distance, maps, title="scales"))
    assert panels["Mass: prediction"].images[-1].get_clim() == (0.0, 1.0)
    vmax = np.nanmax(np.abs(maps["Mass"]["correlation"]))
    assert panels["Mass: correlation"].images[-1].get_clim() == pytest.approx((-vmax, vmax))
    overlay = panels["Mass: correlation"].images[-1].get_array()
    assert overlay.mask[:3].all() and not overlay.mask[3:].any()
    vmax = np.abs(distance).max()
    assert panels["distance correlation ρ(S_h, S_ŷ)"].images[-1].get_clim() == pytest.approx((-vmax, vmax))


def test_panel_takes_first_maximum_and_survives_nan_maps(example: Example) -> None:
    image, boxes, _, _ = example
    tie = np.zeros((H, W))
    tie[7, 4] = tie[2, 20] = tie[30, 1] = 1.0
    maps = {"Mass": {"prediction": tie, "correlation": np.full((H, W), np.nan)}}
    fig = plot_correlax_panel(image, boxes, np.full((H, W), np.nan), maps, title="ties",
                              kinds=("prediction", "correlation"))
    panels = _panels(fig)
    assert _dots(panels["Mass: prediction"]) == [(20, 2)]
    assert _dots(panels["Mass: correlation"]) == []
    assert panels["Mass: correlation"].images[-1].get_clim() == (-1.0, 1.0)
    fig.canvas.draw()


def test_panel_wraps_to_the_requested_columns(example: Example) -> None:
    image, boxes, distance, maps = example
    fig = plot_correlax_panel(image, boxes, distance, maps, title="wrap", columns=4)
    assert fig.axes[0].get_subplotspec().get_topmost_subplotspec().get_gridspec().get_geometry() == (3, 4)
    assert len(_panels(fig)) == 11


def test_label_maps_rows_are_kinds_and_columns_are_labels_present(example: Example) -> None:
    image, boxes, _, maps = example
    fig = plot_label_maps(image, boxes, maps, title="Figure 8")
    panels = _panels(fig)
    present = ["Mass", "Suspicious Calcification"]
    assert list(panels) == [f"{label}: {kind}" for kind in ("prediction", "correlation") for label in present]
    assert fig.axes[0].get_subplotspec().get_topmost_subplotspec().get_gridspec().get_geometry() == (2, 2)
    for label in present:
        for kind in ("prediction", "correlation"):
            assert _dots(panels[f"{label}: {kind}"]) == [_argmax_xy(maps[label][kind])]


def test_label_maps_without_boxes_shows_every_label(example: Example) -> None:
    image, _, _, maps = example
    panels = _panels(plot_label_maps(image.astype(float) / 255, {}, maps, title="no findings"))
    assert len(panels) == 2 * len(LABELS)


def _errors(rng: np.random.Generator) -> pd.DataFrame:
    errors = pd.DataFrame({"n_masks": rng.choice([1024, 128, 256], 90), "abs_error": np.abs(rng.normal(0, 0.03, 90))})
    errors.loc[:4, "abs_error"] = 0.0
    errors.loc[5, "abs_error"] = np.nan
    return errors


def test_mask_sensitivity_is_a_log_box_plot_with_tolerance_lines() -> None:
    fig = plot_mask_sensitivity(_errors(np.random.default_rng(0)), reference_masks=2560, title="Figure 7")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert [tick.get_text() for tick in ax.get_xticklabels()] == ["128", "256", "1024"]
    assert ax.get_xlabel() == "masks per window (reference: 2560)"
    assert ax.get_ylabel() == "|ρ_n − ρ_ref|"
    dashed = {line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"}
    assert dashed == {0.025, 0.05}
    assert {"±0.025", "±0.05"} <= {text.get_text() for text in ax.texts}
    medians = [line for line in ax.get_lines() if line.get_color() == "red"]
    assert len(medians) == 3
    # Zeros sit on the 1e-6 floor, NaN is dropped.
    points = np.concatenate([collection.get_offsets()[:, 1] for collection in ax.collections])
    assert len(points) == 89 and points.min() == pytest.approx(1e-6)


def test_mask_sensitivity_groups_boxes_by_method() -> None:
    rng = np.random.default_rng(1)
    errors = _errors(rng).assign(method=lambda frame: rng.choice(["fixed", "adaptive"], len(frame)))
    ax = plot_mask_sensitivity(errors, reference_masks=512, tolerances=(0.025,)).axes[0]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == list(pd.unique(errors["method"]))
    assert len([line for line in ax.get_lines() if line.get_color() == "red"]) == 6
    assert {line.get_ydata()[0] for line in ax.get_lines() if line.get_linestyle() == "--"} == {0.025}


def test_masks_used_marks_mean_and_cap() -> None:
    masks_used = np.array([64, 64, 128, 512, 512])
    ax = plot_masks_used(masks_used, n_max=512, title="adaptive").axes[0]
    assert sorted(line.get_xdata()[0] for line in ax.get_lines()) == [masks_used.mean(), 512]
    assert sum(patch.get_height() for patch in ax.patches) == len(masks_used)


def test_views_side_by_side_one_row_per_view_without_boxes(example: Example) -> None:
    image, _, distance, maps = example
    tall = np.ascontiguousarray(np.swapaxes(image, 0, 1))  # another view of another shape
    tall_maps = {label: {kind: m.T for kind, m in kinds.items()} for label, kinds in maps.items()}
    views = [("L-CC", image, distance, maps), ("L-MLO", tall, distance.T, tall_maps)]
    fig = plot_views_side_by_side(views, title="P_00820 left", kinds=("prediction", "correlation"))
    titled = [ax for ax in fig.axes if ax.get_title()]
    assert len(titled) == 2 * (2 + len(LABELS) * 2)
    assert fig.axes[0].get_subplotspec().get_topmost_subplotspec().get_gridspec().get_geometry() == (2, 8)
    assert [ax.get_title() for ax in titled[:2]] == ["L-CC", "L-CC:\ndistance correlation"]
    assert titled[8].get_title() == "L-MLO"
    mass_mlo = next(ax for ax in titled[8:] if ax.get_title() == "Mass:\ncorrelation")
    assert _dots(mass_mlo) == [_argmax_xy(tall_maps["Mass"]["correlation"])]
    assert not any(isinstance(patch, Rectangle) for ax in titled for patch in ax.patches)
    assert fig.get_suptitle() == "P_00820 left"


def test_views_side_by_side_wraps_each_view_after_the_columns(example: Example) -> None:
    image, _, distance, maps = example
    fig = plot_views_side_by_side([("CC", image, distance, maps), ("MLO", image, distance, maps)], title="t",
                                  columns=4)
    # 2 + 3 labels × 2 kinds = 8 panels per view: 2 rows of 4 each, the MLO view starting on row 3.
    assert fig.axes[0].get_subplotspec().get_topmost_subplotspec().get_gridspec().get_geometry() == (4, 4)
    mlo = next(ax for ax in fig.axes if ax.get_title() == "MLO")
    assert mlo.get_subplotspec().rowspan.start == 2 and mlo.get_subplotspec().colspan.start == 0


def test_budget_agreement_draws_a_line_per_fixed_method_a_point_per_other_and_rings_the_default():
    table = pd.DataFrame({
        "method": ["bernoulli", "bernoulli", "outcome, first 16"], "family": ["fixed", "fixed", "outcome"],
        "passes_fraction": [0.05, 0.1, 0.08], "max_agreement": [0.8, 0.9, 0.99], "pair_agreement": [0.9, 0.95, 1.0],
        "map_pearson": [0.9, 0.95, 0.99], "default": [False, False, True]})
    fig = plot_budget_agreement(table, title="synthetic")
    assert len(fig.axes) == 3
    lines = fig.axes[0].get_lines()  # bernoulli's counts, outcome, the default's ring, the 10 % line
    assert [len(line.get_xdata()) for line in lines[:3]] == [2, 1, 1]
    np.testing.assert_allclose(lines[2].get_ydata(), [0.99])
    np.testing.assert_allclose(lines[3].get_xdata(), [0.1, 0.1])
    plt.close(fig)
