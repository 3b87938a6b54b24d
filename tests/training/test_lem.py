"""LEM training (Zhu et al. 2025, Eq. 6–8, Algorithm 1): the sparse loss by hand, the GAP → LEM schedule,
and a 2-epoch run on a few generated phantoms: deterministic, written atomically, loaded the second time."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from corrrelax_lib.config import load_study_config
from corrrelax_lib.data.phantom import PhantomConfig, write_phantom_dataset
from corrrelax_lib.data.vindr import findings_sha256
from corrrelax_lib.paths import profile_path
from corrrelax_lib.training import lem
from corrrelax_lib.training.lem import (
    LEMConfig,
    LEMRun,
    image_targets,
    lem_loss,
    lem_run_directory,
    mixing_weight,
    sparse_loss,
    study_lem_config,
    train_lem,
)

LABELS = ("Mass", "Suspicious Calcification")

# One class, a 1 × 5 map: 3 is a positive maximum, -2 a negative minimum; 1 and 0.5 are neither, and -0.25
# is a maximum that is not positive: the three are plain points.
SCORES = torch.tensor([[[[3.0, 1.0, 0.5, -2.0, -0.25]]]])


def test_sparse_loss_by_hand() -> None:
    # Penalty with ε = 0.5: plain points exceed it by 0, 0.5 and 0 → 0.5 / 5 positions = 0.1, times λ = 3.
    # Elimination: with the label the wrong extremum is the minimum, |-2| / 5 = 0.4; without it the maximum, 3 / 5.
    with_label = sparse_loss(SCORES, torch.ones(1, 1), penalty_factor=3.0, threshold=0.5)
    without_label = sparse_loss(SCORES, torch.zeros(1, 1), penalty_factor=3.0, threshold=0.5)
    assert with_label.item() == pytest.approx(0.4 + 3 * 0.1)
    assert without_label.item() == pytest.approx(0.6 + 3 * 0.1)


def test_sparse_loss_is_zero_on_a_sparse_map_with_the_right_extrema() -> None:
    # Positive maxima 4 and 0.02; the other points are within ε = 0.1 and no minimum is negative.
    sparse_map = torch.tensor([[[[0.05, 4.0, 0.1, 0.0, 0.02]]]])
    assert sparse_loss(sparse_map, torch.ones(1, 1), threshold=0.1).item() == 0.0
    # Without the label both maxima are wrong: (4 + 0.02) / 5.
    assert sparse_loss(sparse_map, torch.zeros(1, 1), threshold=0.1).item() == pytest.approx(4.02 / 5)


def test_sparse_loss_is_non_negative_and_pulls_scores_into_the_band() -> None:
    torch.manual_seed(0)
    scores = (3 * torch.randn(4, 3, 6, 5)).requires_grad_(True)
    targets = (torch.rand(4, 3) < 0.5).float()
    loss = sparse_loss(scores, targets, threshold=0.2)
    assert loss.item() >= 0
    loss.backward()
    # A gradient step shrinks |S| wherever the loss acts and never pushes a score outwards.
    assert (scores.grad * scores.detach() >= 0).all()


def test_lem_loss_mixes_gap_and_lem_by_alpha() -> None:
    config = LEMConfig(backbone="small_cnn", labels=("Mass",), dataset="x", sparse_weight=0.0)
    targets = torch.ones(1, 1)
    gap, parts = lem_loss(SCORES, targets, 0.0, config)
    mixed, _ = lem_loss(SCORES, targets, 0.25, config)
    assert gap.item() == pytest.approx(parts["gap_bce"])
    assert mixed.item() == pytest.approx(0.75 * parts["gap_bce"] + 0.25 * parts["lem_bce"])
    # LEM logit 3 + (-2) = 1; GAP logit = mean score 0.45.
    assert parts["lem_bce"] == pytest.approx(torch.nn.functional.softplus(torch.tensor(-1.0)).item())
    assert parts["gap_bce"] == pytest.approx(torch.nn.functional.softplus(torch.tensor(-0.45)).item())


def test_gap_warm_up_then_lem() -> None:
    assert [mixing_weight(epoch, gap_epochs=3, ramp_epochs=0) for epoch in range(5)] == [0, 0, 0, 1, 1]
    assert [mixing_weight(epoch, gap_epochs=1, ramp_epochs=1) for epoch in range(4)] == [0, 0.5, 1, 1]


def test_image_targets_are_the_labels_of_any_box_on_the_image() -> None:
    samples = pd.DataFrame({
        "study_id": ["s", "s", "s", "t"], "image_id": ["a", "a", "b", "c"], "split": ["training"] * 3 + ["test"],
        "labels": [("Mass",), ("Retractions", "Suspicious Calcification"), ("No Finding",), ("Mass",)],
    })
    targets = image_targets(samples, LABELS)
    assert targets["image_id"].tolist() == ["a", "b", "c"]
    assert targets[list(LABELS)].to_numpy().tolist() == [[1, 1], [0, 0], [1, 0]]
    assert targets["split"].tolist() == ["training", "training", "test"]


def test_study_config_reads_the_lem_section() -> None:
    study = load_study_config(profile_path("tiny"), {"lem.epochs": 12, "lem.image_size": [256, 160], "seed": 1})
    config = study_lem_config(study, "abc")
    assert config.image_size == (256, 160) and config.epochs == 12 and config.data_fingerprint == "abc"
    assert config.seed == 1 and config.backbone == study.lem.backbone
    assert "No Finding" not in config.labels and len(config.labels) == 7
    assert LEMConfig.from_dict(config.as_dict()) == config


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight small phantom mammograms (2 patients × 4 views) in the VinDr-Mammo layout."""
    config = PhantomConfig(seed=5, n_patients=2, test_fraction=0.0, image_height_range=(160, 200))
    return write_phantom_dataset(tmp_path_factory.mktemp("phantom") / "root", config, workers=1)


