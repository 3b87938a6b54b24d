"""Data-parallel training (DDP) pieces for :func:`corrrelax_lib.training.loop.fit`.

Every rank draws the same weighted sample of the epoch (it depends only on ``(seed, epoch)``) and
keeps every ``world_size``-th draw, with ``batch_size / world_size`` draws per step. The ranks'
batches of one step are then together exactly the single-process batch of that step, and since
DDP averages the ranks' gradients of their mean losses, one step is the single-process step
(up to floating-point summation order) for a model without batch statistics or dropout. BatchNorm
statistics stay per rank (plain DDP), and dropout masks differ from a single process.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Sampler

from corrrelax_lib.distributed.context import DistributedContext


class RankSampler(Sampler[int]):
    """This rank's share of a sampler whose draws are the same on every rank.

    Of ``N`` draws, the first ``(N // batch_size) * batch_size`` are kept (the single-process loader
    drops its last, partial batch), or, when ``N <= batch_size`` (one batch), the first multiple of
    ``world_size``; rank ``r`` iterates over every ``world_size``-th of them from ``r``. Loaded with
    :attr:`rank_batch_size` per step, every rank runs the same number of full steps.

    Args:
        sampler: the shared draws, e.g. :func:`~corrrelax_lib.data.crop_dataset.weighted_sampler`.
        rank, world_size: this process in the job.
        batch_size: the global batch size (``config.batch_size``), a multiple of ``world_size``.

    >>> list(RankSampler([5, 1, 4, 1, 3, 2, 9], 1, 2, batch_size=4))   # draws 5 1 4 1 | 3 2 9 (dropped)
    [1, 1]
    """

    def __init__(self, sampler: Iterable[int], rank: int, world_size: int, *, batch_size: int) -> None:
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} is not a multiple of world_size {world_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
        self.sampler, self.rank, self.world_size, self.batch_size = sampler, rank, world_size, batch_size

    @property
    def rank_batch_size(self) -> int:
        """Draws per step on each rank: ``batch_size / world_size``."""
        return self.batch_size // self.world_size

    def _kept(self, n_draws: int) -> int:
        if n_draws > self.batch_size:
            return n_draws // self.batch_size * self.batch_size
        return n_draws // self.world_size * self.world_size

    def __iter__(self) -> Iterator[int]:
        draws = list(self.sampler)
        return iter(draws[:self._kept(len(draws))][self.rank::self.world_size])

    def __len__(self) -> int:
        return self._kept(len(self.sampler)) // self.world_size  # type: ignore[arg-type]


def data_parallel(model: nn.Module, context: DistributedContext) -> nn.Module:
    """``model`` wrapped in :class:`DistributedDataParallel` in a job of several processes, else itself.

    The model must already be on ``context.device``; DDP broadcasts rank 0's parameters and buffers.
    Keep the unwrapped model for ``state_dict`` (no ``module.`` prefix) and evaluation.
    """
    if not context.is_distributed:
        return model
    device_ids = [context.local_rank] if context.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def sum_over_ranks(values: Iterable[float], context: DistributedContext, device: torch.device) -> list[float]:
    """Element-wise sums of per-rank ``values`` over all ranks (the values themselves for one process)."""
    values = list(values)
    if not context.is_distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()
