"""Read every image's verified artifact once all ranks are done (rank 0 builds the tables from them)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from corrrelax_lib.distributed.explain import artifact_path, image_parameters
from corrrelax_lib.io.artifacts import artifact_is_complete

T = TypeVar("T")


class MissingArtifactsError(FileNotFoundError):
    """Some images have no complete artifact: the explain step has not finished them."""


def read_artifacts(
    image_ids: Sequence[str], directory: str | os.PathLike[str], parameters: Mapping[str, Any],
    load_fn: Callable[[Path], T],
) -> dict[str, T]:
    """``{image_id: load_fn(<directory>/<image_id>.npz)}``, every artifact verified first.

    Args:
        image_ids: the images of the run, in the order of the returned dict.
        directory: the method's artifact folder.
        parameters: the method's parameters, as given to
            :func:`~corrrelax_lib.distributed.explain.explain_shard`.
        load_fn: reads one artifact, e.g. :meth:`CorrelaxMaps.load
            <corrrelax_lib.attribution.correlax_maps.CorrelaxMaps.load>`.

    Raises:
        MissingArtifactsError: an image's artifact is missing, partial, corrupt or made with
            other parameters (the message names the folder and the first images; a
            :class:`~corrrelax_lib.io.artifacts.CorruptArtifactWarning` says what is wrong with each
            artifact that is there).
    """
    paths = {image_id: artifact_path(directory, image_id) for image_id in image_ids}
    # Nothing is recomputed here: a corrupt artifact is reported, and the explain step recomputes it.
    missing = [image_id for image_id, path in paths.items()
               if not artifact_is_complete(path, image_parameters(parameters, image_id),
                                           consequence="counted as missing (the explain step recomputes it)")]
    if missing:
        raise MissingArtifactsError(
            f"{directory}: {len(missing)} of {len(paths)} image(s) have no complete artifact, e.g. {missing[:5]}; "
            "run the explain step (again) first")
    return {image_id: load_fn(path) for image_id, path in paths.items()}
