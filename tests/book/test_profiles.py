"""Profiles: parameters, overrides and the data-root environment variable."""

from __future__ import annotations

import pytest

from corrrelax_lib.book.__main__ import parse_overrides
from corrrelax_lib.book.profiles import ARTIFACTS_ENV_VAR, DATA_ENV_VAR, load_profile
from corrrelax_lib.paths import repository_root


def test_tiny_profile_generates_phantoms_under_artifacts(monkeypatch):
    monkeypatch.delenv(DATA_ENV_VAR, raising=False)
    monkeypatch.delenv(ARTIFACTS_ENV_VAR, raising=False)
    profile = load_profile("tiny")
    assert profile.dataset == "phantom-tiny"
    assert profile.data_root == profile.artifacts_dir / "data" / "phantom-tiny"
    parameters = profile.notebook_parameters()
    assert parameters["profile"] == "tiny" and parameters["data_root"] == str(profile.data_root)
    relative = profile.notebook_parameters(relative_to=repository_root())
    assert relative["data_root"] == "artifacts/tiny/data/phantom-tiny"
    assert relative["results_dir"] == "artifacts/tiny/results"


def test_tiny_profile_ignores_a_data_root_meant_for_vindr(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    assert load_profile("tiny").data_root != tmp_path


def test_full_profile_has_the_papers_settings(monkeypatch, tmp_path):
    monkeypatch.setenv(DATA_ENV_VAR, str(tmp_path))
    profile = load_profile("full")
    assert profile.data_root == tmp_path
    expected = {"window_size": 256, "stride": 48, "n_masks": 2560, "mask_cells": 8, "keep_prob": 0.5,
                "epochs": 50, "batch_size": 48, "backbone": "efficientnet_v2_s", "crop_size": 256}
    assert {k: profile.parameters[k] for k in expected} == expected


def test_overrides_are_yaml_typed():
    overrides = parse_overrides([["seed", "3"], ["device", "cuda"], ["clahe_clip_limits", "[1.5, 3]"]])
    assert overrides == {"seed": 3, "device": "cuda", "clahe_clip_limits": [1.5, 3]}
    assert load_profile("tiny", overrides).parameters["seed"] == 3


def test_unknown_profile_lists_the_available_ones():
    with pytest.raises(FileNotFoundError, match=r"no profile 'huge'; available: \['full', 'tiny'\]"):
        load_profile("huge")


def test_every_profile_declares_the_same_parameters():
    names = [p.stem for p in (repository_root() / "book" / "profiles").glob("*.yml")]
    keys = {name: set(load_profile(name).parameters) for name in names}
    assert len(set(map(frozenset, keys.values()))) == 1, keys
