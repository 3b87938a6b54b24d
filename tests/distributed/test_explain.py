"""Sharded CorRELAX maps: one process and two gloo processes under torchrun agree; crashes and corruption heal."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.explain import explain_missing, explain_shard, image_parameters
from corrrelax_lib.distributed.gather import MissingArtifactsError, read_artifacts
from corrrelax_lib.io.artifacts import CorruptArtifactWarning, write_artifact
from corrrelax_lib.testing.explain_job import PATCHES, run_job, synthetic_images, tiny_explainer
from corrrelax_lib.testing.torchrun import run_torchrun

IMAGE_IDS = sorted(PATCHES)
#: The shards of two ranks: round-robin over the sorted image ids.
SHARDS = {0: ["img0", "img2"], 1: ["img1", "img3"]}


def _explain_job(*job_args: str | Path):
    return run_torchrun("corrrelax_lib.testing.explain_job", *job_args)


def _computed(report: Path) -> dict[int, list[str]]:
    return {int(path.stem.removeprefix("rank")): json.loads(path.read_text()) for path in report.glob("rank*.json")}


def _partial_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if ".part" in path.name)


@pytest.fixture(scope="module")
def single_process(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """The job in this process (rank 0 of 1): its maps folder and Table 4."""
    root = tmp_path_factory.mktemp("single")
    computed = run_job(root / "maps", root / "table.csv", DistributedContext())
    assert computed == IMAGE_IDS
    return root / "maps", pd.read_csv(root / "table.csv", index_col=0)


def _assert_same_maps(directory: Path, reference: Path) -> None:
    for image_id in IMAGE_IDS:
        ours = CorrelaxMaps.load(directory / f"{image_id}.npz")
        theirs = CorrelaxMaps.load(reference / f"{image_id}.npz")
        for name in ("window_predictions", "window_rho_class", "window_rho_dist", "masks_used"):
            np.testing.assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=f"{image_id} {name}")


def test_single_process_table_has_hits_and_misses(single_process):
    _, table = single_process
    assert table.loc["a", "support"] == 4 and table.loc["b", "support"] == 2
    assert table.loc["a", "correlation > 0"] == 1.0 and table.loc["b", "correlation > 0"] == 0.5


def test_two_gloo_processes_share_the_images_and_give_the_single_process_table(single_process, tmp_path):
    reference_maps, reference_table = single_process
    result = _explain_job(tmp_path / "maps", tmp_path / "table.csv", "--report", tmp_path / "report")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _computed(tmp_path / "report") == SHARDS
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "table.csv", index_col=0), reference_table)
    _assert_same_maps(tmp_path / "maps", reference_maps)
    assert sorted(p.name for p in (tmp_path / "maps").iterdir()) == sorted(
        f"{image_id}.{suffix}" for image_id in IMAGE_IDS for suffix in ("json", "npz"))


def test_a_run_killed_midway_and_restarted_ends_with_the_same_table_and_no_partial_files(single_process, tmp_path):
    reference_maps, reference_table = single_process
    maps, table = tmp_path / "maps", tmp_path / "table.csv"
    # Rank 1 finishes img1, then dies half-way through writing img3; torchrun stops rank 0 too.
    killed = _explain_job(maps, table, "--report", tmp_path / "killed", "--crash-rank", "1", "--crash-after", "1")
    assert killed.returncode != 0
    assert not table.exists() and (maps / "img1.json").is_file() and not (maps / "img3.json").exists()
    assert any(name.startswith(".img3.") for name in _partial_files(maps))  # what the crash left
    restarted = _explain_job(maps, table, "--report", tmp_path / "restarted")
    assert restarted.returncode == 0, restarted.stderr[-3000:]
    computed = _computed(tmp_path / "restarted")
    assert computed[1] == ["img3"]  # img1 was finished before the crash and is not redone
    assert set(computed[0]) <= set(SHARDS[0])  # rank 0 redoes what it had not finished when it was stopped
    assert _partial_files(maps) == []
    pd.testing.assert_frame_equal(pd.read_csv(table, index_col=0), reference_table)
    _assert_same_maps(maps, reference_maps)


def test_a_corrupted_artifact_is_detected_by_its_checksum_and_recomputed(single_process, tmp_path):
    reference_maps, reference_table = single_process
    maps = tmp_path / "maps"
    shutil.copytree(reference_maps, maps)
    data = bytearray((maps / "img1.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (maps / "img1.npz").write_bytes(bytes(data))
    result = _explain_job(maps, tmp_path / "table.csv", "--report", tmp_path / "report")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "img1.npz: SHA-256 differs" in result.stderr
    assert _computed(tmp_path / "report") == {0: [], 1: ["img1"]}
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "table.csv", index_col=0), reference_table)
    _assert_same_maps(maps, reference_maps)


class _Counting:
    """An explain_fn over the tiny explainer that records which images it computed."""

    def __init__(self):
        self.explainer, self.seen = tiny_explainer(), []

    def __call__(self, image):
        self.seen.append(image.image_id)
        return self.explainer.explain(image.image, np.ones(image.image.shape[:2], dtype=bool))


def test_explain_missing_skips_complete_artifacts_and_redoes_mismatched_ones(tmp_path):
    images, explain_fn = synthetic_images(), _Counting()
    parameters = explain_fn.explainer.parameters
    assert explain_missing(explain_fn, images[:2], tmp_path, parameters) == ["img0", "img1"]
    assert explain_missing(explain_fn, images, tmp_path, parameters) == ["img2", "img3"]
    # img0's file says it was made for another image: recomputed, with a warning naming it.
    write_artifact(tmp_path / "img0.npz", explain_fn(images[1]).save, image_parameters(parameters, "img1"))
    explain_fn.seen.clear()
    with pytest.warns(CorruptArtifactWarning, match=r"img0\.npz: made with other parameters.*'image_id'"):
        assert explain_shard(explain_fn, images[::-1], tmp_path, parameters) == ["img0"]
    assert explain_fn.seen == ["img0"]


def test_read_artifacts_refuses_missing_images_naming_the_folder(tmp_path):
    images, explain_fn = synthetic_images(), _Counting()
    parameters = explain_fn.explainer.parameters
    explain_missing(explain_fn, images[:3], tmp_path, parameters)
    maps = read_artifacts(IMAGE_IDS[:3], tmp_path, parameters, CorrelaxMaps.load)
    assert list(maps) == IMAGE_IDS[:3] and all(isinstance(m, CorrelaxMaps) for m in maps.values())
    with pytest.raises(MissingArtifactsError, match=rf"{tmp_path}: 1 of 4 image\(s\).*'img3'"):
        read_artifacts(IMAGE_IDS, tmp_path, parameters, CorrelaxMaps.load)


def test_complete_artifacts_are_read_without_claiming_them(tmp_path, monkeypatch):
    # A folder of finished maps may be read-only (a shared copy): a run over it needs no claim, so writes nothing.
    images, explain_fn = synthetic_images(), _Counting()
    parameters = explain_fn.explainer.parameters
    explain_missing(explain_fn, images, tmp_path, parameters)
    monkeypatch.setattr("corrrelax_lib.distributed.explain.try_claim", lambda path: pytest.fail(f"claimed {path}"))
    assert explain_missing(explain_fn, images, tmp_path, parameters) == []
