"""Classifiers (paper §3.3): torchvision backbones with the paper's multi-label head."""
