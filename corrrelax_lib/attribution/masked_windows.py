"""The CorRELAX engine: batched masked inference over (window, mask) pairs with streaming correlations.

By default all windows of one image share one mask set (:class:`RandomMasks`); with :class:`FreshMasks`
each window has its own. Masks are applied in rounds of ``mask_chunk`` masks (the paper's "sets of
128"); within a round the (window, mask) pairs of all still-active windows are flattened and cut into
batches of ``batch_size`` that fill the device, and every masked pass is folded into per-window
float64 sums (:class:`CorrelationSums`) at once, so memory is flat in ``n_masks``. (With
``correlation_dtype="float32"`` the passes are kept and correlated as the authors' code does,
:class:`StackedCorrelations`.) Between rounds correlations can be read out (Figure 7's prefixes) and
windows can stop early (a :class:`StoppingRule`: :class:`AdaptiveMasks`, :class:`OutcomeRule`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from corrrelax_lib.attribution.masks import FreshMasks, RandomMasks
from corrrelax_lib.attribution.stacked_correlations import StackedCorrelations
from corrrelax_lib.attribution.streaming import CorrelationSums
from corrrelax_lib.models.device import autocast

#: The precision of the similarities and correlations: float64 sums (ours) or float32 ``torch.corrcoef`` (authors').
CorrelationDtype = Literal["float64", "float32"]


class FeatureClassifier(Protocol):
    """A classifier that returns its feature vector ``h (N, D)`` and logits ``(N, C)`` in one pass."""

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]: ...


class StoppingRule(Protocol):
    """Which windows stop receiving masks after a round (e.g. :class:`~corrrelax_lib.attribution.adaptive.
    AdaptiveMasks`, :class:`~corrrelax_lib.attribution.outcome_budget.OutcomeRule`)."""

    def stop(self, rho: Tensor, masks_used: Tensor, active: Tensor, n_masks: int, n_max: int) -> Tensor:
        """``(A,)`` bool for the ``active (A,)`` windows, given every window's ``rho (W, 1 + C)`` and
        ``masks_used (W,)`` after ``n_masks`` of at most ``n_max`` masks."""
        ...


@dataclass
class WindowStatistics:
    """Per-window outputs of the engine, for ``W`` windows and ``C`` classes (numpy, float64).

    Attributes:
        predictions: ``(W, C)`` sigmoid outputs ``ŷ`` of the unmasked windows.
        rho_dist: ``(W,)`` ρ(S_h, S_ŷ) (Eq. 3), NaN where undefined.
        rho_class: ``(W, C)`` ρ(S_h, ŷ_M[c]) (Eq. 4), NaN where undefined.
        masks_used: ``(W,)`` masked passes per window.
        at_masks: ``{n: (rho_dist (W,), rho_class (W, C))}`` the correlations after the first ``n``
            masks, for each requested checkpoint ``n`` (windows that stopped earlier keep their values).
        seconds: wall-clock time of the unmasked pass, the masked passes and the whole call.
        batch_size: the batch size finally used (smaller than requested after out-of-memory).
    """

    predictions: np.ndarray
    rho_dist: np.ndarray
    rho_class: np.ndarray
    masks_used: np.ndarray
    at_masks: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    batch_size: int = 0


def correlate_windows(
    model: FeatureClassifier,
    windows: Callable[[Tensor], Tensor],
    n_windows: int,
    masks: RandomMasks | FreshMasks,
    *,
    window_ids: Tensor | None = None,
    correlation_dtype: CorrelationDtype = "float64",
    batch_size: int = 512,
    mask_chunk: int = 128,
    adaptive: StoppingRule | None = None,
    checkpoints: Sequence[int] = (),
    device: str | torch.device = "cpu",
    channels_last: bool = False,
    progress: bool = True,
) -> WindowStatistics:
    """ρ(S_h, S_ŷ) and ρ(S_h, ŷ_M[c]) of every window under every mask (Eq. 2–4).

    Args:
        model: eval-mode classifier on ``device`` with ``features_and_logits``.
        windows: ``windows(index (B,) int64) -> (B, 3, S, S)`` float images in [0, 1] on ``device``.
        n_windows: number of windows ``W``.
        masks: the mask set, shared (:class:`RandomMasks`) or fresh per window (:class:`FreshMasks`); its length
            is the full mask count ``N``.
        window_ids: ``(W,)`` int64 names of the windows that pick their :class:`FreshMasks` (CorRELAX: the
            grid index, so a window's masks do not depend on which others are computed); default ``0 … W−1``.
        correlation_dtype: ``"float64"`` streams shifted float64 sums (:class:`CorrelationSums`, memory flat in
            ``N``); ``"float32"`` computes the similarities in float32 and correlates every window's stacked
            passes with ``torch.corrcoef``, as the authors' code (:class:`StackedCorrelations`, memory ``W × N``).
        batch_size: masked inputs per forward pass; halved automatically on out-of-memory.
        mask_chunk: masks per round; checkpoints and adaptive stopping act between rounds.
        adaptive: stop windows early (beyond the paper); ``None`` gives every window all ``N`` masks.
        checkpoints: mask counts ``n`` (multiples of ``mask_chunk`` or ``N``) at which to record ρ.
        device: where the model and the sums live.
        channels_last: feed inputs in channels-last memory format (faster convolutions on GPUs).
        progress: show a progress bar of masked passes.
    """
    device = torch.device(device)
    engine = _Engine(model, device, batch_size, channels_last)
    start = time.perf_counter()
    logits, features = engine.unmasked(windows, n_windows)
    predictions = torch.sigmoid(logits.double())
    unmasked_seconds = time.perf_counter() - start
    n_masks, n_classes = len(masks), predictions.shape[1]
    accumulator = {"float64": CorrelationSums, "float32": StackedCorrelations}[correlation_dtype]
    sums = accumulator(n_windows, n_classes + 1, device)
    window_ids = torch.arange(n_windows, device=device) if window_ids is None else window_ids.to(device)
    active = torch.arange(n_windows, device=device)
    masks_used = torch.zeros(n_windows, dtype=torch.int64, device=device)
    frozen = torch.full((n_windows, n_classes + 1), torch.nan, dtype=torch.float64, device=device)
    at_masks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    bar = tqdm(total=n_windows * n_masks, unit="pass", disable=not progress, desc="masked windows")
    for first in range(0, n_masks, mask_chunk):
        last = min(first + mask_chunk, n_masks)
        round_masks = masks.for_round(first, last)
        for window_index, mask_index in _pairs(active, last - first, engine.batch_size):
            pair_masks = round_masks(window_ids[window_index], mask_index)
            engine.masked(windows, window_index, pair_masks, features, logits, sums)
        masks_used[active] = last
        bar.update(len(active) * (last - first))
        if adaptive is None and last not in checkpoints:
            continue
        rho = torch.where(torch.isnan(frozen), sums.correlations(), frozen)
        if adaptive is not None and len(active):
            stop = adaptive.stop(rho, masks_used, active, last, n_masks)
            frozen[active[stop]] = rho[active[stop]]
            bar.update(int(stop.sum()) * (n_masks - last))
            active = active[~stop]
        if last in checkpoints:
            at_masks[last] = (rho[:, 0].cpu().numpy(), rho[:, 1:].cpu().numpy())
    bar.close()
    rho = torch.where(torch.isnan(frozen), sums.correlations(), frozen).cpu().numpy()
    total = time.perf_counter() - start
    return WindowStatistics(
        predictions=predictions.cpu().numpy(), rho_dist=rho[:, 0], rho_class=rho[:, 1:],
        masks_used=masks_used.cpu().numpy(), at_masks=at_masks,
        seconds={"unmasked": unmasked_seconds, "masked": total - unmasked_seconds, "total": total},
        batch_size=engine.batch_size,
    )


def _pairs(active: Tensor, n_chunk: int, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
    """Batches of (window, mask-in-chunk) indices over ``active × range(n_chunk)``, window-major."""
    total = len(active) * n_chunk
    for start in range(0, total, batch_size):
        flat = torch.arange(start, min(start + batch_size, total), device=active.device)
        yield active[flat // n_chunk], flat % n_chunk


class _Engine:
    """Forward passes with mixed precision, channels-last inputs and out-of-memory back-off."""

    def __init__(self, model: FeatureClassifier, device: torch.device, batch_size: int, channels_last: bool) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format

    @torch.no_grad()
    def unmasked(self, windows: Callable[[Tensor], Tensor], n_windows: int) -> tuple[Tensor, Tensor]:
        """Logits ``(W, C)`` and features ``h (W, D)`` of the unmasked windows, float32."""
        index = torch.arange(n_windows, device=self.device)
        outputs = [self._forward(windows(index[start:start + self.batch_size]))
                   for start in range(0, n_windows, self.batch_size)]
        return torch.cat([logits for _, logits in outputs]), torch.cat([h for h, _ in outputs])

    @torch.no_grad()
    def masked(self, windows: Callable[[Tensor], Tensor], window_index: Tensor, masks: Tensor, features: Tensor,
               logits: Tensor, sums: CorrelationSums | StackedCorrelations) -> None:
        """Masked passes of one batch of pairs (``masks (B, 1, S, S)``, one per pair) folded into ``sums``;
        ``features`` and ``logits`` are the unmasked windows' (:meth:`unmasked`).

        The similarities are computed in ``sums.dtype``; float64 sums get them shifted by the unmasked values
        (``S − 1``, ``ŷ_M − ŷ``: ρ does not change, and the sums of values near 0 stay exact), float32 ones raw,
        as the authors' code correlates them.
        """
        unique, local = torch.unique_consecutive(window_index, return_inverse=True)
        inputs = windows(unique)[local] * masks
        h_masked, logits_masked = self._forward(inputs)
        dtype = sums.dtype
        h, y = features[window_index].to(dtype), torch.sigmoid(logits[window_index].to(dtype))
        y_masked = torch.sigmoid(logits_masked.to(dtype))
        similarity_h = F.cosine_similarity(h, h_masked.to(dtype), dim=1)  # S_h, Eq. 2
        similarity_y = F.cosine_similarity(y, y_masked, dim=1)  # S_ŷ, Eq. 2
        targets = torch.cat([similarity_y[:, None], y_masked], dim=1)
        if dtype == torch.float64:
            sums.add(window_index, similarity_h - 1, targets - torch.cat([torch.ones_like(y[:, :1]), y], dim=1))
        else:
            sums.add(window_index, similarity_h, targets)

    def _forward(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """``(h, logits)`` in float32; on out-of-memory the batch is split and the batch size halved."""
        try:
            with autocast(self.device):
                h, logits = self.model.features_and_logits(inputs.contiguous(memory_format=self.memory_format))
            return h.float(), logits.float()
        except torch.OutOfMemoryError:
            if len(inputs) == 1:
                raise
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            self.batch_size = max(1, min(self.batch_size, len(inputs)) // 2)
            parts = [self._forward(part) for part in inputs.split(self.batch_size)]
            return torch.cat([h for h, _ in parts]), torch.cat([logits for _, logits in parts])
