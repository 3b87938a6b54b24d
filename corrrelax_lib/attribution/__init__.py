"""Explain: attribution methods, one per module, each returning per-class maps in ROI pixels."""
