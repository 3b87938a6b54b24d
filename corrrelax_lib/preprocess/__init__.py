"""Image preparation (paper §3.1): CLAHE fusion and breast region of interest."""

from corrrelax_lib.preprocess.clahe import apply_clahe, fuse_clahe
from corrrelax_lib.preprocess.roi import EmptyBreastError, boxes_to_roi, breast_mask, breast_roi

__all__ = ["EmptyBreastError", "apply_clahe", "boxes_to_roi", "breast_mask", "breast_roi", "fuse_clahe"]
