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

Both modes leave the map NaN outside the breast (whole) or outside the kept windows (windows).
Subclasses implement :meth:`RoiExplainer.attribute`, one method per module.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import cv2
import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from corrrelax_lib.attribution.heatmaps import ClassHeatmaps
from corrrelax_lib.models.device import resolve_device
from corrrelax_lib.preprocess.roi import EmptyBreastError, breast_mask
from corrrelax_lib.windows.grid import foreground_fraction, window_grid
from corrrelax_lib.windows.kernel import iou_kernel
from corrrelax_lib.windows.reconstruction import smooth_window_map, window_map_to_pixels

MODES = ("whole", "windows")


class RoiExplainer(ABC):
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

    #: Display name, e.g. ``"Grad-CAM"``.
    method: ClassVar[str]
    #: Whether map values are probabilities (RISE), so that the pointing game's 25% / 50% thresholds apply.
    probability_maps: ClassVar[bool] = False

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

    def explain(self, image: np.ndarray, foreground: np.ndarray | None = None) -> ClassHeatmaps:
        """The method's per-class maps of one preprocessed ROI image, in ROI pixels.

        Args:
            image: ``(H, W, 3)`` ROI image, float in [0, 1] or uint8 (divided by 255).
            foreground: ``(H, W)`` bool breast mask; default :func:`~corrrelax_lib.preprocess.roi.breast_mask`
                of the first channel.

        Raises:
            EmptyBreastError: no breast pixel (``"whole"``) or no window with enough breast (``"windows"``).
        """
        image = np.asarray(image)
        pixels = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) image, got shape {image.shape}")
        if foreground is None:
            foreground = breast_mask(pixels[..., 0])
        start = time.perf_counter()
        heatmaps, extra = (self._explain_whole if self.mode == "whole" else self._explain_windows)(pixels, foreground)
        seconds = time.perf_counter() - start
        return ClassHeatmaps(self.method, self.labels, heatmaps, extra,
                             {**self.parameters, "device": str(self.device), "seconds": seconds})

    def extra_maps(self) -> dict[str, Tensor]:
        """``(N, h, w)`` label-free maps of the last :meth:`attribute` call (RELAX's uncertainty); none by default."""
        return {}

    def _explain_whole(self, pixels: np.ndarray, foreground: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Attribution of the ROI resized to ``image_size`` on its longer side, resized back."""
        if not foreground.any():
            raise EmptyBreastError("the breast mask is empty")
        height, width = pixels.shape[:2]
        scale = self.image_size / max(height, width)
        small_size = (max(1, round(width * scale)), max(1, round(height * scale)))  # cv2: (w, h)
        small = cv2.resize(pixels, small_size, interpolation=cv2.INTER_AREA)
        x = torch.from_numpy(small.transpose(2, 0, 1)).unsqueeze(0).to(self.device)
        attribution = self.attribute(x)[0].detach().float().cpu().numpy()
        extra_small = {name: values[0].detach().float().cpu().numpy() for name, values in self.extra_maps().items()}

        def to_roi(plane: np.ndarray) -> np.ndarray:
            resized = cv2.resize(plane.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
            return np.where(foreground, resized, np.nan).astype(np.float64)

        return np.stack([to_roi(plane) for plane in attribution]), {k: to_roi(v) for k, v in extra_small.items()}

    def _explain_windows(self, pixels: np.ndarray, foreground: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Window means of the attribution on CorRELAX's grid, IoU-smoothed and upsampled (Eq. 5–10)."""
        grid = window_grid(pixels.shape[0], pixels.shape[1], self.window_size, self.stride)
        kept = np.flatnonzero(foreground_fraction(foreground, grid).ravel() >= self.min_foreground)
        if len(kept) == 0:
            raise EmptyBreastError(f"no window has at least {self.min_foreground:.0%} breast pixels")
        padded = np.zeros((3, *grid.padded_shape), dtype=np.float32)
        padded[:, : pixels.shape[0], : pixels.shape[1]] = pixels.transpose(2, 0, 1)
        origins = grid.origins()[kept]
        window_values = np.full((len(self.labels), grid.n_rows * grid.n_cols), np.nan)
        extra_values: dict[str, np.ndarray] = {}
        size = self.window_size
        for start in tqdm(range(0, len(kept), self.batch_size), desc=self.method, disable=not self.progress):
            batch = origins[start:start + self.batch_size]
            x = torch.from_numpy(np.stack([padded[:, y:y + size, x:x + size] for y, x in batch])).to(self.device)
            index = kept[start:start + self.batch_size]
            window_values[:, index] = self.attribute(x).detach().double().mean(dim=(2, 3)).T.cpu().numpy()
            for name, values in self.extra_maps().items():
                extra_values.setdefault(name, np.full(grid.n_rows * grid.n_cols, np.nan))
                extra_values[name][index] = values.detach().double().mean(dim=(1, 2)).cpu().numpy()
        kernel = iou_kernel(self.window_size, self.stride)

        def to_roi(values: np.ndarray) -> np.ndarray:
            return window_map_to_pixels(smooth_window_map(values.reshape(grid.shape), kernel), grid)

        return np.stack([to_roi(v) for v in window_values]), {k: to_roi(v) for k, v in extra_values.items()}
