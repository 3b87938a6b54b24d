"""Figures 5–8: CorRELAX maps over a mammogram, and the sensitivity to the number of masks (§4.1–4.4)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FixedLocator, NullFormatter, PercentFormatter

from corrrelax_lib.metrics.pointing_game import predicted_location

# Map kinds that are probabilities, drawn on a fixed [0, 1] sequential scale; every other kind is signed.
_PROBABILITY_KINDS = frozenset({"prediction"})
# Absolute errors are clipped here so that exact zeros stay on the log axis of Figure 7.
_ERROR_FLOOR = 1e-6


def plot_correlax_panel(
    image: np.ndarray,
    boxes_by_label: Mapping[str, np.ndarray],
    distance_map: np.ndarray,
    label_maps: Mapping[str, Mapping[str, np.ndarray]],
    *,
    title: str,
    kinds: Sequence[str] = ("prediction", "correlation", "product"),
    columns: int = 5,
) -> Figure:
    """Figure 5: the image with its boxes, the distance-correlation map, then each label's maps.

    Panels run left to right and wrap after ``columns``: image, ``distance_map`` (Eq. 3), then for each label
    of ``label_maps`` (in its order) one panel per kind, titled e.g. ``"Mass: prediction"``. Probability maps
    are on a fixed [0, 1] scale, the others on a symmetric scale around 0; NaN pixels are left transparent.
    Each label panel shows that label's boxes and a dot where it points (the pointing game's location).

    Args:
        image: ``(H, W, 3)`` ROI, uint8 or float in [0, 1].
        boxes_by_label: label → ``(K, 4)`` boxes ``(x0, y0, x1, y1)`` in ROI pixels (``K`` may be 0).
        distance_map: ``(H, W)`` ρ(S_h, S_ŷ) per pixel.
        label_maps: label → kind → ``(H, W)`` map; every label needs every kind of ``kinds``.
        title: figure title.
        kinds: the map kinds to show per label.
        columns: panels per row.
    """
    panels = [(label, kind) for label in label_maps for kind in kinds]
    colours = _label_colours([*boxes_by_label, *label_maps])
    grey = _greyscale(image)
    n_cols = min(columns, len(panels) + 2)
    n_rows = math.ceil((len(panels) + 2) / n_cols)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=_figsize(image, n_rows, n_cols), squeeze=False)
    axes = axes.ravel()
    _draw_image(axes[0], image, boxes_by_label, colours)
    _draw_map(axes[1], grey, distance_map, "correlation")
    axes[1].set_title("distance correlation ρ(S_h, S_ŷ)", fontsize=8)
    for ax, (label, kind) in zip(axes[2:], panels, strict=False):
        _draw_label_map(ax, grey, label_maps[label][kind], kind, boxes_by_label.get(label), colours[label])
        ax.set_title(f"{label}: {kind}", fontsize=8)
    for ax in axes[len(panels) + 2:]:
        ax.remove()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_views_side_by_side(
    views: Sequence[tuple[str, np.ndarray, np.ndarray, Mapping[str, Mapping[str, np.ndarray]]]],
    *,
    title: str,
    kinds: Sequence[str] = ("prediction", "correlation"),
    columns: int = 8,
) -> Figure:
    """Figure 6: views of one breast (e.g. CC and MLO) one below the other, without annotations.

    Each view shows its image, its distance-correlation map (Eq. 3), then for each label one panel per kind
    (scales as :func:`plot_correlax_panel`, a dot at each map's maximum); a view's panels wrap after
    ``columns``, so a view takes ``ceil((2 + labels × kinds) / columns)`` rows.

    Args:
        views: ``(name, image, distance_map, label_maps)`` per view: ``image`` ``(H, W, 3)`` ROI, uint8 or
            float in [0, 1]; ``distance_map`` ``(H, W)``; ``label_maps`` label → kind → ``(H, W)`` map
            (every view with the same labels).
        title: figure title.
        kinds: the map kinds per label.
        columns: panels per row.
    """
    labels = list(views[0][3])
    colours = _label_colours(labels)
    panels = [(label, kind) for label in labels for kind in kinds]
    n_cols = min(columns, len(panels) + 2)
    rows_per_view = math.ceil((len(panels) + 2) / n_cols)
    width, height = _figsize(views[0][1], rows_per_view * len(views), n_cols)
    fig, axes = plt.subplots(rows_per_view * len(views), n_cols, figsize=(0.6 * width, 0.6 * height),
                             squeeze=False, layout="constrained")
    for index, (name, image, distance_map, label_maps) in enumerate(views):
        view_axes = axes[index * rows_per_view:(index + 1) * rows_per_view].ravel()
        grey = _greyscale(image)
        view_axes[0].imshow(np.clip(_as_float(image), 0, 1))
        view_axes[0].set_title(name, fontsize=8)
        view_axes[0].axis("off")
        _draw_map(view_axes[1], grey, distance_map, "correlation")
        view_axes[1].set_title(f"{name}:\ndistance correlation", fontsize=7)
        for ax, (label, kind) in zip(view_axes[2:], panels, strict=False):
            _draw_label_map(ax, grey, label_maps[label][kind], kind, None, colours[label])
            ax.set_title(f"{label}:\n{kind}", fontsize=7)
        for ax in view_axes[len(panels) + 2:]:
            ax.remove()
    fig.suptitle(title, fontsize=10)
    return fig


def plot_label_maps(
    image: np.ndarray,
    boxes_by_label: Mapping[str, np.ndarray],
    label_maps: Mapping[str, Mapping[str, np.ndarray]],
    *,
    title: str,
    kinds: Sequence[str] = ("prediction", "correlation"),
) -> Figure:
    """Figure 8: one row per kind (prediction maps above, correlation maps below), one column per label present.

    The columns are the labels of ``label_maps`` that have at least one box (all of them if none has). Each
    panel is the map over the image with that label's boxes and a dot where it points (the pointing game's location).

    Args:
        image: ``(H, W, 3)`` ROI, uint8 or float in [0, 1].
        boxes_by_label: label → ``(K, 4)`` boxes ``(x0, y0, x1, y1)`` in ROI pixels.
        label_maps: label → kind → ``(H, W)`` map.
        title: figure title.
        kinds: the rows.
    """
    present = [label for label in label_maps if len(boxes_by_label.get(label, ())) > 0] or list(label_maps)
    colours = _label_colours([*boxes_by_label, *label_maps])
    grey = _greyscale(image)
    fig, axes = plt.subplots(len(kinds), len(present), figsize=_figsize(image, len(kinds), len(present)),
                             squeeze=False)
    for row, kind in zip(axes, kinds, strict=True):
        for ax, label in zip(row, present, strict=True):
            _draw_label_map(ax, grey, label_maps[label][kind], kind, boxes_by_label.get(label), colours[label])
            ax.set_title(f"{label}: {kind}", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_map_over_image(
    image: np.ndarray, heatmap: np.ndarray, boxes: np.ndarray | None, *, title: str, kind: str, colour: str = "C2"
) -> Figure:
    """One map over the greyscale image with one label's boxes and a dot where it points (the pointing game's location).

    The single-panel view of the interactive explorer (:class:`corrrelax_lib.widgets.CorrelaxPanel`); scales
    as in :func:`plot_correlax_panel`, NaN pixels transparent.

    Args:
        image: ``(H, W, 3)`` ROI, uint8 or float in [0, 1].
        heatmap: ``(H, W)`` map, indexed ``[y, x]``.
        boxes: ``(K, 4)`` boxes ``(x0, y0, x1, y1)`` in ROI pixels, or ``None``.
        title: axes title.
        kind: the map kind (``"prediction"`` is drawn on [0, 1], the others symmetric around 0).
        colour: colour of the boxes and the dot.
    """
    width, height = _figsize(image, 1, 1)
    fig, ax = plt.subplots(figsize=(1.6 * width, 1.6 * height))
    _draw_label_map(ax, _greyscale(image), heatmap, kind, boxes, colour)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_mask_sensitivity(
    errors: pd.DataFrame,
    *,
    reference_masks: int,
    tolerances: Sequence[float] = (0.025, 0.05),
    title: str | None = None,
) -> Figure:
    """Figure 7: box plot of ``|ρ_n − ρ_ref|`` per number of masks, on a log axis, with tolerance lines.

    NaN errors are dropped and the rest clipped at 1e-6 so that exact zeros stay on the log axis. Boxes have
    red medians and the points are overlaid with a little horizontal jitter (fixed seed). With a ``method``
    column (e.g. ``"fixed"``, ``"adaptive"``) the boxes are grouped, one colour per method.

    Args:
        errors: long format, columns ``n_masks`` (int), ``abs_error`` (float ≥ 0) and optionally ``method``.
        reference_masks: the number of masks of the reference ρ (the paper: 2560).
        tolerances: heights of the dashed lines (the paper: ±0.025 and ±0.05).
        title: axes title.
    """
    data = errors.dropna(subset=["abs_error"])
    methods = list(pd.unique(data["method"])) if "method" in data else [None]
    n_values = np.sort(data["n_masks"].unique())
    width = 0.8 / len(methods)
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(n_values) * len(methods) + 2), 4.0))
    for j, method in enumerate(methods):
        subset = data if method is None else data[data["method"] == method]
        samples = [np.clip(subset.loc[subset["n_masks"] == n, "abs_error"].to_numpy(float), _ERROR_FLOOR, None)
                   for n in n_values]
        positions = np.arange(len(n_values)) + (j - (len(methods) - 1) / 2) * width
        ax.boxplot(samples, positions=positions, widths=0.8 * width, showfliers=False, patch_artist=True,
                   manage_ticks=False, medianprops={"color": "red"},
                   boxprops={"facecolor": f"C{j}", "alpha": 0.35})
        for position, values in zip(positions, samples, strict=True):
            jitter = rng.uniform(-0.25, 0.25, len(values)) * width
            ax.scatter(position + jitter, values, s=3, alpha=0.3, color=f"C{j}", linewidths=0)
    for tolerance in tolerances:
        ax.axhline(tolerance, color="0.3", linestyle="--", linewidth=1, label=f"±{tolerance:g}")
        ax.text(1.01, tolerance, f"±{tolerance:g}", transform=ax.get_yaxis_transform(), fontsize=7, va="center")
    if methods != [None]:
        ax.legend(handles=[Patch(facecolor=f"C{j}", alpha=0.35, label=str(m)) for j, m in enumerate(methods)],
                  fontsize=7, frameon=False)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(n_values)), [str(n) for n in n_values])
    ax.set(xlabel=f"masks per window (reference: {reference_masks})", ylabel="|ρ_n − ρ_ref|")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_masks_used(masks_used: np.ndarray, *, n_max: int, title: str | None = None) -> Figure:
    """Histogram of the masks the adaptive mode used per window, with lines at the mean and at ``n_max``.

    Args:
        masks_used: ``(N,)`` masks used by each of ``N`` windows.
        n_max: the adaptive mode's cap on masks per window.
        title: axes title.
    """
    masks_used = np.asarray(masks_used)
    fig, ax = plt.subplots(figsize=(5.0, 3.4))
    ax.hist(masks_used, bins="auto", color="C0", alpha=0.7)
    ax.axvline(masks_used.mean(), color="C3", linewidth=1.5, label=f"mean {masks_used.mean():.0f}")
    ax.axvline(n_max, color="0.3", linestyle="--", linewidth=1, label=f"n_max = {n_max}")
    ax.set(xlabel="masks used per window", ylabel="windows")
    ax.legend(fontsize=7, frameon=False)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


#: Where the mask-budget panels mark the share of the reference's passes.
_BUDGET_TICKS: tuple[float, ...] = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def plot_budget_agreement(table: pd.DataFrame, *, title: str | None = None) -> Figure:
    """The outcome view beside Figure 7: agreement with the reference against the masked passes spent.

    Args:
        table: :func:`~corrrelax_lib.pipeline.mask_budget.mask_budget_table` (columns ``method``, ``family``,
            ``passes_fraction``, ``max_agreement``, ``pair_agreement``, ``map_pearson``, ``default``).
        title: figure title.

    Returns:
        One panel per agreement (maxima, Table 4 hits, smoothed-map Pearson), x the share of the reference's
        masked passes (log scale); fixed-count methods are lines over their counts, the others points; the
        profile's default is ringed; dotted: 10 % of the passes, dashed: 0.98 agreement (issue #16's target).
    """
    columns = {"max_agreement": "maxima within one stride", "pair_agreement": "Table 4 outcome of every pair",
               "map_pearson": "Pearson of smoothed maps"}
    fig, axes = plt.subplots(1, len(columns), figsize=(12.0, 3.6), sharex=True)
    for ax, (column, name) in zip(axes, columns.items(), strict=True):
        for index, (method, rows) in enumerate(table.groupby("method", sort=False)):
            rows = rows.sort_values("passes_fraction")
            style = "-o" if len(rows) > 1 else "s"
            ax.plot(rows["passes_fraction"], rows[column], style, color=f"C{index}", markersize=4, label=method)
        default = table.loc[table["default"]]
        ax.plot(default["passes_fraction"], default[column], "o", markersize=12, markerfacecolor="none",
                markeredgecolor="k", label="default")
        ax.axvline(0.1, color="0.5", linestyle=":", linewidth=1)
        ax.axhline(0.98, color="0.5", linestyle="--", linewidth=0.8)
        ax.set(xscale="log", xlabel="masked passes, share of the reference's", title=name)
        ax.xaxis.set_major_locator(FixedLocator(_BUDGET_TICKS))
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel("agreement with the reference")
    axes[-1].legend(fontsize=6, frameon=False, loc="lower right")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _draw_map(ax: Axes, grey: np.ndarray, heatmap: np.ndarray, kind: str) -> None:
    """``(H, W)`` ``heatmap`` at alpha over the ``(H, W)`` greyscale image, with a colourbar; NaN transparent."""
    ax.imshow(grey, cmap="gray", vmin=0, vmax=1)
    if kind in _PROBABILITY_KINDS:
        cmap, vmin, vmax = "magma", 0.0, 1.0
    else:
        finite = np.abs(heatmap[np.isfinite(heatmap)])
        vmax = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        cmap, vmin = "RdBu_r", -vmax
    drawn = ax.imshow(np.ma.masked_invalid(heatmap), cmap=cmap, vmin=vmin, vmax=vmax, alpha=0.6)
    colourbar = ax.figure.colorbar(drawn, ax=ax, fraction=0.046, pad=0.02)
    colourbar.ax.tick_params(labelsize=6)
    ax.axis("off")


def _draw_label_map(
    ax: Axes, grey: np.ndarray, heatmap: np.ndarray, kind: str, boxes: np.ndarray | None, colour: str
) -> None:
    """:func:`_draw_map`, then the label's ``(K, 4)`` boxes and a dot where the map points (the pointing game's
    :func:`~corrrelax_lib.metrics.pointing_game.predicted_location`)."""
    _draw_map(ax, grey, heatmap, kind)
    _draw_boxes(ax, boxes, colour)
    location = predicted_location(heatmap)
    if location is not None:
        y, x = location
        ax.plot(x, y, marker="o", markersize=6, markerfacecolor=colour, markeredgecolor="white", linestyle="")


def _draw_image(ax: Axes, image: np.ndarray, boxes_by_label: Mapping[str, np.ndarray], colours: dict[str, str]) -> None:
    """The ROI in colour with every label's boxes and a legend of the labels that have any."""
    ax.imshow(np.clip(_as_float(image), 0, 1))
    for label, boxes in boxes_by_label.items():
        _draw_boxes(ax, boxes, colours[label], label=label)
    if ax.patches:
        ax.legend(fontsize=6, loc="upper right", framealpha=0.7)
    ax.set_title("image and annotated boxes", fontsize=8)
    ax.axis("off")


