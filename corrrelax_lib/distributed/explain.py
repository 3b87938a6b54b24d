"""Per-image maps computed once, sharded across ranks: each rank writes its missing artifacts, then all wait.

The folder of a method's maps holds one checksummed artifact per image (see
:mod:`corrrelax_lib.io.artifacts`). A rank computes only the images of its shard
(:func:`~corrrelax_lib.distributed.sharding.shard`) whose artifact is missing, partial, corrupt or
made with other parameters, so a crashed or preempted run restarted with the same command
redoes only what was not finished, and every rank writes different files.

Several runs may share one folder (two ``corrrelax explain`` started on one machine, ``torchrun``
jobs on several nodes): a process computes an image only while it holds the image's claim
(:mod:`corrrelax_lib.io.claims`), so the runs split the images, each computed once. An image
claimed by a live process of another run is left to it; once through its list, a process waits
for those images, and computes one itself only if its owner gave up (failed, or was killed).
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from tqdm.auto import tqdm

from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.sharding import shard
from corrrelax_lib.io.artifacts import artifact_is_complete, artifact_problem, remove_partial_files, write_artifact
from corrrelax_lib.io.claims import try_claim


class SavesNpz(Protocol):
    """A per-image result that writes itself to one ``.npz`` (``CorrelaxMaps``, ``ClassHeatmaps``)."""

    def save(self, path: str | os.PathLike[str]) -> None: ...


class IdentifiedImage(Protocol):
    """An image this module shards and names artifacts by: anything with a unique ``image_id``
    (:class:`~corrrelax_lib.pipeline.annotated_images.AnnotatedImage`; distributed code sits below the pipeline)."""

    @property
    def image_id(self) -> str: ...


ImageT = TypeVar("ImageT", bound=IdentifiedImage)

#: Computes one image's result, e.g. ``lambda image: explainer.explain(image.image)``.
ExplainFn = Callable[[ImageT], SavesNpz]

#: How often a process that waits for images claimed by other processes looks again, seconds.
CLAIM_POLL_INTERVAL = 0.5


def artifact_path(directory: str | os.PathLike[str], image_id: str) -> Path:
    """``<directory>/<image_id>.npz``."""
    return Path(directory) / f"{image_id}.npz"


def image_parameters(parameters: Mapping[str, Any], image_id: str) -> dict[str, Any]:
    """What an image's sidecar records: the method's parameters and the image's identifier."""
    return {**parameters, "image_id": image_id}


def explain_missing(
    explain_fn: ExplainFn[ImageT], images: Sequence[ImageT], directory: str | os.PathLike[str],
    parameters: Mapping[str, Any], *, progress: bool = False, desc: str = "images",
) -> list[str]:
    """Compute and write the artifact of every image in ``images`` that is not complete; in this process.

    Each image is computed under its claim (:func:`~corrrelax_lib.io.claims.try_claim`), after the
    leftovers of its interrupted writes (``.part`` files no live process owns) are deleted. Images
    claimed by other live processes are skipped at first, then waited for (looking again every
    :data:`CLAIM_POLL_INTERVAL`): on return every image has a complete artifact.

    Returns:
        The ``image_id`` of every image computed here (the others were complete, or computed by another process).

    Raises:
        ~corrrelax_lib.io.artifacts.ArtifactWriteError: an artifact (or its claim) could not be written;
            the message names it.
    """
    computed: list[str] = []
    waiting = list(images)
    with tqdm(total=len(images), desc=desc, disable=not progress) as bar:
        while True:
            claimed_elsewhere = []
            for image in waiting:
                outcome = _explain_unless_claimed(explain_fn, image, Path(directory), parameters)
                if outcome is _Outcome.CLAIMED_ELSEWHERE:
                    claimed_elsewhere.append(image)
                    continue
                if outcome is _Outcome.COMPUTED:
                    computed.append(image.image_id)
                bar.update()
            if not claimed_elsewhere:
                return computed
            waiting = claimed_elsewhere
            time.sleep(CLAIM_POLL_INTERVAL)


class _Outcome(enum.Enum):
    """What :func:`_explain_unless_claimed` did with an image."""

    COMPUTED = "computed here"
    COMPLETE = "already complete"
    CLAIMED_ELSEWHERE = "claimed by another live process"


def _explain_unless_claimed(
    explain_fn: ExplainFn[ImageT], image: ImageT, directory: Path, parameters: Mapping[str, Any],
) -> _Outcome:
    """Make ``image``'s artifact complete unless another live process has claimed it; says which happened."""
    path = artifact_path(directory, image.image_id)
    expected = image_parameters(parameters, image.image_id)
    # A complete artifact needs no claim (nor a writable folder). Checked quietly: an artifact that looks
    # incomplete may be another process's write in progress; what is wrong with it is told under the claim.
    if artifact_problem(path, expected) is None:
        return _Outcome.COMPLETE
    claim = try_claim(path)
    if claim is None:
        return _Outcome.CLAIMED_ELSEWHERE
    with claim:
        remove_partial_files(path)
        if artifact_is_complete(path, expected, consequence="recomputed"):  # written by the previous owner
            return _Outcome.COMPLETE
        write_artifact(path, explain_fn(image).save, expected)
    return _Outcome.COMPUTED


def explain_shard(
    explain_fn: ExplainFn[ImageT], images: Sequence[ImageT], directory: str | os.PathLike[str],
    parameters: Mapping[str, Any], context: DistributedContext | None = None, *, progress: bool = False,
    desc: str = "images",
) -> list[str]:
    """This rank's share of :func:`explain_missing`, then a barrier: on return every image has its artifact.

    Other runs on the same folder share each shard's images through their claims (a rank of one job
    and the same rank of another split their shard).

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
