"""The map side of "the paper as printed and as run": what each of the authors' choices does to the maps.

Three measurements, each cheap (seconds on a CPU for a few small images) and deterministic per seed:

- :func:`peak_drift` / :func:`peak_drift_summary`: where one window's value peaks in the ROI, this project's
  reconstruction against the authors' (their kernel offsets, full convolution and stretch), per grid.
- :func:`correlation_dtype_error`: ρ(S_h, S_ŷ) (Eq. 3) and ρ(S_h, ŷ_M) (Eq. 4) from the authors' float32
  ``torch.corrcoef`` against this project's float64 sums, on the same windows and masks.
- :func:`mask_sharing_effect`: how far the maps of the same images move when every window draws its own
  masks instead of sharing one set, beside how far they move under another seed of the shared set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import nn

from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.config import StudyConfig
from corrrelax_lib.metrics.pointing_game import predicted_location
from corrrelax_lib.pipeline.correlax_images import study_explainer
from corrrelax_lib.pipeline.mask_sensitivity import sample_windows
from corrrelax_lib.windows.grid import window_grid
from corrrelax_lib.windows.kernel import authors_iou_kernel, iou_kernel
from corrrelax_lib.windows.reconstruction import (
    authors_window_map_to_pixels,
    smooth_window_map,
    window_map_to_pixels,
)


@dataclass(frozen=True)
class DriftGrid:
    """A window grid over an ROI whose reconstruction :func:`peak_drift_summary` measures.

    Attributes:
        name: the row's name.
        window_size, stride: the grid, pixels.
        height, width: the ROI, pixels.
    """

    name: str
    window_size: int
    stride: int
    height: int
    width: int


#: The paper's mean ROI, 2497 × 885 px (§3.1), and the same ROI at the phantoms' 64 / 256 scale.
_PAPER_ROI, _PHANTOM_ROI = (2497, 885), (624, 221)

#: The grids of the chapter: the paper's text (256 / 48) and the authors' run (256 / 32) on the paper's ROI, and
#: the same window / stride ratios at the phantoms' 64-px window (64 / 12, 64 / 8), with ``tiny``'s 64 / 16.
DRIFT_GRIDS: tuple[DriftGrid, ...] = (
    DriftGrid("paper text 256/48", 256, 48, *_PAPER_ROI),
    DriftGrid("authors' run 256/32", 256, 32, *_PAPER_ROI),
    DriftGrid("phantom 64/12", 64, 12, *_PHANTOM_ROI),
    DriftGrid("phantom 64/8", 64, 8, *_PHANTOM_ROI),
    DriftGrid("tiny 64/16", 64, 16, *_PHANTOM_ROI),
)


def peak_drift(window_size: int, stride: int, height: int, width: int) -> pd.DataFrame:
    """How far from its window's centre one window's value peaks, in both reconstructions, along each axis.

    A map holding 1 at one window and 0 elsewhere is reconstructed in ROI pixels by this project's
    ``"centred"`` way (:func:`~corrrelax_lib.windows.reconstruction.smooth_window_map` with
    :func:`~corrrelax_lib.windows.kernel.iou_kernel`, then
    :func:`~corrrelax_lib.windows.reconstruction.window_map_to_pixels`) and the ``"authors"`` way
    (:func:`~corrrelax_lib.windows.reconstruction.authors_window_map_to_pixels`); the peak is where the
    pointing game reads it (:func:`~corrrelax_lib.metrics.pointing_game.predicted_location`). Along y every
    window of a ``height × window_size`` ROI (one column of windows) is lit in turn, along x every window of a
    ``window_size × width`` one: both reconstructions resample the axes separately, so a window's drift
    along an axis depends only on its place along that axis (on the whole ROI it is the same, ±1 px on ties).

    Returns:
        One row per reconstruction and lit window: ``reconstruction``, ``axis`` (``"y"`` / ``"x"``), ``window``
        (row or column index), ``drift`` (peak minus window centre along the axis, pixels, signed; a window
        centre falls between two pixels, so ±0.5 is the least possible).

    Example:
        >>> drift = peak_drift(64, 12, 300, 200)
        >>> drift.groupby("reconstruction")["drift"].apply(lambda d: d.abs().max()).to_dict()
        {'authors': 8.5, 'centred': 0.5}
    """
    kernel = iou_kernel(window_size, stride)
    rows = []
    for axis, grid in (("y", window_grid(height, window_size, window_size, stride)),
                       ("x", window_grid(window_size, width, window_size, stride))):
        reconstructions = {
            "centred": lambda values, grid=grid: window_map_to_pixels(smooth_window_map(values, kernel), grid),
            "authors": lambda values, grid=grid: authors_window_map_to_pixels(values, grid),
        }
        centres = grid.centres()[0 if axis == "y" else 1]
        for name, reconstruct in reconstructions.items():
            for window in range(len(centres)):
                impulse = np.zeros(len(centres))
                impulse[window] = 1.0
                # Both maps are finite everywhere, so the pointing game always finds a location.
                location = predicted_location(reconstruct(impulse.reshape(grid.shape)))
                peak = location[0 if axis == "y" else 1] if location is not None else np.nan
                rows.append({"reconstruction": name, "axis": axis, "window": window,
                             "drift": float(peak - centres[window])})
    return pd.DataFrame(rows)


def peak_drift_summary(grids: Sequence[DriftGrid] = DRIFT_GRIDS) -> pd.DataFrame:
    """:func:`peak_drift` of every grid, summarised: one row per grid and reconstruction.

    Returns:
        Index ``(grid, reconstruction)``; columns ``kernel`` (its side, e.g. ``"6 × 6"``), ``windows`` (lit),
        ``min``, ``mean``, ``max`` of ``|drift|`` and ``mean signed`` (pixels), and ``max / stride``.
    """
    rows = []
    for grid in grids:
        drift = peak_drift(grid.window_size, grid.stride, grid.height, grid.width)
        for name, own in drift.groupby("reconstruction", sort=False):
            kernel = (iou_kernel if name == "centred" else authors_iou_kernel)(grid.window_size, grid.stride)
            size = np.abs(own["drift"])
            rows.append({"grid": grid.name, "reconstruction": name, "kernel": f"{kernel.shape[0]} × {kernel.shape[1]}",
                         "windows": len(own), "min": size.min(), "mean": size.mean(), "max": size.max(),
                         "mean signed": own["drift"].mean(), "max / stride": size.max() / grid.stride})
    return pd.DataFrame(rows).set_index(["grid", "reconstruction"])


#: Row names of the two correlations.
RHO_DIST, RHO_CLASS = "ρ(S_h, S_ŷ)", "ρ(S_h, ŷ_M)"


def correlation_dtype_error(
    model: nn.Module, config: StudyConfig, labels: Sequence[str], images: Sequence[np.ndarray], *,
    n_windows: int | None = None,
) -> pd.DataFrame:
    """``|Δρ|`` between the authors' float32 ``torch.corrcoef`` and this project's float64 sums (Eq. 3–4).

    Both runs use the study's ``correlax`` section (``correlation_dtype`` set to each in turn), so the
    windows, the masks and the model's outputs are the same; only the precision of the similarities and
    of the correlation differs.

    Args:
        model: the classifier, e.g. an untrained ``MultiLabelClassifier("small_cnn", C)``.
        config: the study's settings (``correlax`` section, ``seed``, ``device``).
        labels: the model's ``C`` outputs.
        images: ``(H, W, 3)`` uint8 ROI images (the breast found by ``breast_mask``).
        n_windows: a seeded sample of this many breast windows per image
            (:func:`~corrrelax_lib.pipeline.mask_sensitivity.sample_windows`); ``None``: every window.

    Returns:
        Index :data:`RHO_DIST`, :data:`RHO_CLASS` (every class pooled); columns ``values`` (defined in both),
        ``max``, ``p95`` and ``mean`` of ``|Δρ|``, and ``undefined in one`` (defined in one run only).
    """
    runs = {dtype: _explain(model, config, labels, images, n_windows, correlation_dtype=dtype)
            for dtype in ("float64", "float32")}
    rows = {}
    for name, read in ((RHO_DIST, lambda maps: maps.window_rho_dist), (RHO_CLASS, lambda maps: maps.window_rho_class)):
        exact = np.concatenate([read(maps).ravel() for maps in runs["float64"]])
        single = np.concatenate([read(maps).ravel() for maps in runs["float32"]])
        both = np.isfinite(exact) & np.isfinite(single)
        error = np.abs(single[both] - exact[both])
        statistics = ({"max": error.max(), "p95": np.percentile(error, 95), "mean": error.mean()} if len(error)
                      else {"max": np.nan, "p95": np.nan, "mean": np.nan})
        rows[name] = {"values": int(both.sum()), **statistics,
                      "undefined in one": int((np.isfinite(exact) != np.isfinite(single)).sum())}
    return pd.DataFrame.from_dict(rows, orient="index")


def mask_sharing_effect(
    model: nn.Module, config: StudyConfig, labels: Sequence[str], images: Sequence[np.ndarray],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How far the maps of the same images move with a fresh mask set per window instead of one shared set.

    The study's shared set is the reference; it is compared with fresh masks per window (same seed and count)
    and, as the scale of mask noise alone, with the shared set of the next seed. All three draw the paper's
    independent cells (``mask_design="bernoulli"``; a set drawn afresh per window has no design to share), so
    that only the sharing differs. Each image's ``"distance"`` map
    and ``"correlation"`` map of every label is compared (prediction maps do not depend on the masks).

    Args:
        model, config, labels: as :func:`correlation_dtype_error`; ``config.correlax.n_masks`` sets the count.
        images: ``(H, W, 3)`` uint8 ROI images, explained whole.

    Returns:
        ``(per_map, summary)``. ``per_map``: one row per comparison, image and map: ``comparison``, ``image``,
        ``map``, ``pearson`` (of the smoothed window maps over the windows present in both) and ``peak_moved``
        (pixels, the larger axis distance between the two maps' pointing-game locations). ``summary``: per
        comparison, ``maps``, ``pearson mean``, ``pearson min`` and ``peaks within one stride`` (share).
    """
    config = dataclasses.replace(config, correlax=dataclasses.replace(config.correlax, mask_design="bernoulli"))
    reference = _explain(model, config, labels, images, None)
    others = {"fresh per window": _explain(model, config, labels, images, None, mask_sharing="per_window"),
              "shared, next seed": _explain(model, dataclasses.replace(config, seed=config.seed + 1), labels,
                                            images, None)}
    kinds = [("distance", None), *(("correlation", label) for label in labels)]
    rows = []
    for comparison, runs in others.items():
        for index, (ours, theirs) in enumerate(zip(reference, runs, strict=True)):
            for kind, label in kinds:
                rows.append({"comparison": comparison, "image": index,
                             "map": kind if label is None else f"{kind} {label}",
                             "pearson": _pearson(ours.window_map(kind, label), theirs.window_map(kind, label)),
                             "peak_moved": _peak_moved(ours.pixel_map(kind, label), theirs.pixel_map(kind, label))})
    per_map = pd.DataFrame(rows)
    stride = config.correlax.stride
    summary = per_map.groupby("comparison", sort=False).agg(
        maps=("pearson", "size"), **{"pearson mean": ("pearson", "mean"), "pearson min": ("pearson", "min"),
                                     "peaks within one stride": ("peak_moved", lambda moved: (moved <= stride).mean())})
    return per_map, summary


