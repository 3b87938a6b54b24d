"""Explain: the sliding-window grid over the ROI, the IoU kernel (Eq. 5–10) and map reconstruction."""

from corrrelax_lib.windows.grid import WindowGrid, foreground_fraction, window_grid
from corrrelax_lib.windows.kernel import box_iou, iou_kernel
from corrrelax_lib.windows.reconstruction import smooth_window_map, window_map_to_pixels

__all__ = [
    "WindowGrid",
    "box_iou",
    "foreground_fraction",
    "iou_kernel",
    "smooth_window_map",
    "window_grid",
    "window_map_to_pixels",
]
