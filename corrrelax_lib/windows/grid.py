"""The sliding-window grid over a preprocessed ROI image (paper §3.5: 256 × 256 windows, stride 48)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowGrid:
    """Windows of ``window_size`` px every ``stride`` px covering an ``height × width`` ROI.

    Window ``(row, col)`` spans ``[row·stride, row·stride + window_size)`` vertically and
    ``[col·stride, col·stride + window_size)`` horizontally, in ROI pixels. The last row and
    column reach past the ROI when its size is not ``window_size + k·stride``; that part is
    padded with zeros (background), so the whole ROI is covered.

    Attributes:
        window_size: window side, pixels (paper: 256).
        stride: distance between neighbouring windows, pixels (paper: 48).
        height, width: ROI size, pixels.
        n_rows, n_cols: number of windows along y and x.
    """

    window_size: int
    stride: int
    height: int
    width: int
    n_rows: int
    n_cols: int

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_rows, n_cols)``: the shape of every window-grid map."""
        return self.n_rows, self.n_cols

    @property
    def padded_shape(self) -> tuple[int, int]:
        """``(height, width)`` of the zero-padded image the windows tile exactly."""
        return ((self.n_rows - 1) * self.stride + self.window_size,
                (self.n_cols - 1) * self.stride + self.window_size)

    def origins(self) -> np.ndarray:
        """``(n_rows · n_cols, 2)`` int64 ``(y, x)`` top-left corners, row-major (window index order)."""
        rows, cols = np.meshgrid(np.arange(self.n_rows), np.arange(self.n_cols), indexing="ij")
        return np.stack([rows.ravel(), cols.ravel()], axis=1).astype(np.int64) * self.stride

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Window centres in ROI pixel coordinates: ``(y (n_rows,), x (n_cols,))``, float."""
        offset = (self.window_size - 1) / 2
        return (np.arange(self.n_rows) * self.stride + offset, np.arange(self.n_cols) * self.stride + offset)


def window_grid(height: int, width: int, window_size: int, stride: int) -> WindowGrid:
    """The grid of windows covering an ``height × width`` ROI.

    Args:
        height, width: ROI size in pixels (≥ 1).
        window_size: window side in pixels (paper: 256).
        stride: step between windows in pixels, ``1 ≤ stride ≤ window_size`` (paper: 48).

    Example:
        >>> window_grid(2497, 885, 256, 48).shape  # the paper's mean ROI
        (48, 15)
    """
    if height < 1 or width < 1:
        raise ValueError(f"ROI must be at least 1×1 pixels, got {height}×{width}")
    if not 1 <= stride <= window_size:
        raise ValueError(f"need 1 <= stride <= window_size, got stride={stride}, window_size={window_size}")
    n_rows = max(1, math.ceil((height - window_size) / stride) + 1)
    n_cols = max(1, math.ceil((width - window_size) / stride) + 1)
    return WindowGrid(window_size, stride, height, width, n_rows, n_cols)


def foreground_fraction(foreground: np.ndarray, grid: WindowGrid) -> np.ndarray:
    """Share of each window's pixels that are breast: ``(n_rows, n_cols)`` float in [0, 1].

    Args:
        foreground: ``(height, width)`` bool breast mask of the ROI; the padding counts as background.

    Computed with a summed-area table, so the cost does not depend on the window size.
    """
    foreground = np.asarray(foreground, dtype=bool)
    if foreground.shape != (grid.height, grid.width):
        raise ValueError(f"foreground mask has shape {foreground.shape}, the grid covers "
                         f"{(grid.height, grid.width)}")
    padded = np.zeros(grid.padded_shape, dtype=np.int64)
    padded[: grid.height, : grid.width] = foreground
    table = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    y0 = np.arange(grid.n_rows)[:, None] * grid.stride
    x0 = np.arange(grid.n_cols)[None, :] * grid.stride
    y1, x1 = y0 + grid.window_size, x0 + grid.window_size
    inside = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
    return inside / grid.window_size**2