def _explain(model: nn.Module, config: StudyConfig, labels: Sequence[str], images: Sequence[np.ndarray],
             n_windows: int | None, **options: str) -> list[CorrelaxMaps]:
    """The maps of every image under the study's settings with ``correlax`` ``options`` replaced."""
    config = dataclasses.replace(config, correlax=dataclasses.replace(config.correlax, **options))
    explainer = study_explainer(model, config, labels)
    return [explainer.explain(image, windows=None if n_windows is None else
                              sample_windows(image, explainer, n_windows, config.seed + index))
            for index, image in enumerate(images)]


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two maps over the entries finite in both (NaN below two or without variance)."""
    both = np.isfinite(a) & np.isfinite(b)
    if both.sum() < 2 or np.ptp(a[both]) == 0 or np.ptp(b[both]) == 0:
        return float("nan")
    return float(np.corrcoef(a[both], b[both])[0, 1])


def _peak_moved(a: np.ndarray, b: np.ndarray) -> float:
    """The larger of ``|Δy|``, ``|Δx|`` between two maps' pointing-game locations, pixels (NaN if one has none)."""
    first, second = predicted_location(a), predicted_location(b)
    if first is None or second is None:
        return float("nan")
    return float(max(abs(first[0] - second[0]), abs(first[1] - second[1])))
