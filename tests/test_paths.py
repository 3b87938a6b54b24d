"""Paths resolve against the checkout or the environment, never against the working directory."""

from __future__ import annotations

import pytest

from corrrelax_lib.paths import (
    ARTIFACTS_ENV_VAR,
    artifacts_root,
    checkout_root,
    manifest_path,
    profile_path,
    repository_root,
    resource_dir,
)


def test_in_a_checkout_resources_are_the_checkouts_folders(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    root = checkout_root()
    assert root is not None and root == repository_root()
    assert resource_dir("profiles") == root / "book" / "profiles"
    assert profile_path("tiny") == root / "book" / "profiles" / "tiny.yml"
    assert manifest_path("vindr-mammo") == root / "data_manifests" / "vindr-mammo.yml"


def test_an_unknown_profile_lists_the_available_ones():
    with pytest.raises(FileNotFoundError, match=r"no profile 'huge'; available: \['as-run', 'full', 'tiny'\]"):
        profile_path("huge")


def test_artifacts_go_to_the_variable_else_the_checkout(monkeypatch, tmp_path):
    monkeypatch.setenv(ARTIFACTS_ENV_VAR, str(tmp_path / "elsewhere"))
    assert artifacts_root() == tmp_path / "elsewhere"
    monkeypatch.delenv(ARTIFACTS_ENV_VAR)
    monkeypatch.chdir(tmp_path)
    assert artifacts_root() == repository_root() / "artifacts"
