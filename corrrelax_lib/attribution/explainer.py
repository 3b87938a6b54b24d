"""The one shape of every attribution method: ``Method(model, labels, ...).explain(image) -> Explanation``.

Every method (CorRELAX, the six baselines, LEM's maps, the neuron maps) is one module with one
:class:`Explainer` subclass. They share:

- one preparation step, :func:`prepare_roi`: the ROI image as float pixels in [0, 1]
  (:func:`~corrrelax_lib.preprocess.roi_input.roi_pixels`), its breast mask, and an
  :class:`~corrrelax_lib.preprocess.roi.EmptyBreastError` for a ROI without breast; from it
  :meth:`PreparedRoi.windows` (the window grid of §3.5, the windows kept for their breast share, the
  zero-padded image they tile) and :meth:`PreparedRoi.resized` (the one whole-ROI resize rule,
  :func:`~corrrelax_lib.preprocess.roi_input.resize_roi`);
- one result type, :class:`Explanation`: per-class maps in ROI pixels, of one or more kinds
  (:meth:`Explanation.pixel_map`), label-free extras such as RELAX's uncertainty
  (:attr:`Explanation.extra`), the run's parameters and seconds, and one ``.npz`` per image
  (:meth:`Explanation.save` / :meth:`Explanation.load`, the artifacts of
  :func:`corrrelax_lib.pipeline.explained_images.explain_images`).

Adding a method is adding a module with a subclass of :class:`Explainer` (or of
:class:`~corrrelax_lib.attribution.roi_explainer.RoiExplainer`, for an input-level attribution) and
one line in :data:`corrrelax_lib.attribution.BASELINES` if the comparison should run it.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import cv2
import numpy as np

from corrrelax_lib.preprocess.roi import EmptyBreastError, breast_mask
from corrrelax_lib.preprocess.roi_input import longer_side_size, resize_roi, roi_pixels
from corrrelax_lib.windows.grid import WindowGrid, foreground_fraction, window_grid

#: The kind of the one per-class map of a method that has one (the baselines, LEM).
HEATMAP = "heatmap"


@dataclass(frozen=True)
class RoiWindows:
    """The windows of a ROI that a window-wise method computes (§3.5: 256 × 256 every 48 px).

    Attributes:
        grid: the window grid over the ROI (:func:`~corrrelax_lib.windows.grid.window_grid`).
        kept: ``(W,)`` int64 flat (row-major) indices of the windows computed: enough breast, and selected.
        padded: ``(3, *grid.padded_shape)`` float32 image, zero-padded so that the windows tile it exactly.
    """

    grid: WindowGrid
    kept: np.ndarray
    padded: np.ndarray

    @property
    def origins(self) -> np.ndarray:
        """``(W, 2)`` int64 ``(y, x)`` top-left corners of the kept windows, in ROI pixels."""
        return self.grid.origins()[self.kept]

    def crops(self, start: int, stop: int) -> np.ndarray:
        """``(B, 3, S, S)`` float32 pixels of kept windows ``start:stop`` (``S`` the window size)."""
        size = self.grid.window_size
        return np.stack([self.padded[:, y:y + size, x:x + size] for y, x in self.origins[start:stop]])

    def on_grid(self, values: np.ndarray) -> np.ndarray:
        """``(W, ...)`` values of the kept windows → ``(..., n_rows, n_cols)``, NaN at the other windows."""
        values = np.asarray(values)
        full = np.full((self.grid.n_rows * self.grid.n_cols, *values.shape[1:]), np.nan)
        full[self.kept] = values
        return np.moveaxis(full.reshape(*self.grid.shape, *values.shape[1:]), (0, 1), (-2, -1))


@dataclass(frozen=True)
class PreparedRoi:
    """One ROI image as every explainer receives it (:func:`prepare_roi`).

    Attributes:
        pixels: ``(H, W, 3)`` float32 in [0, 1].
        foreground: ``(H, W)`` bool breast mask, at least one pixel true.
    """

    pixels: np.ndarray
    foreground: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)``: the ROI's size, pixels, and the shape of every map of it."""
        return self.pixels.shape[0], self.pixels.shape[1]

    def windows(self, window_size: int, stride: int, min_foreground: float,
                selection: np.ndarray | None = None) -> RoiWindows:
        """The window grid of ``window_size`` px every ``stride`` px and the windows worth computing.

        A window is kept when at least ``min_foreground`` of its pixels are breast and, if a
        ``selection`` ``(n_rows, n_cols)`` bool is given, it is selected (e.g. Figure 7's sample).

        Raises:
            EmptyBreastError: no window is kept.
            ValueError: a selection of another shape than the grid's.
        """
        grid = window_grid(*self.shape, window_size, stride)
        kept = foreground_fraction(self.foreground, grid) >= min_foreground
        if selection is not None:
            if np.shape(selection) != grid.shape:
                raise ValueError(f"window selection has shape {np.shape(selection)}, the grid is {grid.shape}")
            kept &= np.asarray(selection, dtype=bool)
        if not kept.any():
            raise EmptyBreastError(f"no window has at least {min_foreground:.0%} breast pixels")
        padded = np.zeros((3, *grid.padded_shape), dtype=np.float32)
        padded[:, : self.shape[0], : self.shape[1]] = self.pixels.transpose(2, 0, 1)
        return RoiWindows(grid, np.flatnonzero(kept.ravel()), padded)

    def resized(self, size: tuple[int, int] | int) -> np.ndarray:
        """``(3, h, w)`` float32: the whole ROI at ``size`` = ``(h, w)``, or with its longer side ``size`` px
        (aspect kept), by the one whole-ROI rule (:func:`~corrrelax_lib.preprocess.roi_input.resize_roi`)."""
        target = longer_side_size(self.shape, size) if isinstance(size, int) else tuple(size)
        return np.ascontiguousarray(resize_roi(self.pixels, target).transpose(2, 0, 1))

    def to_roi(self, plane: np.ndarray) -> np.ndarray:
        """A ``(h, w)`` map of the :meth:`resized` ROI back in ROI pixels: ``(H, W)`` float64, bilinear,
        NaN outside the breast."""
        height, width = self.shape
        resized = cv2.resize(np.asarray(plane, dtype=np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        return np.where(self.foreground, resized, np.nan).astype(np.float64)


def prepare_roi(image: np.ndarray, foreground: np.ndarray | None = None) -> PreparedRoi:
    """The one preparation step of every explainer: float pixels and a non-empty breast mask.

    Args:
        image: ``(H, W, 3)`` ROI image, uint8 (divided by 255) or float in [0, 1].
        foreground: ``(H, W)`` bool breast mask; default :func:`~corrrelax_lib.preprocess.roi.breast_mask`
            of the first channel.

    Raises:
        ValueError: an image that is not ``(H, W, 3)``, or a mask of another size.
        EmptyBreastError: the breast mask is empty.

    >>> roi = prepare_roi(np.zeros((4, 6, 3), np.uint8), np.ones((4, 6), bool))
    >>> roi.shape, roi.pixels.dtype
    ((4, 6), dtype('float32'))
    """
    pixels = roi_pixels(image)
    foreground = breast_mask(pixels[..., 0]) if foreground is None else np.asarray(foreground, dtype=bool)
    if foreground.shape != pixels.shape[:2]:
        raise ValueError(f"breast mask has shape {foreground.shape}, the image is {pixels.shape[:2]}")
    if not foreground.any():
        raise EmptyBreastError("the breast mask is empty")
    return PreparedRoi(pixels, foreground)


class Explanation(ABC):
    """What every explainer returns for one ROI image of ``H × W`` pixels and ``C`` labels.

    Attributes:
        method: the method's display name, e.g. ``"Grad-CAM"``.
        labels: the classifier's labels, in output order.
        metadata: the parameters, device and timings of the run.
        extra: label-free ``(H, W)`` maps besides the per-class ones, e.g. RELAX's ``"uncertainty"``
            (empty for most methods).
        kinds: the kinds of per-class map :meth:`pixel_map` gives, the method's main one first
            (:data:`HEATMAP` for a method with one).
    """

    method: str
    labels: tuple[str, ...]
    metadata: dict[str, Any]
    extra: Mapping[str, np.ndarray]
    kinds: ClassVar[tuple[str, ...]] = (HEATMAP,)

    @abstractmethod
    def pixel_map(self, kind: str, label: str | None = None) -> np.ndarray:
        """The ``(H, W)`` float64 map of ``kind`` for ``label`` in ROI pixels, indexed ``[y, x]``.

        NaN where the method has no value (each method documents where: outside the breast, outside
        the windows it computed); finite elsewhere.
        """

    @property
    def seconds(self) -> float:
        """Seconds the explainer took for this image (as measured when it was computed)."""
        return float(self.metadata["seconds"])

    @abstractmethod
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the result to one ``.npz``, atomically."""

    @classmethod
    @abstractmethod
    def load(cls, path: str | os.PathLike[str]) -> Explanation:
        """Read a file written by :meth:`save`."""


class Explainer(ABC):
    """Every attribution method: ``explain(image, foreground) -> Explanation`` through :func:`prepare_roi`.

    Subclasses set :attr:`method`, :attr:`result_type` and :attr:`parameters`, and implement
    :meth:`explain_roi`; :meth:`explain` is the same for all (CorRELAX's adds a window selection).
    """

    #: Display name, e.g. ``"Grad-CAM"``.
    method: ClassVar[str]
    #: What :meth:`explain` returns (its ``load`` reads a cached result back).
    result_type: ClassVar[type[Explanation]]
    #: The map kinds in probability units, to which the pointing game's 25% / 50% thresholds apply.
    probability_kinds: ClassVar[frozenset[str]] = frozenset()

    @property
    @abstractmethod
    def parameters(self) -> dict[str, Any]:
        """Everything that changes the maps, JSON-serialisable (the cache key): not the device or batch size."""

    @abstractmethod
    def explain_roi(self, roi: PreparedRoi) -> Explanation:
        """The method's result for one prepared ROI (:func:`prepare_roi`)."""

    def explain(self, image: np.ndarray, foreground: np.ndarray | None = None) -> Explanation:
        """The method's maps of one preprocessed ROI image, in ROI pixels.

        Args:
            image: ``(H, W, 3)`` ROI image, uint8 (divided by 255) or float in [0, 1].
            foreground: ``(H, W)`` bool breast mask; default :func:`~corrrelax_lib.preprocess.roi.breast_mask`
                of the first channel.

        Raises:
            EmptyBreastError: the breast mask is empty (or, for a window-wise method, no window holds enough breast).
        """
        return self.explain_roi(prepare_roi(image, foreground))