def _draw_boxes(ax: Axes, boxes: np.ndarray | None, colour: str, label: str | None = None) -> None:
    """Outline ``(K, 4)`` xyxy boxes; only the first carries ``label`` so the legend lists it once."""
    if boxes is None:
        return
    for k, (x0, y0, x1, y1) in enumerate(np.reshape(boxes, (-1, 4))):
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.2,
                               label=label if k == 0 else None))


def _label_colours(labels: Sequence[str]) -> dict[str, str]:
    """One colour of the default cycle per distinct label, in first-seen order."""
    return {label: f"C{i}" for i, label in enumerate(dict.fromkeys(labels))}


def _as_float(image: np.ndarray) -> np.ndarray:
    """uint8 (or any integer) images scaled to [0, 1]; float images unchanged."""
    return image / 255.0 if np.issubdtype(image.dtype, np.integer) else image


def _greyscale(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` mean over the channels of an ``(H, W, 3)`` image, in [0, 1]."""
    image = _as_float(image)
    return np.clip(image.mean(axis=-1) if image.ndim == 3 else image, 0, 1)


def _figsize(image: np.ndarray, n_rows: int, n_cols: int) -> tuple[float, float]:
    """Panels ~2.8 in wide, as tall as the image's aspect allows (clamped to 0.5–2 × the width)."""
    aspect = min(max(image.shape[0] / image.shape[1], 0.5), 2.0)
    return 2.8 * n_cols, (2.8 * aspect * 0.85 + 0.5) * n_rows
