"""Dataset preparation: phantoms are generated, a missing VinDr-Mammo root says how to get it."""

from __future__ import annotations

import shutil

import pytest

from corrrelax_lib.data.sources import DatasetUnavailableError, prepare_dataset


def test_missing_vindr_root_explains_how_to_obtain_it(tmp_path):
    with pytest.raises(DatasetUnavailableError, match=r"missing \['finding_annotations.csv'.*CORRRELAX_DATA"):
        prepare_dataset("vindr-mammo", tmp_path)


def test_phantom_root_is_ready_and_reused(tiny_data_root):
    before = (tiny_data_root / "finding_annotations.csv").stat().st_mtime_ns
    assert prepare_dataset("phantom-tiny", tiny_data_root) == tiny_data_root
    assert (tiny_data_root / "finding_annotations.csv").stat().st_mtime_ns == before


def test_stale_phantom_data_are_refused(tiny_data_root, tmp_path):
    stale = tmp_path / "phantom-tiny"
    stale.mkdir()
    for name in ("finding_annotations.csv", "breast-level_annotations.csv"):
        shutil.copy(tiny_data_root / name, stale / name)
    assert prepare_dataset("phantom-tiny", stale) == stale
    with (stale / "finding_annotations.csv").open("a") as csv:
        csv.write("\n")
    with pytest.raises(DatasetUnavailableError, match=r"do not match the sha256 .*delete the folder to regenerate"):
        prepare_dataset("phantom-tiny", stale)
