"""Clean-up of partial files removes only what no live process owns: never a write in progress."""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from corrrelax_lib.io.artifacts import artifact_problem, write_artifact
from corrrelax_lib.io.atomic import atomic_path
from corrrelax_lib.testing.processes import job_environment

PARAMETERS = {"image_id": "one", "n_masks": 16}


def _clean_up_in_another_process(path) -> str:
    """What another process's explain step does before writing ``path``; the files it removed."""
    code = ("import sys; from corrrelax_lib.io.artifacts import remove_partial_files; "
            "print([p.name for p in remove_partial_files(sys.argv[1])])")
    result = subprocess.run([sys.executable, "-c", code, str(path)], env=job_environment(), capture_output=True,
                            text=True, check=True)
    return result.stdout.strip()


def test_another_process_cleaning_up_during_a_write_leaves_the_temporary_file_alone(tmp_path):
    path = tmp_path / "one.npz"
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"half of it")
        assert _clean_up_in_another_process(path) == "[]"
        tmp.write_bytes(b"all of it")
    assert path.read_bytes() == b"all of it"


def test_another_process_cleaning_up_during_an_atomic_save_leaves_the_artifact_complete(tmp_path):
    path = tmp_path / "one.npz"

    def save(target):  # a save_fn that is atomic itself, as CorrelaxMaps.save: a nested temporary file
        with atomic_path(target) as nested, nested.open("wb") as handle:
            np.savez(handle, values=np.arange(5))
            assert _clean_up_in_another_process(path) == "[]"

    write_artifact(path, save, PARAMETERS)
    assert artifact_problem(path, PARAMETERS) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.json", "one.npz"]
