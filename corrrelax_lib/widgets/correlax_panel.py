"""Explore computed CorRELAX maps: one image, label, map kind, display threshold and mask count at a time."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np

from corrrelax_lib.attribution.correlax_maps import MAP_KINDS, CorrelaxMaps
from corrrelax_lib.metrics.pointing_game import predicted_location
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage
from corrrelax_lib.viz.correlax_maps import plot_map_over_image
from corrrelax_lib.widgets.layout import row


class CorrelaxPanel:
    """Students' panel: pick an image, a label, a map type, a display threshold and a mask count; the maps
    are redrawn from the computed CorrelaxMaps, never recomputed.

    Pixels below the threshold are hidden (NaN); the threshold runs over [0, 1] for probabilities (prediction)
    and [-1, 1] for correlations. The summary quotes the map before the threshold: its maximum and where
    (``(x, y)`` in ROI pixels), its mean inside vs outside the label's boxes, and the masks used per window.

    Args:
        images: the annotated images; those without an entry in ``maps`` are left out.
        maps: image_id → the :class:`CorrelaxMaps` computed for that image (all with the same labels).

    Example:
        >>> panel = CorrelaxPanel(images, maps)  # doctest: +SKIP
        >>> display(panel.widget)  # doctest: +SKIP
    """

    def __init__(self, images: Sequence[AnnotatedImage], maps: Mapping[str, CorrelaxMaps]) -> None:
        self.images = {image.image_id: image for image in images if image.image_id in maps}
        if not self.images:
            raise ValueError("none of the images has computed maps")
        self.maps = maps
        first = next(iter(self.images.values()))
        labels = maps[first.image_id].labels
        self.image = ipywidgets.Dropdown(description="image", options=[
            (f"{image.image_id[:8]} ({', '.join(_present(image))})", image.image_id) for image in self.images.values()])
        self.label = ipywidgets.Dropdown(description="label", options=labels,
                                         value=next((label for label in _present(first) if label in labels), labels[0]))
        self.kind = ipywidgets.ToggleButtons(description="map", options=MAP_KINDS)
        low, high = _threshold_range(self.kind.value)
        self.threshold = ipywidgets.FloatSlider(description="threshold", value=low, min=low, max=high, step=0.01,
                                                continuous_update=False)
        self.masks = ipywidgets.Dropdown(description="masks")
        self.output = ipywidgets.Output()
        self.summary = ipywidgets.HTML()
        self.widget = ipywidgets.VBox([row([self.image, self.label, self.masks]), self.kind, self.threshold,
                                       self.summary, self.output])
        self._held = False
        self._update_image_options()
        self.image.observe(self._on_image, "value")
        self.kind.observe(self._on_kind, "value")
        for control in (self.label, self.threshold, self.masks):
            control.observe(self.redraw, "value")
        self.redraw()

    def current_map(self) -> np.ndarray:
        """The ``(H, W)`` map shown now, indexed ``[y, x]``, with pixels below the threshold set to NaN."""
        heatmap = self._raw_map()
        return np.where(heatmap < self.threshold.value, np.nan, heatmap)

    def redraw(self, change: object | None = None) -> None:
        """Draw the current map over the image with the label's boxes and its maximum; update the summary."""
        if self._held:
            return
        image = self.images[self.image.value]
        boxes = image.boxes_by_label.get(self.label.value)
        self.summary.value = self._summary(self._raw_map(), boxes)
        what = "distance correlation" if self.kind.value == "distance" else f"{self.label.value}: {self.kind.value}"
        self.output.clear_output(wait=True)
        with self.output:
            fig = plot_map_over_image(image.image, self.current_map(), boxes, kind=self.kind.value,
                                      title=f"{image.image_id[:8]} · {what} · masks {self.masks.label}")
            plt.show()
        plt.close(fig)

    def _raw_map(self) -> np.ndarray:
        """``(H, W)`` pixel map of the selected image, kind, label and mask count, before the threshold."""
        label = None if self.kind.value == "distance" else self.label.value
        return self.maps[self.image.value].pixel_map(self.kind.value, label, n_masks=self._mask_checkpoint())

    def _summary(self, heatmap: np.ndarray, boxes: np.ndarray | None) -> str:
        """HTML line: maximum and its ``(x, y)``, mean inside vs outside the boxes, mean masks per window."""
        peak = "max –"
        location = predicted_location(heatmap)
        if location is not None:
            y, x = location
            peak = f"max {heatmap[y, x]:.3f} at (x, y) = ({x}, {y})"
        inside = "–"
        if boxes is not None and len(boxes):
            in_boxes = _box_mask(boxes, heatmap.shape)
            inside = f"{_mean(heatmap[in_boxes])} vs {_mean(heatmap[~in_boxes])} outside"
        masks_used = self.maps[self.image.value].masks_used
        used = masks_used[masks_used > 0]
        if self._mask_checkpoint() is not None:  # windows that stopped earlier kept their values (adaptive mode)
            used = np.minimum(used, self.masks.value)
        return (f"{peak} · mean in {self.label.value} boxes {inside} · "
                f"masks per window {used.mean() if used.size else 0:.1f} (mean)")

    def _on_image(self, change: object) -> None:
        """New image: its mask counts (keeping the selected one if it has it), then one redraw."""
        self._update_image_options()
        self.redraw()

    def _on_kind(self, change: object) -> None:
        """New kind: the label is off for ``distance``; the threshold range follows, "show all" stays "show all"."""
        low, high = _threshold_range(self.kind.value)
        with self._hold():
            at_minimum = self.threshold.value <= self.threshold.min
            self.threshold.min, self.threshold.max = low, high
            self.threshold.value = low if at_minimum else float(np.clip(self.threshold.value, low, high))
            self.label.disabled = self.kind.value == "distance"
        self.redraw()

    def _update_image_options(self) -> None:
        """Set the mask-count options from the selected image's maps, without redrawing."""
        maps = self.maps[self.image.value]
        full = self._full()
        options = [(str(n), n) for n in sorted(maps.rho_dist_at) if n != full] + [(f"all ({full})", full)]
        values = [value for _, value in options]
        keep = self.masks.value if self.masks.value in values else full
        with self._hold():
            self.masks.options = options
            self.masks.index = values.index(keep)

    def _mask_checkpoint(self) -> int | None:
        """The selected mask count as a checkpoint key, ``None`` for all masks."""
        maps = self.maps[self.image.value]
        return self.masks.value if self.masks.value in maps.rho_dist_at and self.masks.value != self._full() else None

    def _full(self) -> int:
        """The selected image's full mask count."""
        maps = self.maps[self.image.value]
        return int(maps.metadata.get("n_masks", maps.masks_used.max()))

    @contextmanager
    def _hold(self) -> Iterator[None]:
        """Suppress redraws while several controls change together."""
        self._held = True
        try:
            yield
        finally:
            self._held = False


def _present(image: AnnotatedImage) -> list[str]:
    """The labels with at least one box on ``image``."""
    return [label for label, boxes in image.boxes_by_label.items() if len(boxes)]


def _threshold_range(kind: str) -> tuple[float, float]:
    """[0, 1] for probabilities, [-1, 1] for correlations and their products."""
    return (0.0, 1.0) if kind == "prediction" else (-1.0, 1.0)


def _box_mask(boxes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """``(H, W)`` bool: pixels covered by any ``(K, 4)`` xyxy box (edges rounded outwards)."""
    mask = np.zeros(shape, dtype=bool)
    for x0, y0, x1, y1 in np.reshape(boxes, (-1, 4)):
        mask[max(int(np.floor(y0)), 0):int(np.ceil(y1)), max(int(np.floor(x0)), 0):int(np.ceil(x1))] = True
    return mask


def _mean(values: np.ndarray) -> str:
    """Mean of the finite values to 3 decimals, or "–" if there are none."""
    finite = values[np.isfinite(values)]
    return f"{finite.mean():.3f}" if finite.size else "–"
