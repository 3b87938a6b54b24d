"""The maps CorRELAX produces for one image, on the window grid and in ROI pixels; saved as one npz.

:class:`CorrelaxMaps` is the :class:`~corrrelax_lib.attribution.explainer.Explanation` of CorRELAX, extended
with the per-window values the maps are smoothed from.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from corrrelax_lib.attribution.explainer import Explanation
from corrrelax_lib.io.atomic import atomic_path
from corrrelax_lib.windows.grid import WindowGrid
from corrrelax_lib.windows.reconstruction import (
    Reconstruction,
    authors_window_map_to_pixels,
    smooth_window_map,
    window_map_to_pixels,
)

MAP_KINDS = ("prediction", "correlation", "product", "distance")


@dataclass(frozen=True)
class CorrelaxMaps(Explanation):
    """Per-window values and IoU-smoothed maps of one image (``C`` labels, grid ``R × K``).

    Missing windows (skipped background) are NaN in every window array; :meth:`pixel_map` is NaN where
    missing windows outweigh computed ones (the centred reconstruction) and finite elsewhere. Its
    :attr:`kinds` are :data:`MAP_KINDS` (``"distance"`` takes no label).

    Attributes:
        labels: the classifier's labels, in output order.
        grid: the window grid over the ROI.
        kernel: the IoU kernel of :meth:`window_map`'s smoothing (Eq. 5–10).
        window_predictions: ``(C, R, K)`` sigmoid output ``ŷ`` of each unmasked window.
        window_rho_class: ``(C, R, K)`` ρ(S_h, ŷ_M[c]) per window (Eq. 4).
        window_rho_dist: ``(R, K)`` ρ(S_h, S_ŷ) per window (Eq. 3).
        masks_used: ``(R, K)`` masked passes per window (0 where skipped).
        rho_dist_at, rho_class_at: the window correlations after the first ``n`` masks, per checkpoint.
        metadata: parameters, timings and throughput of the run.
        reconstruction: how :meth:`pixel_map` makes ROI-pixel maps, ``"centred"`` (this project) or
            ``"authors"`` (the authors' code); ``dataclasses.replace`` gives the same windows the other way.
    """

    labels: tuple[str, ...]
    grid: WindowGrid
    kernel: np.ndarray
    window_predictions: np.ndarray
    window_rho_class: np.ndarray
    window_rho_dist: np.ndarray
    masks_used: np.ndarray
    rho_dist_at: dict[int, np.ndarray] = field(default_factory=dict)
    rho_class_at: dict[int, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    reconstruction: Reconstruction = "centred"

    method: ClassVar[str] = "CorRELAX"
    kinds: ClassVar[tuple[str, ...]] = MAP_KINDS

    @property
    def extra(self) -> dict[str, np.ndarray]:
        """No label-free extras in ROI pixels (the distance map is the ``"distance"`` kind)."""
        return {}

    @property
    def seconds(self) -> float:
        """Seconds of the whole explanation (``metadata["seconds"]["explain"]``; the parts are beside it)."""
        return float(self.metadata["seconds"]["explain"])

    def window_map(self, kind: str, label: str | None = None, *, n_masks: int | None = None) -> np.ndarray:
        """The smoothed ``(R, K)`` map: ``"prediction"``, ``"correlation"``, ``"product"`` or ``"distance"``.

        ``prediction`` smooths ŷ_c, ``correlation`` smooths ρ(S_h, ŷ_M[c]), ``product`` is their
        product (§4.1: "combining the predicted values and the correlation map"), ``distance``
        smooths ρ(S_h, S_ŷ) and takes no label. ``n_masks`` reads the correlations at a checkpoint.
        This is the centred smoothing whatever :attr:`reconstruction` says: the authors' full convolution
        makes no map on the window grid.
        """
        return self._combine(kind, label, n_masks, lambda values: smooth_window_map(values, self.kernel))

    def pixel_map(self, kind: str, label: str | None = None, *, n_masks: int | None = None) -> np.ndarray:
        """The map of :meth:`window_map`'s ``kind`` in ROI pixels: ``(height, width)``, indexed ``[y, x]``.

        ``"centred"``: :meth:`window_map` interpolated between window centres
        (:func:`~corrrelax_lib.windows.reconstruction.window_map_to_pixels`). ``"authors"``: each window
        value map reconstructed by :func:`~corrrelax_lib.windows.reconstruction.authors_window_map_to_pixels`
        (``product`` then multiplies the two pixel maps).
        """
        if self.reconstruction == "centred":
            return window_map_to_pixels(self.window_map(kind, label, n_masks=n_masks), self.grid)
        return self._combine(kind, label, n_masks, lambda values: authors_window_map_to_pixels(values, self.grid))

    def _combine(self, kind: str, label: str | None, n_masks: int | None,
                 reconstruct: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``kind``'s map: the window values it reads, each passed through ``reconstruct``, combined."""
        if kind not in MAP_KINDS:
            raise ValueError(f"unknown map kind {kind!r}; choose from {MAP_KINDS}")
        rho_dist = self.window_rho_dist if n_masks is None else self.rho_dist_at[n_masks]
        if kind == "distance":
            return reconstruct(rho_dist)
        if label not in self.labels:
            raise ValueError(f"label {label!r} is not one of {self.labels}")
        c = self.labels.index(label)
        rho_class = self.window_rho_class if n_masks is None else self.rho_class_at[n_masks]
        if kind == "prediction":
            return reconstruct(self.window_predictions[c])
        if kind == "correlation":
            return reconstruct(rho_class[c])
        return reconstruct(self.window_predictions[c]) * reconstruct(rho_class[c])

    def pixel_maps(self, labels: Sequence[str], kinds: Sequence[str]) -> dict[str, dict[str, np.ndarray]]:
        """``{label: {kind: (height, width) map}}`` of :meth:`pixel_map`, the input of the Figure 5/6 panels."""
        return {label: {kind: self.pixel_map(kind, label) for kind in kinds} for label in labels}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write all arrays and the metadata to one ``.npz``, atomically."""
        checkpoints = sorted(self.rho_dist_at)
        header = {"labels": list(self.labels), "grid": self.grid.__dict__, "checkpoints": checkpoints,
                  "metadata": self.metadata, "reconstruction": self.reconstruction}
        arrays = {"kernel": self.kernel, "window_predictions": self.window_predictions,
                  "window_rho_class": self.window_rho_class, "window_rho_dist": self.window_rho_dist,
                  "masks_used": self.masks_used}
        for n in checkpoints:
            arrays[f"rho_dist_at_{n}"], arrays[f"rho_class_at_{n}"] = self.rho_dist_at[n], self.rho_class_at[n]
        with atomic_path(Path(path)) as tmp, tmp.open("wb") as handle:
            np.savez_compressed(handle, header=np.array(json.dumps(header)), **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> CorrelaxMaps:
        """Read a file written by :meth:`save`."""
        with np.load(Path(path)) as saved:
            header = json.loads(str(saved["header"]))
            checkpoints: Sequence[int] = header["checkpoints"]
            return cls(
                labels=tuple(header["labels"]), grid=WindowGrid(**header["grid"]), kernel=saved["kernel"],
                window_predictions=saved["window_predictions"], window_rho_class=saved["window_rho_class"],
                window_rho_dist=saved["window_rho_dist"], masks_used=saved["masks_used"],
                rho_dist_at={n: saved[f"rho_dist_at_{n}"] for n in checkpoints},
                rho_class_at={n: saved[f"rho_class_at_{n}"] for n in checkpoints},
                metadata=header["metadata"], reconstruction=header.get("reconstruction", "centred"),
            )
