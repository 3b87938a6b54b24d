"""Per-image maps computed once, sharded across ranks: each rank writes its missing artifacts, then all wait.

The folder of a method's maps holds one checksummed artifact per image (see
:mod:`corrrelax_lib.io.artifacts`). A rank computes only the images of its shard
(:func:`~corrrelax_lib.distributed.sharding.shard`) whose artifact is missing, partial, corrupt or
made with other parameters, so a crashed or preempted run restarted with the same command
redoes only what was not finished, and every rank writes different files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.sharding import shard
from corrrelax_lib.io.artifacts import artifact_is_complete, remove_partial_files, write_artifact
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage


class SavesNpz(Protocol):
    """A per-image result that writes itself to one ``.npz`` (``CorrelaxMaps``, ``ClassHeatmaps``)."""

    def save(self, path: str | os.PathLike[str]) -> None: ...


#: Computes one image's result, e.g. ``lambda image: explainer.explain(image.image)``.
ExplainFn = Callable[[AnnotatedImage], SavesNpz]


def artifact_path(directory: str | os.PathLike[str], image_id: str) -> Path:
    """``<directory>/<image_id>.npz``."""
    return Path(directory) / f"{image_id}.npz"


def image_parameters(parameters: Mapping[str, Any], image_id: str) -> dict[str, Any]:
    """What an image's sidecar records: the method's parameters and the image's identifier."""
    return {**parameters, "image_id": image_id}


def explain_missing(
    explain_fn: ExplainFn, images: Sequence[AnnotatedImage], directory: str | os.PathLike[str],
    parameters: Mapping[str, Any], *, progress: bool = False, desc: str = "images",
) -> list[str]:
    """Compute and write the artifact of every image in ``images`` that is not complete; in this process.

    Leftovers of this image's interrupted writes (``.part`` files) are deleted first.

    Returns:
        The ``image_id`` of every image computed (the others were read as complete).
    """
    computed = []
    for image in tqdm(images, desc=desc, disable=not progress):
        path = artifact_path(directory, image.image_id)
        expected = image_parameters(parameters, image.image_id)
        remove_partial_files(path)
        if artifact_is_complete(path, expected):
            continue
        write_artifact(path, explain_fn(image).save, expected)
        computed.append(image.image_id)
    return computed


def explain_shard(
    explain_fn: ExplainFn, images: Sequence[AnnotatedImage], directory: str | os.PathLike[str],
    parameters: Mapping[str, Any], context: DistributedContext | None = None, *, progress: bool = False,
    desc: str = "images",
) -> list[str]:
    """This rank's share of :func:`explain_missing`, then a barrier: on return every image has its artifact.

    Args:
        explain_fn: one image's result (called only for images this rank computes).
        images: every image of the run, the same list on every rank (any order).
        directory: the method's artifact folder, shared by all ranks (on a filesystem every node sees).
        parameters: the method's parameters; each sidecar records them with the ``image_id``.
        context: this process in the job; default a single process.
        progress: a progress bar per rank, labelled ``desc`` (and the rank, in a job of several).

    Returns:
        The ``image_id`` of the images this rank computed.

    Example:
        >>> with DistributedContext.from_env() as context:   # doctest: +SKIP
        ...     explain_shard(lambda image: explainer.explain(image.image), images, directory,
        ...                   explainer.parameters, context)
    """
    context = context or DistributedContext()
    mine = shard(images, context.rank, context.world_size)
    if context.is_distributed:
        desc = f"{desc} (rank {context.rank}/{context.world_size})"
    computed = explain_missing(explain_fn, mine, directory, parameters, progress=progress, desc=desc)
    context.barrier()
    return computed
