"""Per-class heatmaps of one ROI image in ROI pixels: the :class:`Explanation` of a method with one map per class
(the baselines, LEM), saved as one npz."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from corrrelax_lib.attribution.explainer import HEATMAP, Explanation
from corrrelax_lib.io.atomic import atomic_path


@dataclass(frozen=True)
class ClassHeatmaps(Explanation):
    """One attribution method's maps of one image (``C`` labels, ROI of ``H × W`` pixels), of kind :data:`HEATMAP`.

    Attributes:
        method: the method's name, e.g. ``"Grad-CAM"``.
        labels: the classifier's labels, in output order.
        heatmaps: ``(C, H, W)`` float64 maps indexed ``[c, y, x]``; NaN where the method has no
            value (outside the breast, or windows skipped as background).
        extra: further ``(H, W)`` maps a method provides, e.g. RELAX's ``"uncertainty"``.
        metadata: parameters and timings (``metadata["seconds"]``) of the run.
    """

    method: str
    labels: tuple[str, ...]
    heatmaps: np.ndarray
    extra: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.heatmaps.ndim != 3 or self.heatmaps.shape[0] != len(self.labels):
            raise ValueError(f"heatmaps must be (C={len(self.labels)}, H, W), got shape {self.heatmaps.shape}")

    def pixel_map(self, kind: str, label: str | None = None) -> np.ndarray:
        """The ``(H, W)`` map of ``label`` in ROI pixels, indexed ``[y, x]``; ``kind`` must be :data:`HEATMAP`."""
        if kind != HEATMAP:
            raise ValueError(f"unknown map kind {kind!r}; {self.method} has only {HEATMAP!r}")
        if label not in self.labels:
            raise ValueError(f"label {label!r} is not one of {self.labels}")
        return self.heatmaps[self.labels.index(label)]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the maps and metadata to one ``.npz``, atomically."""
        header = {"method": self.method, "labels": list(self.labels), "extra": sorted(self.extra),
                  "metadata": self.metadata}
        extra = {f"extra_{name}": values for name, values in self.extra.items()}
        with atomic_path(Path(path)) as tmp, tmp.open("wb") as handle:
            np.savez_compressed(handle, header=np.array(json.dumps(header)), heatmaps=self.heatmaps, **extra)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ClassHeatmaps:
        """Read a file written by :meth:`save`."""
        with np.load(Path(path)) as saved:
            header = json.loads(str(saved["header"]))
            return cls(method=header["method"], labels=tuple(header["labels"]), heatmaps=saved["heatmaps"],
                       extra={name: saved[f"extra_{name}"] for name in header["extra"]},
                       metadata=header["metadata"])
