"""Apply an input-level attribution method to a whole ROI: downsampled as one image, or window by window.

Attribution studies on mammograms usually explain the whole image downsampled (e.g. 512×512);
CorRELAX explains 256×256 windows at full resolution. :class:`RoiExplainer` gives every method
both, on the same inputs as CorRELAX, so that the pointing game compares methods and not set-ups:

- ``mode="whole"``: the ROI resized so that its longer side is ``image_size`` (aspect kept), one
  attribution, bilinearly resized back to ROI pixels.
- ``mode="windows"``: CorRELAX's window grid (``window_size``, ``stride``, background windows
  skipped); each window's attribution is averaged over its pixels into one value per class, and
  the window values are smoothed with the IoU kernel and upsampled exactly like CorRELAX maps
  (:func:`~corrrelax_lib.windows.reconstruction.smooth_window_map`, Eq. 5–10).

Both modes take the ROI from :func:`~corrrelax_lib.attribution.explainer.prepare_roi` and leave the map NaN
outside the breast (whole) or outside the kept windows (windows). Subclasses implement
:meth:`RoiExplainer.attribute` (or, with label-free extras such as RELAX's uncertainty,
:meth:`RoiExplainer.attribute_with_extra`), one method per module.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from corrrelax_lib.attribution.explainer import Explainer, PreparedRoi
from corrrelax_lib.attribution.heatmaps import ClassHeatmaps
from corrrelax_lib.models.device import resolve_device
from corrrelax_lib.windows.kernel import iou_kernel
from corrrelax_lib.windows.reconstruction import smooth_window_map, window_map_to_pixels

MODES = ("whole", "windows")


class RoiExplainer(Explainer):
    """Base class of the baseline methods: ``Method(model, labels, ...).explain(image) -> ClassHeatmaps``.

    Args:
        model: a classifier with ``features_and_logits(x) -> (h (N, D), logits (N, C))`` taking
            ``(N, 3, H, W)`` images in [0, 1] (``forward`` gives the logits).
        labels: the ``C`` output labels, in order.
        mode: ``"whole"`` (downsampled ROI) or ``"windows"`` (CorRELAX's window grid).
        image_size: longer side of the downsampled ROI in ``"whole"`` mode, pixels.
        window_size, stride, min_foreground: the window grid of ``"windows"`` mode, as in CorRELAX.
        batch_size: windows per call of :meth:`attribute` in ``"windows"`` mode.
        seed: seeds random masks (RISE, RELAX); the same masks serve every window and image.
        device: ``"cpu"`` or ``"cuda"``.
        progress: show a progress bar over window batches.
    """

    result_type = ClassHeatmaps

    def __init__(
        self,
        model: nn.Module,
        labels: Sequence[str],
        *,
        mode: str = "whole",
        image_size: int = 512,
        window_size: int = 256,
        stride: int = 48,
        min_foreground: float = 0.05,
        batch_size: int = 32,
        seed: int = 0,
        device: str = "cpu",
        progress: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose from {MODES}")
        self.device = resolve_device(device)
        self.model = model.eval().to(self.device)
        self.labels = tuple(labels)
        self.mode, self.image_size = mode, image_size
        self.window_size, self.stride, self.min_foreground = window_size, stride, min_foreground
        self.batch_size, self.seed, self.progress = batch_size, seed, progress

    @property
    def parameters(self) -> dict[str, Any]:
        """Everything that changes the maps (a cache key), not the device or batch size."""
        shared = {"method": self.method, "mode": self.mode, "seed": self.seed, **self.method_parameters()}
        if self.mode == "whole":
            return {**shared, "image_size": self.image_size}
        return {**shared, "window_size": self.window_size, "stride": self.stride,
                "min_foreground": self.min_foreground}

    def method_parameters(self) -> dict[str, Any]:
        """The method's own parameters (mask counts, ...); none by default."""
        return {}

    @abstractmethod
    def attribute(self, x: Tensor) -> Tensor:
        """Per-class attributions of a batch: ``(N, 3, h, w)`` in [0, 1] → ``(N, C, h, w)`` float."""

    def attribute_with_extra(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """:meth:`attribute` and the method's ``(N, h, w)`` label-free maps of the same batch (RELAX's
        ``"uncertainty"``); none by default."""
        return self.attribute(x), {}

    def explain_roi(self, roi: PreparedRoi) -> ClassHeatmaps:
        """The method's per-class maps of one prepared ROI, in ROI pixels (``mode`` says how)."""
        start = time.perf_counter()
        heatmaps, extra = (self._explain_whole if self.mode == "whole" else self._explain_windows)(roi)
        seconds = time.perf_counter() - start
        return ClassHeatmaps(self.method, self.labels, heatmaps, extra,
                             {**self.parameters, "device": str(self.device), "seconds": seconds})

    def _explain_whole(self, roi: PreparedRoi) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Attribution of the ROI resized to ``image_size`` on its longer side, resized back."""
        x = torch.from_numpy(roi.resized(self.image_size)).unsqueeze(0).to(self.device)
        attribution, extra = self.attribute_with_extra(x)

        def to_roi(plane: Tensor) -> np.ndarray:
            return roi.to_roi(plane.detach().float().cpu().numpy())

        return np.stack([to_roi(plane) for plane in attribution[0]]), {k: to_roi(v[0]) for k, v in extra.items()}

    def _explain_windows(self, roi: PreparedRoi) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Window means of the attribution on CorRELAX's grid, IoU-smoothed and upsampled (Eq. 5–10)."""
        windows = roi.windows(self.window_size, self.stride, self.min_foreground)
        window_values, extra_values = [], []
        for start in tqdm(range(0, len(windows.kept), self.batch_size), desc=self.method, disable=not self.progress):
            x = torch.from_numpy(windows.crops(start, start + self.batch_size)).to(self.device)
            attribution, extra = self.attribute_with_extra(x)
            window_values.append(attribution.detach().double().mean(dim=(2, 3)).cpu().numpy())
            extra_values.append({name: v.detach().double().mean(dim=(1, 2)).cpu().numpy() for name, v in extra.items()})
        kernel = iou_kernel(self.window_size, self.stride)

        def to_roi(values: np.ndarray) -> np.ndarray:
            """``(W,)`` kept-window means → ``(H, W)`` ROI pixels."""
            return window_map_to_pixels(smooth_window_map(windows.on_grid(values), kernel), windows.grid)

        per_class = np.concatenate(window_values)  # (W, C)
        extra = {name: to_roi(np.concatenate([batch[name] for batch in extra_values])) for name in extra_values[0]}
        return np.stack([to_roi(per_class[:, c]) for c in range(per_class.shape[1])]), extra
