"""Outcome-aware mask budget (beyond the paper): more masks only where a map's outcome can still change.

What the paper reports from the correlations is the location of each map's maximum and whether
the maximum passes Table 4's value criteria (§3.5, Eq. 11). Every window first gets ``first_masks``
masks; after each further round of masks a window keeps receiving masks only while it lies under the
IoU kernel (Eq. 5–10) of a grid cell that can still decide a map's outcome:

1. Each window's correlation ρ̂ after ``n`` masks has the Fisher standard error ``(1 − ρ̂²)/sqrt(n − 3)``;
   the smoothed map ``m = Σ k·ρ̂ / Σ k`` over the present windows has
   ``se(m) = sqrt(Σ k² se²) / Σ k`` (windows taken as independent).
2. A cell ``g`` farther than ``tolerance_cells`` grid steps (strides) from the map's current maximum
   ``g*`` is a *contender* when its gap ``m(g*) − m(g) ≤ z·sqrt(se(g)² + se(g*)²)``: it could still be the
   maximum; but only while the gap is larger than the same bound with every window at the cap (``n_max``
   masks): a gap that not even the cap could resolve (a tie, a flat map of noise) buys nothing, so it is
   left as it is (a futility stop, as in sequential tests). With any contender, ``g*`` and every contender
   are undecided.
3. On a class-correlation map ``g*`` is undecided too while ``|m(g*) − correlation_above|`` lies between the
   same two bounds of ``g*`` alone: the "positive correlation" hit could still flip, and the cap could tell.
4. A window is refined while it lies under the kernel of an undecided cell of any map (the distance map
   ρ(S_h, S_ŷ) and every class map ρ(S_h, ŷ_M[c])); once it stops it stays stopped.

Table 4's prediction criteria (maximum ≥ 25 %, ≥ 50 %) read the unmasked predictions ŷ only: no mask can
change them. ``n_masks`` of the explainer is the cap.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class OutcomeBudget:
    """Refine a window only while a map maximum or a Table 4 criterion it smooths into is undecided.

    Attributes:
        first_masks: masks every window gets before any may stop (a multiple of the round size).
        z: how many standard errors a contender's value may lie below the maximum and still count.
        tolerance_cells: a maximum that moves this many strides (or fewer) counts as unchanged.
        correlation_above: the correlation criterion's threshold (Table 4: 0, a positive correlation).

    Example:
        >>> budget = OutcomeBudget(first_masks=16)
        >>> rule = budget.for_windows((3, 3), np.arange(9), np.full((3, 3), 1 / 9))
        >>> rule.stop(torch.zeros(9, 2), torch.full((9,), 16), torch.arange(9), 16, 64).shape
        torch.Size([9])
    """

    first_masks: int = 256
    z: float = 3.0
    tolerance_cells: int = 1
    correlation_above: float = 0.0

    def __post_init__(self) -> None:
        if self.first_masks < 4 or self.z < 0 or self.tolerance_cells < 0:
            raise ValueError(f"need first_masks >= 4, z >= 0, tolerance_cells >= 0; got {self}")

    def parameters(self) -> dict[str, Any]:
        """What enters the maps' cache key."""
        return {"rule": "outcome", **asdict(self)}

    def for_windows(self, grid_shape: tuple[int, int], window_ids: np.ndarray, kernel: np.ndarray) -> OutcomeRule:
        """The rule for one image's computed windows.

        Args:
            grid_shape: ``(R, K)`` of the window grid.
            window_ids: ``(W,)`` flat grid index of each computed window, in the engine's order.
            kernel: ``(k, k)`` IoU kernel of the smoothing (:func:`~corrrelax_lib.windows.kernel.iou_kernel`).
        """
        return OutcomeRule(self, grid_shape, torch.as_tensor(np.asarray(window_ids), dtype=torch.int64),
                           torch.as_tensor(kernel, dtype=torch.float64))


