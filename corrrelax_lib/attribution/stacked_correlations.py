"""Per-window Pearson correlations as the authors' code computes them: every pass kept, ``torch.corrcoef`` in float32.

The paper's Eq. 3–4 do not say in which precision; the authors' code keeps each window's ``S_h``, ``S_ŷ``
and ``ŷ_M`` in float32, stacks them and calls ``torch.corrcoef``, and so does :class:`StackedCorrelations`.
Near 1, float32 resolves a similarity only to about 6e-8, so where masks move ``S_ŷ`` (or ``S_h``) by
less than that the correlations are dominated by rounding. This project's default,
:class:`~corrrelax_lib.attribution.streaming.CorrelationSums`, keeps float64 sums of shifted values
instead; this class is there to measure the difference (chapter "The paper as printed and as run").
Memory grows with the passes: ``W × N × (1 + T)`` float32 values.
"""

from __future__ import annotations

import torch
from torch import Tensor


class StackedCorrelations:
    """Every pass of ``n_windows`` series in float32; ρ(x, y_t) by ``torch.corrcoef`` per window.

    Same calls as :class:`~corrrelax_lib.attribution.streaming.CorrelationSums`, but callers add the
    values themselves (``S_h``, not ``S_h − 1``): the authors' code does not shift them. As there, the
    first target (``S_ŷ``) is correlated on its own, ``corrcoef`` of ``[x, y_0]``, and the others
    (``ŷ_M``) together, ``corrcoef`` of ``[x, y_1, …]``: the matrix shape changes float32's rounding.

    Args:
        n_windows: number of independent series ``W``.
        n_targets: number of ``y`` series per window ``T``.
        device: where the values live.
    """

    #: The precision the similarities are computed and correlated in.
    dtype = torch.float32

    def __init__(self, n_windows: int, n_targets: int, device: str | torch.device = "cpu") -> None:
        self.n_windows, self.n_targets = n_windows, n_targets
        self.device = torch.device(device)
        self._window_index: list[Tensor] = []
        self._series: list[Tensor] = []

    def add(self, window_index: Tensor, x: Tensor, y: Tensor) -> None:
        """Add one batch of passes: ``window_index (B,)`` int64, ``x (B,)``, ``y (B, T)`` (kept as float32)."""
        self._window_index.append(window_index)
        self._series.append(torch.cat([x[:, None], y], dim=1).to(self.dtype))

    def correlations(self) -> Tensor:
        """``(W, T)`` ρ(x, y_t): the first row of ``torch.corrcoef`` of each window's stacked series (``[x, y_0]``,
        then ``[x, y_1, …]``), in float32 (returned as float64). A series without variance gives NaN, as
        ``corrcoef`` does (0 / 0), and so does a window with fewer than two passes."""
        rho = torch.full((self.n_windows, self.n_targets), torch.nan, dtype=torch.float64, device=self.device)
        if not self._series:
            return rho
        window_index = torch.cat(self._window_index)
        # Stable: each window's passes stay in the order they were added (mask order).
        order = torch.argsort(window_index, stable=True)
        series = torch.cat(self._series)[order]
        counts = torch.bincount(window_index, minlength=self.n_windows).tolist()
        for window, values in zip(range(self.n_windows), series.split(counts), strict=True):
            if len(values) < 2:
                continue
            rho[window, 0] = torch.corrcoef(values[:, :2].T)[0, 1].double()
            if self.n_targets > 1:
                rho[window, 1:] = torch.corrcoef(values[:, [0, *range(2, 1 + self.n_targets)]].T)[0, 1:].double()
        return rho
