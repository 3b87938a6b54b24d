"""Adaptive mask counts (beyond the paper): stop masking a window once its correlations have settled."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor


@dataclass(frozen=True)
class AdaptiveMasks:
    """Per window, add mask rounds until every correlation is within ``tolerance`` of its full-count value.

    After ``n`` masks a correlation ``ρ̂_n`` differs from the value ``ρ̂_N`` all ``N = n_max`` masks
    would give by a sampling error whose standard deviation in Fisher-z space is
    ``sqrt(1/(n − 3) − 1/(N − 3))`` (the first ``n`` masks are a prefix of the ``N``); mapped back
    to ρ by the derivative of tanh this is ``(1 − ρ̂²) · sqrt(1/(n − 3) − 1/(N − 3))``. A window
    stops once ``z`` times that is at most ``tolerance`` for the watched correlations (undefined,
    NaN correlations do not hold a window back), and never before ``min_masks``. Figure 7's
    question — how far is ρ from its 2560-mask value? — is answered per window, and windows whose
    correlations are strong (``|ρ|`` near 1) stop early.

    Attributes:
        tolerance: target ``|ρ_n − ρ_N|`` (Figure 7's ±0.025 line).
        z: how many standard errors must fit inside the tolerance.
        min_masks: masks every window gets before it may stop.
        watch: ``"distance"`` (ρ(S_h, S_ŷ), the quantity of Figure 7) or ``"all"`` (also every class
            correlation; classes the model never predicts have ρ near 0 and keep windows running).
    """

    tolerance: float = 0.025
    z: float = 3.0
    min_masks: int = 256
    watch: str = "distance"

    def __post_init__(self) -> None:
        if self.watch not in ("distance", "all"):
            raise ValueError(f"watch must be 'distance' or 'all', got {self.watch!r}")

    def parameters(self) -> dict[str, Any]:
        """What enters the maps' cache key."""
        return dict(self.__dict__)

    def for_windows(self, grid_shape: tuple[int, int], window_ids: np.ndarray, kernel: np.ndarray) -> AdaptiveMasks:
        """The rule for one image's windows: this rule itself, which judges each window alone."""
        return self

    def stop(self, rho: Tensor, masks_used: Tensor, active: Tensor, n_masks: int, n_max: int) -> Tensor:
        """``(A,)`` bool: :meth:`converged` of the ``active`` windows' rows of ``rho (W, 1 + C)``."""
        return self.converged(rho[active], n_masks, n_max)

    def converged(self, rho: Tensor, n_masks: int, n_max: int) -> Tensor:
        """``(W,)`` bool: which windows may stop after ``n_masks``.

        Args:
            rho: ``(W, 1 + C)`` correlations: the distance correlation, then one per class.
        """
        if n_masks >= n_max:
            return torch.ones(rho.shape[0], dtype=torch.bool, device=rho.device)
        if n_masks < max(self.min_masks, 4):
            return torch.zeros(rho.shape[0], dtype=torch.bool, device=rho.device)
        spread = math.sqrt(1 / (n_masks - 3) - 1 / (n_max - 3))
        watched = rho[:, :1] if self.watch == "distance" else rho
        half_width = self.z * (1 - watched**2) * spread
        return torch.nan_to_num(half_width, nan=0.0).amax(dim=1) <= self.tolerance
