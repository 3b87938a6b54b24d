"""Run on several processes: torchrun ranks, images sharded across them, DDP training."""