class OutcomeRule:
    """:class:`OutcomeBudget` bound to one image's window grid; the engine calls :meth:`stop` between rounds."""

    def __init__(self, budget: OutcomeBudget, grid_shape: tuple[int, int], window_ids: Tensor,
                 kernel: Tensor) -> None:
        self.budget = budget
        self.grid_shape = grid_shape
        self.window_ids = window_ids
        self.kernel = kernel

    def stop(self, rho: Tensor, masks_used: Tensor, active: Tensor, n_masks: int, n_max: int) -> Tensor:
        """``(A,)`` bool: which of the ``active`` windows stop after ``n_masks`` masks (all of them at ``n_max``).

        Args:
            rho: ``(W, 1 + C)`` correlations of every window: the distance correlation, then one per class.
            masks_used: ``(W,)`` masks each window has had.
            active: ``(A,)`` indices of the windows still receiving masks.
        """
        if n_masks >= n_max:
            return torch.ones(len(active), dtype=torch.bool, device=active.device)
        if n_masks < self.budget.first_masks:
            return torch.zeros(len(active), dtype=torch.bool, device=active.device)
        return ~self.refine(rho.cpu(), masks_used.cpu(), n_max)[active.cpu()].to(active.device)

    def refine(self, rho: Tensor, masks_used: Tensor, n_max: int) -> Tensor:
        """``(W,)`` bool: the windows under the kernel of an undecided cell of some map (steps 1–4)."""
        n_rows, n_cols = self.grid_shape
        n_maps = rho.shape[1]
        values = torch.full((n_maps, n_rows * n_cols), torch.nan, dtype=torch.float64)
        values[:, self.window_ids] = rho.double().T
        count = torch.zeros(n_rows * n_cols, dtype=torch.float64)
        count[self.window_ids] = masks_used.double()
        # Step 1: Fisher standard errors per window, now and at the cap, then of the smoothed maps.
        present = torch.isfinite(values)
        weight = present.double()
        values = torch.where(present, values, 0.0)
        error, error_at_cap = ((1 - values**2) / torch.sqrt((n - 3).clamp_min(1.0))
                               for n in (count, torch.full_like(count, float(n_max))))
        smooth, spread = self._smooth(values, weight, error)
        _, spread_at_cap = self._smooth(values, weight, error_at_cap)
        undecided = torch.zeros(n_maps, n_rows, n_cols, dtype=torch.bool)
        for index in range(n_maps):
            undecided[index] = self._undecided(smooth[index], spread[index], spread_at_cap[index],
                                               criterion=index > 0)
        # Step 4: every window under the kernel of an undecided cell.
        radius = self.kernel.shape[0] // 2
        reach = F.max_pool2d(undecided.any(dim=0)[None, None].float(), 2 * radius + 1, stride=1, padding=radius)
        return reach.reshape(-1)[self.window_ids] > 0

    def _smooth(self, values: Tensor, weight: Tensor, error: Tensor) -> tuple[Tensor, Tensor]:
        """Normalised convolutions (Eq. 5–10) of ``(T, R·K)`` values: maps ``m`` and ``se(m)``, ``(T, R, K)``."""
        shape = (-1, 1, *self.grid_shape)
        kernel = self.kernel[None, None]
        padding = self.kernel.shape[0] // 2
        numerator = F.conv2d(values.reshape(shape), kernel, padding=padding)[:, 0]
        denominator = F.conv2d(weight.reshape(shape), kernel, padding=padding)[:, 0]
        variance = F.conv2d((error**2 * weight).reshape(shape), kernel**2, padding=padding)[:, 0]
        inside = weight.reshape(shape)[:, 0] > 0
        smooth = torch.where(inside, numerator / denominator.clamp_min(1e-300), torch.nan)
        return smooth, torch.sqrt(variance) / denominator.clamp_min(1e-300)

    def _undecided(self, smooth: Tensor, spread: Tensor, spread_at_cap: Tensor, *, criterion: bool) -> Tensor:
        """``(R, K)`` bool: the cells of one map whose outcome is open and could be settled by the cap (steps 2, 3)."""
        undecided = torch.zeros(smooth.shape, dtype=torch.bool)
        if torch.isnan(smooth).all():
            return undecided
        flat = int(torch.argmax(torch.nan_to_num(smooth, nan=-math.inf)))
        row, col = divmod(flat, smooth.shape[1])
        peak = smooth[row, col]
        rows = torch.arange(smooth.shape[0])[:, None]
        cols = torch.arange(smooth.shape[1])[None, :]
        far = torch.maximum((rows - row).abs(), (cols - col).abs()) > self.budget.tolerance_cells
        gap = peak - smooth
        now, at_cap = (self.budget.z * torch.sqrt(of**2 + of[row, col] ** 2) for of in (spread, spread_at_cap))
        contender = far & torch.isfinite(smooth) & (gap <= now) & (gap > at_cap)
        undecided |= contender
        if contender.any():
            undecided[row, col] = True
        to_criterion = (peak - self.budget.correlation_above).abs()
        if criterion and self.budget.z * spread_at_cap[row, col] < to_criterion <= self.budget.z * spread[row, col]:
            undecided[row, col] = True
        return undecided
