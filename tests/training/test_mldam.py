"""The MLDAM comparison on a few generated phantom crops: deterministic, scored, cached; saliency by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch

from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.data.phantom import PhantomConfig, write_phantom_dataset
from corrrelax_lib.data.vindr import finding_samples, read_finding_annotations
from corrrelax_lib.training.config import TrainingConfig
from corrrelax_lib.training.mldam import (
    ARMS,
    TABLE_COLUMNS,
    example_crops,
    finding_metrics,
    mldam_run_directory,
    run_mldam_experiment,
    train_mldam_arm,
)

CONFIG = TrainingConfig(backbone="small_cnn", labels=LABELS, dataset="phantom-mldam-test", crop_size=32,
                        epochs=2, batch_size=8, seed=1)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """3 phantom patients (12 small images): 16 training and 8 test samples, both splits with and without findings."""
    root = write_phantom_dataset(tmp_path_factory.mktemp("data") / "phantom",
                                 PhantomConfig(n_patients=3, test_fraction=0.34, image_height_range=(160, 180)))
    return root, finding_samples(read_finding_annotations(root / "finding_annotations.csv"))


@pytest.fixture(scope="module")
def experiment(data, tmp_path_factory):
    root, samples = data
    artifacts = tmp_path_factory.mktemp("artifacts")
    return artifacts, run_mldam_experiment(CONFIG, samples, root, artifacts)


def test_table_has_the_four_arms_and_metrics_in_unit_interval(experiment):
    _, result = experiment
    table = result.table
    assert list(table.index) == [arm.title for arm in ARMS]
    assert list(table.columns) == list(TABLE_COLUMNS)
    metrics = table.drop(columns="training_seconds")
    assert ((metrics >= 0) & (metrics <= 1) | metrics.isna()).all().all()
    # Only precision may be undefined, when no crop is predicted to show a finding (then recall is 0).
    assert metrics.drop(columns="precision").notna().all().all()
    assert (table.loc[table["precision"].isna(), "recall"] == 0).all()
    assert (table["training_seconds"] > 0).all()
    assert {run.arm.attention for run in result.runs.values()} == {False, True}
    assert all(len(run.history) == CONFIG.epochs for run in result.runs.values())


def test_a_second_call_loads_from_the_cache(experiment, data, monkeypatch):
    artifacts, first = experiment
    root, samples = data

    def no_training(*args, **kwargs):
        pytest.fail("retrained a finished arm")

    monkeypatch.setattr("corrrelax_lib.training.mldam.fit", no_training)
    again = run_mldam_experiment(CONFIG, samples, root, artifacts)
    pd.testing.assert_frame_equal(again.table, first.table)  # training seconds come from the saved history
    for arm in ARMS:
        directory = mldam_run_directory(artifacts, CONFIG, arm)
        assert (directory / "model.pt").is_file() and not (directory / "checkpoint.pt").exists()
        assert not list(directory.glob("*.part*"))


def test_training_is_deterministic_per_seed(experiment, data, tmp_path):
    _, first = experiment
    root, samples = data
    arm = ARMS[3]  # MLDAM with augmentation: every source of randomness
    again = train_mldam_arm(CONFIG, arm, samples, root, tmp_path)
    for name, tensor in first.runs[arm.title].model.state_dict().items():
        assert torch.equal(tensor, again.model.state_dict()[name]), name
    other = train_mldam_arm(dataclasses.replace(CONFIG, seed=2), arm, samples, root, tmp_path)
    assert other.directory != again.directory
    assert not torch.equal(other.model.head[-1].weight, again.model.head[-1].weight)


def test_example_crops_have_one_label_each(experiment):
    _, result = experiment
    images, label_indices, titles = example_crops(result, n_per_class=2)
    assert images.shape == (4, 3, 32, 32) and len(label_indices) == len(titles) == 4
    assert label_indices[2:] == [0, 0] and 0 not in label_indices[:2]  # findings first, then No Finding


def test_finding_metrics_by_hand():
    # Truth (finding?) = 1, 1, 0, 0; finding score = max over Mass, Calcification = 0.8, 0.3, 0.6, 0.1.
    targets = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0], [1, 0, 0]])
    probabilities = np.array([[0.9, 0.8, 0.1], [0.2, 0.3, 0.2], [0.7, 0.6, 0.0], [0.1, 0.1, 0.0]])
    metrics = finding_metrics(targets, probabilities, ["No Finding", "Mass", "Suspicious Calcification"])
    # Predicted positive: crops 0 and 2. TP = 1, FP = 1, FN = 1, TN = 1.
    assert metrics["accuracy"] == 0.5 and metrics["precision"] == 0.5 and metrics["recall"] == 0.5
    assert metrics["f1"] == 0.5 and metrics["support"] == 2
    assert metrics["roc_auc"] == 0.75  # positives (0.8, 0.3) above negatives (0.6, 0.1) in 3 of 4 pairs
