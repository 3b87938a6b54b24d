"""Which images a rank computes: a deterministic round-robin over the sorted image identifiers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import pairwise
from typing import Any, TypeVar

T = TypeVar("T")


def image_id_of(item: Any) -> str:
    """``item.image_id`` (e.g. an :class:`~corrrelax_lib.pipeline.annotated_images.AnnotatedImage`)."""
    return item.image_id


def shard(items: Sequence[T], rank: int, world_size: int, *, key: Callable[[T], str] = image_id_of) -> list[T]:
    """The items of ``rank`` out of ``world_size``: sorted by ``key``, then every ``world_size``-th from ``rank``.

    The split depends only on the set of keys (not on the order the items come in, nor on the
    machine), so every rank of a run, and a restarted run, agrees on who computes what. Shards
    differ in size by at most one item and together hold every item once.

    Args:
        items: the work, e.g. the annotated test images.
        rank: this process, ``0 <= rank < world_size``.
        world_size: number of processes.
        key: a unique string per item (default: its ``image_id``).

    Raises:
        ValueError: a rank outside ``[0, world_size)``, or two items with one key.

    >>> shard(["c", "a", "d", "b", "e"], 1, 2, key=str)
    ['b', 'd']
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is not in [0, world_size={world_size})")
    ordered = sorted(items, key=key)
    keys = [key(item) for item in ordered]
    repeated = sorted({k for k, following in pairwise(keys) if k == following})
    if repeated:
        raise ValueError(f"items must have unique keys; repeated: {repeated[:5]}")
    return ordered[rank::world_size]
