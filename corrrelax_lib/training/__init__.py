"""Learn: the multi-label classifier's loss, training loop, checkpoints and cached runs (paper §3.3)."""