def tiny_config(data_root: Path, **changes: object) -> LEMConfig:
    config = LEMConfig(backbone="small_cnn", labels=LABELS, dataset="phantom-small",
                       data_fingerprint=findings_sha256(data_root), image_height=64, image_width=48, epochs=2,
                       gap_epochs=1, ramp_epochs=0, batch_size=4, learning_rate=3e-3, sparse_weight=0.1, seed=7)
    return dataclasses.replace(config, **changes)


@pytest.fixture(scope="module")
def finished_run(data_root: Path, tmp_path_factory: pytest.TempPathFactory) -> LEMRun:
    """Two epochs of :func:`tiny_config`, trained once for the module."""
    return train_lem(tiny_config(data_root), data_root, tmp_path_factory.mktemp("artifacts"))


def test_two_epochs_are_written_atomically_and_follow_the_schedule(finished_run: LEMRun) -> None:
    config = finished_run.config
    assert finished_run.directory == lem_run_directory(finished_run.directory.parents[1], config)
    assert sorted(path.name for path in finished_run.directory.iterdir()) == ["config.json", "history.csv", "model.pt"]
    assert json.loads((finished_run.directory / "config.json").read_text()) == config.as_dict()
    assert pd.read_csv(finished_run.directory / "history.csv")["epoch"].tolist() == [1, 2]
    assert finished_run.history["alpha"].tolist() == [0.0, 1.0]  # one GAP epoch, then LEM
    assert (finished_run.history["sparse"] >= 0).all() and finished_run.training_seconds > 0
    assert not finished_run.model.training


def test_the_same_seed_gives_the_same_weights_and_a_finished_run_is_loaded(
    finished_run: LEMRun, data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    again = train_lem(finished_run.config, data_root, tmp_path)  # another folder: trained anew
    for name, tensor in finished_run.model.state_dict().items():
        assert torch.equal(tensor, again.model.state_dict()[name]), name
    monkeypatch.setattr(lem, "_fit", lambda *args: pytest.fail("retrained a finished run"))
    loaded = train_lem(finished_run.config, data_root, tmp_path)
    assert loaded.config == finished_run.config and loaded.history.equals(again.history)
    assert lem_run_directory(tmp_path, tiny_config(data_root, seed=8)) != again.directory


def test_an_interrupted_run_resumes_to_the_same_weights(
    finished_run: LEMRun, data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    one_epoch = lem._train_one_epoch

    def cut_off_in_the_second_epoch(model, dataset, config, epoch, *rest):
        if epoch == 1:
            raise KeyboardInterrupt
        return one_epoch(model, dataset, config, epoch, *rest)

    with monkeypatch.context() as patch:
        patch.setattr(lem, "_train_one_epoch", cut_off_in_the_second_epoch)
        with pytest.raises(KeyboardInterrupt):
            train_lem(finished_run.config, data_root, tmp_path)
    directory = lem_run_directory(tmp_path, finished_run.config)
    assert (directory / "checkpoint.pt").is_file() and not (directory / "model.pt").exists()
    resumed = train_lem(finished_run.config, data_root, tmp_path)  # a fresh call: only the checkpoint survives
    assert resumed.history["epoch"].tolist() == [1, 2]
    for name, tensor in finished_run.model.state_dict().items():
        assert torch.equal(tensor, resumed.model.state_dict()[name]), name
