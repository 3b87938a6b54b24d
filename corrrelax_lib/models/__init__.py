"""Classifiers (paper §3.3): torchvision backbones with the paper's multi-label head, and the device and mixed
precision they run on (``device``, shared by training and attribution)."""
