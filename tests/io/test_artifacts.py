import dataclasses
import json
import os
import time
import warnings

import numpy as np
import pytest

from corrrelax_lib.io.artifacts import (
    CorruptArtifactWarning,
    artifact_is_complete,
    file_sha256,
    remove_partial_files,
    sidecar_path,
    write_artifact,
)
from corrrelax_lib.io.owner import STALE_AFTER, Owner

PARAMETERS = {"image_id": "one", "n_masks": 16, "window_size": 16, "checkpoints": (4, 8)}


def _save_array(values):
    def save(path):
        with open(path, "wb") as handle:
            np.savez(handle, values=values)
    return save


def _is_complete_without_warning(path, parameters):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return artifact_is_complete(path, parameters, consequence="recomputed")


def test_written_artifact_is_complete_and_records_checksum_and_parameters(tmp_path):
    path = tmp_path / "one.npz"
    assert not _is_complete_without_warning(path, PARAMETERS)  # never computed: missing, silently
    write_artifact(path, _save_array(np.arange(5)), PARAMETERS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.json", "one.npz"]
    record = json.loads(sidecar_path(path).read_text())
    assert record["sha256"] == file_sha256(path) and record["size"] == path.stat().st_size
    assert record["parameters"]["checkpoints"] == [4, 8]  # as JSON reads it back
    assert _is_complete_without_warning(path, PARAMETERS)
    np.testing.assert_array_equal(np.load(path)["values"], np.arange(5))


def test_a_flipped_byte_fails_the_checksum(tmp_path):
    path = tmp_path / "one.npz"
    write_artifact(path, _save_array(np.arange(1000)), PARAMETERS)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.warns(CorruptArtifactWarning, match=r"one\.npz: SHA-256 differs"):
        assert not artifact_is_complete(path, PARAMETERS, consequence="recomputed")


def test_a_truncated_file_fails_on_its_size(tmp_path):
    path = tmp_path / "one.npz"
    write_artifact(path, _save_array(np.arange(1000)), PARAMETERS)
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.warns(CorruptArtifactWarning, match=r"one\.npz: size"):
        assert not artifact_is_complete(path, PARAMETERS, consequence="recomputed")


def test_other_parameters_mean_recompute_and_name_the_differing_key(tmp_path):
    path = tmp_path / "one.npz"
    write_artifact(path, _save_array(np.arange(5)), PARAMETERS)
    with pytest.warns(CorruptArtifactWarning, match=r"one\.npz: made with other parameters.*'n_masks'"):
        assert not artifact_is_complete(path, {**PARAMETERS, "n_masks": 32}, consequence="recomputed")


def test_npz_without_sidecar_or_unreadable_sidecar_is_incomplete(tmp_path):
    path = tmp_path / "one.npz"
    write_artifact(path, _save_array(np.arange(5)), PARAMETERS)
    sidecar_path(path).write_text("{not json")
    with pytest.warns(CorruptArtifactWarning, match=r"one\.npz: unreadable sidecar one\.json"):
        assert not artifact_is_complete(path, PARAMETERS, consequence="recomputed")
    sidecar_path(path).unlink()
    with pytest.warns(CorruptArtifactWarning, match=r"one\.npz: no sidecar one\.json"):
        assert not artifact_is_complete(path, PARAMETERS, consequence="recomputed")


def test_rewriting_replaces_the_sidecar_and_a_failed_save_leaves_no_sidecar(tmp_path):
    path = tmp_path / "one.npz"
    write_artifact(path, _save_array(np.arange(5)), PARAMETERS)

    def crash(tmp):
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_artifact(path, crash, PARAMETERS)
    # The old npz survives the failed rewrite, but without its sidecar it no longer counts as complete.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.npz"]
    with pytest.warns(CorruptArtifactWarning):
        assert not artifact_is_complete(path, PARAMETERS, consequence="recomputed")
    write_artifact(path, _save_array(np.arange(7)), PARAMETERS)
    assert _is_complete_without_warning(path, PARAMETERS)
    assert len(np.load(path)["values"]) == 7


def test_save_fn_that_writes_nothing_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(RuntimeError, match=r"one\.npz: save_fn wrote nothing"):
        write_artifact(tmp_path / "one.npz", lambda tmp: None, PARAMETERS)
    assert list(tmp_path.iterdir()) == []


def test_unserialisable_parameters_are_refused_before_writing(tmp_path):
    with pytest.raises(TypeError, match="JSON-serialisable"):
        write_artifact(tmp_path / "one.npz", _save_array(np.arange(5)), {"model": object()})
    assert list(tmp_path.iterdir()) == []


def test_leftover_part_files_are_ignored_and_only_the_artifacts_own_abandoned_ones_are_removed(tmp_path):
    path = tmp_path / "one.npz"
    here = Owner.current()
    killed = dataclasses.replace(here, started=here.started + 1).token  # this PID, another start: a PID reused
    elsewhere = dataclasses.replace(here, host="other-node").token
    # What killed processes leave: atomic_path's temporary, a nested one from an atomic save_fn, a sidecar's,
    # one from another node untouched for longer than STALE_AFTER, and one without owner (an older version's).
    leftovers = [tmp_path / f".one.{killed}~k3x9_a2b.part.npz",
                 tmp_path / f"..one.{killed}~k3x9_a2b.part.{killed}~q1w2e3r4.part.npz",
                 tmp_path / f".one.{killed}~zz00yy11.part.json", tmp_path / f".one.{elsewhere}~old00000.part.npz",
                 tmp_path / ".one.k3x9_a2b.part.npz"]
    # Files of live writers (this process; another node, recently), and files of other artifacts.
    live = [tmp_path / f".one.{here.token}~writing0.part.npz", tmp_path / f".one.{elsewhere}~writing1.part.npz"]
    others = [tmp_path / f".one.x.{killed}~k3x9_a2b.part.npz", tmp_path / "two.npz",
              tmp_path / f".onex.{killed}~k3x9_a2b.part.npz"]
    for file in leftovers + live + others:
        file.write_bytes(b"partial")
    long_ago = time.time() - STALE_AFTER - 60
    for file in leftovers[-2:]:
        os.utime(file, (long_ago, long_ago))
    assert not _is_complete_without_warning(path, PARAMETERS)  # a .part file is not the artifact
    write_artifact(path, _save_array(np.arange(5)), PARAMETERS)
    assert _is_complete_without_warning(path, PARAMETERS)
    assert remove_partial_files(path) == sorted(leftovers)
    assert sorted(os.listdir(tmp_path)) == sorted(["one.npz", "one.json", *(f.name for f in live + others)])
    assert remove_partial_files(tmp_path / "missing-folder" / "one.npz") == []
