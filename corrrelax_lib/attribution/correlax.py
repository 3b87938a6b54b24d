"""CorRELAX (paper §3.4–3.5): correlations of representation and prediction similarities under masking.

For each sliding window ``X`` of the ROI the classifier gives its feature vector ``h`` and
prediction ``ŷ``; for random masks ``M`` it gives ``h_M`` and ``ŷ_M`` of ``X ⊙ M``. With the
cosine similarity ``S`` (Eq. 2), ``S_h = S(h, h_M)`` and ``S_ŷ = S(ŷ, ŷ_M)``, each window gets the
distance correlation ρ(S_h, S_ŷ) (Eq. 3) and one class correlation ρ(S_h, ŷ_M[c]) per label
(Eq. 4). Window values are smoothed into global maps with the IoU kernel (Eq. 5–10).

Where the authors' code runs the method otherwise than the paper's text (or this project) says, an
option follows the authors: ``mask_sharing="per_window"`` (a fresh mask set per window),
``correlation_dtype="float32"`` (``torch.corrcoef``), ``undefined_correlation="zero"`` and
``reconstruction="authors"`` (their kernel, full convolution and stretch); the defaults are this
project's reading of the paper.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from corrrelax_lib.attribution.adaptive import AdaptiveMasks
from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.attribution.explainer import Explainer, PreparedRoi, RoiWindows, prepare_roi
from corrrelax_lib.attribution.mask_designs import MaskDesign
from corrrelax_lib.attribution.masked_windows import CorrelationDtype, correlate_windows
from corrrelax_lib.attribution.masks import FreshMasks, MaskSharing, RandomMasks
from corrrelax_lib.attribution.outcome_budget import OutcomeBudget
from corrrelax_lib.attribution.streaming import CorrelationSums
from corrrelax_lib.models.device import resolve_device
from corrrelax_lib.windows.kernel import iou_kernel
from corrrelax_lib.windows.reconstruction import Reconstruction

#: What an undefined correlation (a series without variance) becomes: NaN (ours) or 0 (the authors' code).
UndefinedCorrelation = Literal["nan", "zero"]

#: The options that follow the authors' code, at this project's defaults. They enter ``CorRELAX.parameters`` (and
#: so the maps' cache key) only when set otherwise, so that maps computed before the options existed are found.
_AS_RUN_DEFAULTS: dict[str, str] = {"mask_sharing": "shared", "correlation_dtype": "float64",
                                   "undefined_correlation": "nan", "reconstruction": "centred"}


def window_correlations(
    h: np.ndarray | Tensor, y: np.ndarray | Tensor, h_masked: np.ndarray | Tensor, y_masked: np.ndarray | Tensor,
) -> tuple[float, np.ndarray]:
    """ρ(S_h, S_ŷ) (Eq. 3) and ρ(S_h, ŷ_M[c]) for every class (Eq. 4) of one window, in float64.

    Args:
        h: ``(D,)`` feature vector of the unmasked window.
        y: ``(C,)`` sigmoid outputs of the unmasked window.
        h_masked: ``(N, D)`` feature vectors of ``N`` masked versions.
        y_masked: ``(N, C)`` their sigmoid outputs.

    Returns:
        ``(rho_dist, rho_class)``: a float and a ``(C,)`` array. A correlation whose series has zero
        variance (e.g. a class whose masked prediction never changes) is undefined and NaN.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> rho_dist, rho_class = window_correlations(rng.random(8), rng.random(3), rng.random((64, 8)),
        ...                                           rng.random((64, 3)))
        >>> rho_class.shape
        (3,)
    """
    h, y, h_masked, y_masked = (torch.as_tensor(np.asarray(a), dtype=torch.float64)
                                for a in (h, y, h_masked, y_masked))
    similarity_h = F.cosine_similarity(h[None], h_masked, dim=1)  # S_h, Eq. 2
    similarity_y = F.cosine_similarity(y[None], y_masked, dim=1)  # S_ŷ, Eq. 2
    sums = CorrelationSums(1, y.shape[0] + 1)
    window = torch.zeros(len(h_masked), dtype=torch.int64)
    sums.add(window, similarity_h - 1, torch.cat([(similarity_y - 1)[:, None], y_masked - y], dim=1))
    rho = sums.correlations()[0].numpy()
    return float(rho[0]), rho[1:]


class CompiledClassifier:
    """A classifier's ``features_and_logits`` compiled with ``torch.compile``.

    ``torch.compile(model)`` compiles ``forward`` only; the engine calls ``features_and_logits``, which
    the compiled module would hand to the eager model.
    """

    def __init__(self, model: nn.Module) -> None:
        self.features_and_logits = torch.compile(model.features_and_logits)


class CorRELAX(Explainer):
    """Sliding-window CorRELAX maps of whole ROI images: an :class:`~corrrelax_lib.attribution.explainer.Explainer`
    whose result, :class:`CorrelaxMaps`, holds the window values and every map kind.

    Args:
        model: a classifier with ``features_and_logits(x) -> (h (N, D), logits (N, C))`` taking
            ``(N, 3, S, S)`` images in [0, 1], e.g. :class:`corrrelax_lib.models.classifier.MultiLabelClassifier`.
        labels: the ``C`` output labels, in order.
        window_size, stride: the window grid, pixels (paper: 256, 48).
        n_masks, mask_cells, keep_prob, mask_shift: the masks (paper: 2560, 8, 0.5, no shift).
        mask_sharing: ``"shared"``: one seeded set for every window and image (this project); ``"per_window"``:
            a fresh seeded set for every window, as the authors' code draws them (:class:`FreshMasks`).
        mask_design: how the shared set's cells are drawn (:mod:`~corrrelax_lib.attribution.mask_designs`;
            the paper's independent ``"bernoulli"`` cells by default).
        seed: seeds the masks.
        correlation_dtype: ``"float64"`` streaming sums (this project) or ``"float32"`` ``torch.corrcoef`` on
            the stacked similarities (the authors' code); see :func:`correlate_windows`.
        undefined_correlation: ``"nan"``: a correlation without variance is undefined and missing from the
            smoothing (this project); ``"zero"``: it is 0, as the authors' code sets it. Skipped windows stay NaN.
        reconstruction: how the pixel maps are made, ``"centred"`` (this project) or ``"authors"``; see
            :meth:`CorrelaxMaps.pixel_map`.
        batch_size: masked windows per forward pass (halved automatically on out-of-memory).
        mask_chunk: masks per round (paper: sets of 128).
        min_foreground: windows whose breast share is below this are skipped and marked missing.
        adaptive: stop masking windows early (beyond the paper): :class:`AdaptiveMasks` (each window's
            correlations settled) or :class:`OutcomeBudget` (no map outcome left to decide; ``n_masks`` is the
            cap); ``None`` uses all masks.
        checkpoints: mask counts at which to record correlations too (Figure 7, the explorer).
        device: ``"cpu"`` or ``"cuda"``; on CUDA autocast (bf16/fp16) and channels-last are used.
        compile: compile the model's ``features_and_logits`` with ``torch.compile`` (:class:`CompiledClassifier`).
        progress: show a progress bar.

    Example:
        >>> from corrrelax_lib.models.classifier import MultiLabelClassifier
        >>> explainer = CorRELAX(MultiLabelClassifier("small_cnn", 2).eval(), ["a", "b"], window_size=64,
        ...                      stride=12, n_masks=128, progress=False)
        >>> maps = explainer.explain(np.random.default_rng(0).random((100, 80, 3)),
        ...                          foreground=np.ones((100, 80), bool))
        >>> maps.pixel_map("correlation", "a").shape
        (100, 80)
    """

    method = "CorRELAX"
    result_type = CorrelaxMaps
    probability_kinds = frozenset({"prediction"})

    def __init__(
        self,
        model: nn.Module,
        labels: Sequence[str],
        *,
        window_size: int = 256,
        stride: int = 48,
        n_masks: int = 2560,
        mask_cells: int = 8,
        keep_prob: float = 0.5,
        mask_shift: bool = False,
        mask_sharing: MaskSharing = "shared",
        mask_design: MaskDesign = "bernoulli",
        seed: int = 0,
        correlation_dtype: CorrelationDtype = "float64",
        undefined_correlation: UndefinedCorrelation = "nan",
        reconstruction: Reconstruction = "centred",
        batch_size: int = 512,
        mask_chunk: int = 128,
        min_foreground: float = 0.05,
        adaptive: AdaptiveMasks | OutcomeBudget | None = None,
        checkpoints: Sequence[int] = (),
        device: str = "cpu",
        compile: bool = False,
        progress: bool = True,
    ) -> None:
        self.device = resolve_device(device)
        self.channels_last = self.device.type == "cuda"
        model = model.eval().to(self.device)
        if self.channels_last:
            model = model.to(memory_format=torch.channels_last)
        self.model = CompiledClassifier(model) if compile else model
        self.labels = tuple(labels)
        self.window_size, self.stride = window_size, stride
        if mask_sharing == "shared":
            self.masks: RandomMasks | FreshMasks = RandomMasks(
                n_masks, window_size, mask_cells=mask_cells, keep_prob=keep_prob, shift=mask_shift, seed=seed,
                design=mask_design, device=self.device)
        elif mask_design == "bernoulli":
            self.masks = FreshMasks(n_masks, window_size, mask_cells=mask_cells, keep_prob=keep_prob,
                                    shift=mask_shift, seed=seed, device=self.device)
        else:
            raise ValueError(f"mask design {mask_design!r} needs mask_sharing='shared'")
        self.correlation_dtype = correlation_dtype
        self.undefined_correlation = undefined_correlation
        self.reconstruction = reconstruction
        self.batch_size, self.mask_chunk = batch_size, mask_chunk
        self.min_foreground = min_foreground
        self.adaptive = adaptive
        self.checkpoints = tuple(sorted(checkpoints))
        self.progress = progress
        self._parameters = {"window_size": window_size, "stride": stride, "n_masks": n_masks,
                           "mask_cells": mask_cells, "keep_prob": keep_prob, "mask_shift": mask_shift, "seed": seed,
                           "mask_chunk": mask_chunk, "min_foreground": min_foreground,
                           "adaptive": None if adaptive is None else adaptive.parameters(),
                           "checkpoints": list(self.checkpoints)}
        if mask_design != "bernoulli":  # only when set: maps computed before designs existed keep their key
            self.parameters["mask_design"] = mask_design
        as_run: dict[str, Any] = {"mask_sharing": mask_sharing, "correlation_dtype": correlation_dtype,
                                  "undefined_correlation": undefined_correlation, "reconstruction": reconstruction}
        self._parameters.update({name: value for name, value in as_run.items() if value != _AS_RUN_DEFAULTS[name]})

    @property
    def parameters(self) -> dict[str, Any]:
        """Everything that changes the maps (the cache key): grid, masks, seed, adaptive rule, checkpoints, and the
        as-run options that differ from this project's defaults; not the device or batch size."""
        return self._parameters

    def explain(self, image: np.ndarray, foreground: np.ndarray | None = None, *,
                windows: np.ndarray | None = None) -> CorrelaxMaps:
        """All maps of one preprocessed ROI image (:meth:`Explainer.explain`, and a window selection).

        Args:
            image: ``(H, W, 3)`` ROI image, float in [0, 1] or uint8 (divided by 255).
            foreground: ``(H, W)`` bool breast mask; default :func:`corrrelax_lib.preprocess.roi.breast_mask`
                of the first channel.
            windows: optional ``(n_rows, n_cols)`` bool selection of the grid's windows to compute
                (e.g. a sample for Figure 7, or one clicked window); the others are missing.

        Raises:
            EmptyBreastError: the breast mask is empty, or no (selected) window holds enough breast.
        """
        return self.explain_roi(prepare_roi(image, foreground), windows=windows)

    def explain_roi(self, roi: PreparedRoi, *, windows: np.ndarray | None = None) -> CorrelaxMaps:
        """All maps of one prepared ROI (:func:`~corrrelax_lib.attribution.explainer.prepare_roi`); ``windows`` as
        in :meth:`explain`."""
        selected = roi.windows(self.window_size, self.stride, self.min_foreground, windows)
        grid, kept = selected.grid, selected.kept
        read = self._window_reader(selected)
        kernel = iou_kernel(self.window_size, self.stride)
        rule = None if self.adaptive is None else self.adaptive.for_windows(grid.shape, kept, kernel)
        start = time.perf_counter()
        stats = correlate_windows(
            self.model, read, len(kept), self.masks, window_ids=torch.from_numpy(kept),
            correlation_dtype=self.correlation_dtype, batch_size=self.batch_size, mask_chunk=self.mask_chunk,
            adaptive=rule, checkpoints=self.checkpoints, device=self.device,
            channels_last=self.channels_last, progress=self.progress,
        )
        seconds = time.perf_counter() - start

        def rho_on_grid(values: np.ndarray) -> np.ndarray:
            """:meth:`RoiWindows.on_grid` of correlations, undefined ones set to 0 where the authors' code does so."""
            return selected.on_grid(np.nan_to_num(values, nan=0.0) if self.undefined_correlation == "zero" else values)

        masks_used = np.zeros(grid.n_rows * grid.n_cols, dtype=np.int64)
        masks_used[kept] = stats.masks_used
        passes = int(stats.masks_used.sum())
        return CorrelaxMaps(
            labels=self.labels, grid=grid, kernel=kernel,
            window_predictions=selected.on_grid(stats.predictions), window_rho_class=rho_on_grid(stats.rho_class),
            window_rho_dist=rho_on_grid(stats.rho_dist), masks_used=masks_used.reshape(grid.shape),
            rho_dist_at={n: rho_on_grid(d) for n, (d, _) in stats.at_masks.items()},
            rho_class_at={n: rho_on_grid(c) for n, (_, c) in stats.at_masks.items()},
            reconstruction=self.reconstruction,
            metadata={**self.parameters, "device": str(self.device), "windows": len(kept),
                      "masked_passes": passes, "seconds": {**stats.seconds, "explain": seconds},
                      "masks_per_second": passes / max(stats.seconds["masked"], 1e-9),
                      "batch_size": stats.batch_size},
        )

    def _window_reader(self, windows: RoiWindows) -> Callable[[Tensor], Tensor]:
        """``read(index (B,)) -> (B, 3, S, S)`` kept windows of the zero-padded image, on the device."""
        image = torch.from_numpy(windows.padded)
        if self.device.type == "cuda":
            image = image.pin_memory()
        image = image.to(self.device, non_blocking=True)
        origins_t = torch.as_tensor(windows.origins, device=self.device)
        steps = torch.arange(self.window_size, device=self.device)

        def read(index: Tensor) -> Tensor:
            rows = (origins_t[index, 0, None] + steps)[:, None, :, None]
            cols = (origins_t[index, 1, None] + steps)[:, None, None, :]
            channels = torch.arange(3, device=self.device)[None, :, None, None]
            return image[channels, rows, cols]

        return read
