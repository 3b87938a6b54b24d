"""Dataset preparation: phantoms are generated, a missing VinDr-Mammo root says how to get it."""

from __future__ import annotations

import pytest

from corrrelax_lib.data.sources import DatasetUnavailableError, prepare_dataset
from corrrelax_lib.paths import repository_root


def test_missing_vindr_root_explains_how_to_obtain_it(tmp_path):
    with pytest.raises(DatasetUnavailableError, match=r"missing \['finding_annotations.csv'.*CORRRELAX_DATA"):
        prepare_dataset("vindr-mammo", tmp_path, repository_root())


def test_phantom_root_is_ready_and_reused(tiny_data_root):
    before = (tiny_data_root / "finding_annotations.csv").stat().st_mtime_ns
    assert prepare_dataset("phantom-tiny", tiny_data_root, repository_root()) == tiny_data_root
    assert (tiny_data_root / "finding_annotations.csv").stat().st_mtime_ns == before
