"""The warning about a corrupt artifact says what its caller does with it: recompute it, or report it missing."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from corrrelax_lib.distributed.explain import artifact_path, explain_missing
from corrrelax_lib.distributed.gather import MissingArtifactsError, read_artifacts
from corrrelax_lib.io.artifacts import CorruptArtifactWarning
from corrrelax_lib.pipeline.annotated_images import AnnotatedImage

PARAMETERS = {"n_masks": 16}
#: What the warning says of a flipped byte.
CORRUPT = r"one\.npz: SHA-256 differs from the one its sidecar records \(corrupt file\)"


class _Bytes:
    """A result that saves as fixed bytes."""

    def save(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_bytes(b"the maps of one image")


def _corrupt_artifact(directory: Path) -> list[AnnotatedImage]:
    images = [AnnotatedImage("study", "one", np.zeros((2, 2, 3), np.uint8), {})]
    explain_missing(lambda image: _Bytes(), images, directory, PARAMETERS)
    path = artifact_path(directory, "one")
    path.write_bytes(b"The maps of one image")
    return images


def test_reading_a_corrupt_artifact_warns_that_it_is_counted_missing_not_that_it_is_recomputed(tmp_path):
    images = _corrupt_artifact(tmp_path)
    with pytest.warns(CorruptArtifactWarning) as warned, pytest.raises(MissingArtifactsError):
        read_artifacts([image.image_id for image in images], tmp_path, PARAMETERS, Path.read_bytes)
    [message] = [str(warning.message) for warning in warned]
    assert "and recomputed" not in message  # evaluate recomputes nothing
    assert message.endswith("; counted as missing (the explain step recomputes it)")


def test_explaining_over_a_corrupt_artifact_warns_that_it_is_recomputed_and_does(tmp_path):
    images = _corrupt_artifact(tmp_path)
    with pytest.warns(CorruptArtifactWarning, match=rf"{CORRUPT}; recomputed$"):
        assert explain_missing(lambda image: _Bytes(), images, tmp_path, PARAMETERS) == ["one"]
    assert read_artifacts(["one"], tmp_path, PARAMETERS, Path.read_bytes) == {"one": b"the maps of one image"}
