"""This process's place in a ``torchrun`` job: rank, world size, device, and the process group.

``torchrun --nproc_per_node N`` (or ``python -m torch.distributed.run``) starts ``N`` copies of a
command per node and tells each its place through ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (and
``MASTER_ADDR`` / ``MASTER_PORT`` for the rendezvous). Without them the process is the whole job:
rank 0 of 1, no process group, and :meth:`DistributedContext.barrier` does nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType

import torch
import torch.distributed as dist

#: How long a rank waits at a barrier for the others. Shards of CorRELAX maps are uneven (an image's
#: cost grows with its breast area), so a rank that finishes early may wait hours for the slowest one.
DEFAULT_TIMEOUT = timedelta(hours=24)

_ENV_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass(frozen=True)
class DistributedContext:
    """One process of a job of ``world_size`` processes.

    Attributes:
        rank: this process, ``0 .. world_size - 1`` over all nodes.
        world_size: processes in the job.
        local_rank: this process on its node (picks its GPU).
        backend: ``"nccl"`` (GPUs) or ``"gloo"`` (CPU); see :meth:`from_env`.
        timeout: how long collectives (barriers) wait, see :data:`DEFAULT_TIMEOUT`.

    Example:
        >>> with DistributedContext.from_env() as context:   # doctest: +SKIP
        ...     mine = shard(images, context.rank, context.world_size)
        ...     ...
        ...     context.barrier()
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str = "gloo"
    timeout: timedelta = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        if self.world_size < 1 or not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is not in [0, world_size={self.world_size})")
        if self.local_rank < 0:
            raise ValueError(f"local_rank must be >= 0, got {self.local_rank}")
        if self.backend not in ("nccl", "gloo"):
            raise ValueError(f"backend must be 'nccl' or 'gloo', got {self.backend!r}")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, backend: str | None = None,
        timeout: timedelta = DEFAULT_TIMEOUT,
    ) -> DistributedContext:
        """The context ``torchrun`` describes in ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``.

        Args:
            environ: the environment (default ``os.environ``).
            backend: ``"nccl"`` or ``"gloo"``; default ``"nccl"`` when CUDA is available, else ``"gloo"``.
            timeout: see :data:`DEFAULT_TIMEOUT`.

        Raises:
            ValueError: only some of the three variables are set, or they are not consistent integers.
        """
        environ = os.environ if environ is None else environ
        present = [name for name in _ENV_VARIABLES if name in environ]
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        if not present:
            return cls(backend=backend, timeout=timeout)
        if len(present) != len(_ENV_VARIABLES):
            missing = [name for name in _ENV_VARIABLES if name not in environ]
            raise ValueError(f"torchrun environment is incomplete: {missing} unset while {present} are set")
        try:
            rank, world_size, local_rank = (int(environ[name]) for name in _ENV_VARIABLES)
        except ValueError as error:
            raise ValueError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers: {error}") from error
        return cls(rank, world_size, local_rank, backend, timeout)

    @property
    def is_distributed(self) -> bool:
        """More than one process: collectives are needed."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes shared files (tables, checkpoints)."""
        return self.rank == 0

    @property
    def device(self) -> torch.device:
        """``cuda:<local_rank>`` with the nccl backend, else the CPU."""
        return torch.device("cuda", self.local_rank) if self.backend == "nccl" else torch.device("cpu")

    def init_process_group(self) -> None:
        """Join the job's process group (rendezvous at ``MASTER_ADDR:MASTER_PORT``); nothing for one process."""
        if not self.is_distributed or dist.is_initialized():
            return
        if self.backend == "nccl":
            torch.cuda.set_device(self.device)
        dist.init_process_group(self.backend, rank=self.rank, world_size=self.world_size, timeout=self.timeout)

    def barrier(self) -> None:
        """Wait until every rank gets here (no-op for one process)."""
        if not self.is_distributed:
            return
        if not dist.is_initialized():
            raise RuntimeError(f"rank {self.rank}: barrier before init_process_group")
        dist.barrier(device_ids=[self.local_rank] if self.backend == "nccl" else None)

    def destroy(self) -> None:
        """Leave the process group, if this process joined one."""
        if self.is_distributed and dist.is_initialized():
            dist.destroy_process_group()

    def __enter__(self) -> DistributedContext:
        self.init_process_group()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None,
    ) -> None:
        self.destroy()
