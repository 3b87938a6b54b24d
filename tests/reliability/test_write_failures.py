"""A write that fails (file-size limit, full disk, unwritable folder) raises one error naming the artifact
and leaves no partial file."""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from corrrelax_lib.testing.processes import job_command, job_environment

#: prctl(2) option and capability(7) number: drop a capability from the bounding set.
PR_CAPBSET_DROP, CAP_DAC_OVERRIDE = 24, 1


def _run(command: list[str], preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=job_environment(), capture_output=True, text=True, timeout=120,
                          preexec_fn=preexec_fn)


def _crashes_of_one_write(directory: Path, *options: str | int,
                          preexec_fn: Callable[[], None] | None = None) -> list[str]:
    result = _run(job_command("corrrelax_lib.testing.write_job", directory, "--writes", 1, "--artifacts", 1,
                              *options), preexec_fn)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)["crashes"]


def test_a_file_size_limit_while_writing_the_npz_names_the_artifact_and_leaves_nothing(tmp_path):
    crashes = _crashes_of_one_write(tmp_path, "--size", 100_000, "--file-size-limit", 50_000)
    assert crashes == [f"ArtifactWriteError: [Errno 27] cannot write artifact {tmp_path}/artifact0.npz: "
                       "File too large"]
    assert list(tmp_path.iterdir()) == []


def test_a_file_size_limit_while_writing_the_sidecar_names_the_artifact_and_leaves_nothing(tmp_path):
    # The 10-byte npz fits under the limit, its sidecar (parameters, checksum: about 150 bytes) does not.
    crashes = _crashes_of_one_write(tmp_path, "--size", 10, "--file-size-limit", 100)
    assert crashes == [f"ArtifactWriteError: [Errno 27] cannot write artifact {tmp_path}/artifact0.npz "
                       "(its sidecar artifact0.json): File too large"]
    assert list(tmp_path.iterdir()) == []  # not even the npz: without its sidecar it is only part of an artifact


@pytest.fixture
def read_only_folder(tmp_path) -> Iterator[tuple[Path, Callable[[], None] | None]]:
    """A folder with mode ``r-x``, and what makes a child process obey it (``preexec_fn``).

    Root ignores file modes (``CAP_DAC_OVERRIDE``): as root, the child drops that capability from its
    bounding set before it executes, so that the job runs as a root without it.
    """
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    preexec_fn = None
    if os.geteuid() == 0:
        prctl = ctypes.CDLL(None, use_errno=True).prctl

        def preexec_fn() -> None:
            if prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_DAC_OVERRIDE)")

        try:
            _run(["true"], preexec_fn)
        except subprocess.SubprocessError:
            pytest.skip("root cannot drop CAP_DAC_OVERRIDE here: a read-only folder would not stop its writes")
    yield folder, preexec_fn
    folder.chmod(0o755)


def test_a_read_only_folder_names_the_artifact_and_leaves_nothing(read_only_folder):
    folder, preexec_fn = read_only_folder
    crashes = _crashes_of_one_write(folder, preexec_fn=preexec_fn)
    assert crashes == [f"ArtifactWriteError: [Errno 13] cannot write artifact {folder}/artifact0.npz: "
                       "Permission denied"]
    assert list(folder.iterdir()) == []


def test_explaining_into_a_read_only_folder_names_the_first_artifact(read_only_folder, tmp_path):
    folder, preexec_fn = read_only_folder
    result = _run(job_command("corrrelax_lib.testing.explain_job", folder, tmp_path / "table.csv"), preexec_fn)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        f"corrrelax_lib.io.artifacts.ArtifactWriteError: [Errno 13] cannot write artifact {folder}/img0.npz "
        "(its claim .img0.claim): Permission denied")
    assert list(folder.iterdir()) == []
