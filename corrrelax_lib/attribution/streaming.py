"""Streaming Pearson correlations per window in float64 (paper Eq. 3–4), memory flat in ``n_masks``."""

from __future__ import annotations

import torch
from torch import Tensor

# A variance at or below this share of the raw second moment is rounding noise: "zero variance".
_ZERO_VARIANCE = 1e-12


class CorrelationSums:
    """Running sums ``n, Σx, Σx², Σy_t, Σy_t², Σx·y_t`` of ``n_windows`` independent series.

    ``x`` is one value per masked pass (CorRELAX: ``S_h``) and ``y`` has ``n_targets`` values per
    pass (``S_ŷ`` and ``ŷ_M[c]`` for every class). Callers add *shifted* values (e.g. ``S_h − 1``):
    Pearson's ρ does not change under a shift, and values near 0 keep the float64 sums exact
    where raw values near 1 would cancel.

    Args:
        n_windows: number of independent series ``W``.
        n_targets: number of ``y`` series per window ``T``.
        device: where the sums live (next to the model's outputs).
    """

    #: The precision the similarities are computed and summed in.
    dtype = torch.float64

    def __init__(self, n_windows: int, n_targets: int, device: str | torch.device = "cpu") -> None:
        def zeros(*shape: int) -> Tensor:
            return torch.zeros(shape, dtype=torch.float64, device=device)

        self.count = zeros(n_windows)
        self.sum_x, self.sum_xx = zeros(n_windows), zeros(n_windows)
        self.sum_y, self.sum_yy, self.sum_xy = (zeros(n_windows, n_targets) for _ in range(3))

    def add(self, window_index: Tensor, x: Tensor, y: Tensor) -> None:
        """Add one batch of passes: ``window_index (B,)`` int64, ``x (B,)``, ``y (B, T)``."""
        x, y = x.to(torch.float64), y.to(torch.float64)
        self.count.index_add_(0, window_index, torch.ones_like(x))
        self.sum_x.index_add_(0, window_index, x)
        self.sum_xx.index_add_(0, window_index, x * x)
        self.sum_y.index_add_(0, window_index, y)
        self.sum_yy.index_add_(0, window_index, y * y)
        self.sum_xy.index_add_(0, window_index, x[:, None] * y)

    def correlations(self) -> Tensor:
        """``(W, T)`` float64 Pearson ρ(x, y_t) by Eq. 3–4.

        ``ρ = (nΣxy − ΣxΣy) / sqrt((nΣx² − (Σx)²)(nΣy² − (Σy)²))``. Where ``x`` or ``y_t`` has zero
        variance (or ``n < 2``) ρ is undefined and returned as NaN, never as 0.
        """
        n = self.count[:, None]
        covariance = n * self.sum_xy - self.sum_x[:, None] * self.sum_y
        variance_x = (n * self.sum_xx[:, None] - self.sum_x[:, None] ** 2).expand_as(covariance)
        variance_y = n * self.sum_yy - self.sum_y**2
        defined = ((variance_x > _ZERO_VARIANCE * n * self.sum_xx[:, None])
                   & (variance_y > _ZERO_VARIANCE * n * self.sum_yy) & (n >= 2))
        rho = covariance / torch.sqrt(variance_x.clamp_min(0) * variance_y.clamp_min(0))
        return torch.where(defined, rho.clamp(-1.0, 1.0), torch.full_like(rho, torch.nan))
