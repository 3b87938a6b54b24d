"""Results log and the generated reproduction-status page."""

from __future__ import annotations

import importlib.metadata

import numpy as np

from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.results import ResultLog, load_results
from corrrelax_lib.book.status import render_status_page
from corrrelax_lib.config import load_study_config
from corrrelax_lib.environment import recorded_environment
from corrrelax_lib.paths import profile_path


def test_record_replaces_and_round_trips(tmp_path):
    log = ResultLog(tmp_path, "02_dataset")
    log.record("Table 1", "Mass (training)", np.int64(40), 989)
    log.record("Table 1", "Mass (training)", np.int64(41), 989)
    log.record("§3.1", "ratio", np.float32(0.5), None, "note")
    loaded = load_results(tmp_path)["02_dataset"]
    assert [(e.quantity, e.ours, e.paper) for e in loaded] == [("Mass (training)", 41, 989), ("ratio", 0.5, None)]


def test_status_page_shows_ours_beside_paper(tmp_path):
    ResultLog(tmp_path, "02_dataset").record("Table 1", "Mass (training)", 41, 989)
    page = render_status_page(load_study_config(profile_path("tiny")), load_results(tmp_path))
    assert "| Table 1 | Mass (training) | 41 | 989 |  |" in page
    assert "synthetic phantoms" in page


def test_status_page_records_the_environment(tmp_path):
    environment = recorded_environment(tmp_path)  # tmp_path is no git checkout
    page = render_status_page(load_study_config(profile_path("tiny")), {}, environment)
    assert "| Git commit | `not a git checkout` |" in page
    assert f"| torch | `{importlib.metadata.version('torch')}` |" in page
    assert "| Python |" in page
    assert "| Device | `CPU only" in page or "| Device | `CUDA" in page
    assert "| numpy |" in page and "| torchvision |" in page


def test_phantom_datasets_are_labelled_synthetic():
    assert dataset_label("phantom-tiny") == "phantom-tiny, SYNTHETIC"
    assert dataset_label("vindr-mammo") == "vindr-mammo"
    assert "SYNTHETIC" in dataset_banner("phantom-tiny") and "SYNTHETIC" not in dataset_banner("vindr-mammo")
