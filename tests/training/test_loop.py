"""A few epochs on phantom crops: the loss drops, an interrupted run resumes to the same weights."""

from __future__ import annotations

import pytest
import torch

from corrrelax_lib.data.vindr import finding_samples, read_finding_annotations
from corrrelax_lib.training.config import TrainingConfig
from corrrelax_lib.training.focal_loss import focal_loss
from corrrelax_lib.training.loop import fit
from corrrelax_lib.training.predict import predict_logits
from corrrelax_lib.training.run import build_model, crop_datasets, evaluate_classifier, train_classifier

LABELS = ("No Finding", "Mass", "Suspicious Calcification")


@pytest.fixture(scope="module")
def samples(tiny_data_root):
    """A small subset: up to 4 samples per split and first label, of three labels."""
    frame = finding_samples(read_finding_annotations(tiny_data_root / "finding_annotations.csv"))
    frame = frame[frame["labels"].map(lambda labels: labels[0] in LABELS)].copy()
    frame["labels"] = frame["labels"].map(lambda labels: tuple(lb for lb in labels if lb in LABELS))
    first_label = frame["labels"].map(lambda labels: labels[0])
    return frame.groupby([frame["split"], first_label], group_keys=False).head(4).reset_index(drop=True)


def config(epochs: int) -> TrainingConfig:
    return TrainingConfig(backbone="small_cnn", labels=LABELS, dataset="phantom-tiny", crop_size=32,
                          epochs=epochs, batch_size=8, learning_rate=3e-3, seed=3)


def mean_loss(model, dataset, cfg) -> float:
    logits = torch.from_numpy(predict_logits(model, dataset, batch_size=32))
    return focal_loss(logits, torch.from_numpy(dataset.targets).float(), alpha=cfg.focal_alpha,
                      gamma=cfg.focal_gamma, alpha_form=cfg.focal_alpha_form).item()


def test_a_few_epochs_lower_the_loss(samples, tiny_data_root, tmp_path):
    cfg = TrainingConfig(**{**config(epochs=20).__dict__, "batch_size": 4})
    train_set, _ = crop_datasets(samples, tiny_data_root, tmp_path, cfg)
    train_set.augmentation = None  # score on the same crops before and after
    train_set.set_epoch(0)
    model = build_model(cfg)
    before = mean_loss(model, train_set, cfg)
    history = fit(model, train_set, cfg, tmp_path / "checkpoint.pt", progress=False)
    train_set.set_epoch(0)
    after = mean_loss(model, train_set, cfg)
    assert after < 0.9 * before
    assert history["train_loss"].iloc[-3:].mean() < history["train_loss"].iloc[:3].mean()
    assert list(history["epoch"]) == list(range(1, 21))
    assert history["learning_rate"].is_monotonic_decreasing


def test_resume_after_interruption_gives_the_same_weights(samples, tiny_data_root, tmp_path):
    cfg = config(epochs=2)
    train_set, _ = crop_datasets(samples, tiny_data_root, tmp_path, cfg)
    uninterrupted = build_model(cfg)
    fit(uninterrupted, train_set, cfg, tmp_path / "a.pt", progress=False)

    def interrupt(epoch, history):
        raise KeyboardInterrupt

    interrupted = build_model(cfg)
    with pytest.raises(KeyboardInterrupt):
        fit(interrupted, train_set, cfg, tmp_path / "b.pt", progress=False, on_epoch_end=interrupt)
    resumed = build_model(cfg)  # a fresh process: only the checkpoint survives
    history = fit(resumed, train_set, cfg, tmp_path / "b.pt", progress=False)
    assert len(history) == 2
    for name, tensor in uninterrupted.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


def test_a_finished_run_is_reused_and_a_changed_parameter_retrains(samples, tiny_data_root, tmp_path):
    cfg = config(epochs=1)
    run = train_classifier(cfg, samples, tiny_data_root, tmp_path, progress=False)
    assert (run.directory / "model.pt").is_file() and not (run.directory / "checkpoint.pt").exists()
    assert not list(run.directory.glob("*.part*"))
    again = train_classifier(cfg, samples, tiny_data_root, tmp_path, progress=False,
                             on_epoch_end=lambda *_: pytest.fail("retrained an unchanged config"))
    assert again.directory == run.directory
    other = train_classifier(TrainingConfig(**{**cfg.__dict__, "seed": 4}), samples, tiny_data_root, tmp_path,
                             progress=False)
    assert other.directory != run.directory
    evaluation = evaluate_classifier(run, samples, tiny_data_root, tmp_path)
    assert evaluation.probabilities.shape == (int((samples["split"] == "test").sum()), len(LABELS))
    assert list(evaluation.table.index) == list(LABELS)
