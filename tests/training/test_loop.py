"""A few epochs on phantom crops: the loss drops, an interrupted run resumes to the same weights; the options
where the authors' code differs from the paper (loss reduction, weight decay, sampler rule, augmentation,
normalisation, head bias, preprocessing) reach the loop, the datasets and the saved model."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torchvision.transforms import v2

from corrrelax_lib.config import ImagePreprocessing
from corrrelax_lib.data import crop_dataset
from corrrelax_lib.data.image_store import default_cache_dir
from corrrelax_lib.data.vindr import finding_samples, read_finding_annotations
from corrrelax_lib.testing.train_job import TinyCrops, tiny_classifier, tiny_config
from corrrelax_lib.training import loop
from corrrelax_lib.training.checkpoint import load_checkpoint
from corrrelax_lib.training.config import TrainingConfig
from corrrelax_lib.training.focal_loss import focal_loss
from corrrelax_lib.training.loop import batch_loss, fit
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


def test_a_summed_loss_has_n_times_c_the_gradient_of_the_mean():
    logits = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    targets = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0]])
    gradients = {}
    for reduction, world_size in (("mean", 1), ("sum", 1), ("sum", 2)):
        terms = focal_loss(logits, targets, alpha=0.8, gamma=2.0, reduction="none")
        (gradients[reduction, world_size],) = torch.autograd.grad(batch_loss(terms, reduction, world_size), logits)
    torch.testing.assert_close(gradients["sum", 1], 12 * gradients["mean", 1])
    # Under DDP each rank holds half the batch and DDP averages: times the world size, the batch's sum again.
    torch.testing.assert_close(gradients["sum", 2], 2 * gradients["sum", 1])
    with pytest.raises(ValueError, match="reduction"):
        batch_loss(terms, "none")  # type: ignore[arg-type]


def _tiny_fit(tmp_path, name: str, **options) -> tuple[dict[str, torch.Tensor], dict]:
    """Three epochs of the tiny linear job with ``options``; the final weights and the checkpoint."""
    model = tiny_classifier()
    fit(model, TinyCrops(), replace(tiny_config(), **options), tmp_path / f"{name}.pt", progress=False)
    return model.state_dict(), load_checkpoint(tmp_path / f"{name}.pt")


def test_adam_ignores_the_reduction_unless_weight_decay_weighs_against_it(tmp_path):
    """Adam normalises the gradient's scale: sum and mean train alike. Its L2 decay is added to the gradient,
    so under a sum (N·C times the gradient) the same decay pulls N·C times less: then they differ."""
    mean, _ = _tiny_fit(tmp_path, "mean")
    summed, _ = _tiny_fit(tmp_path, "sum", focal_reduction="sum")
    for name, tensor in mean.items():
        torch.testing.assert_close(summed[name], tensor, rtol=0, atol=2e-5)
    decayed_mean, checkpoint = _tiny_fit(tmp_path, "decayed-mean", weight_decay=0.1)
    decayed_sum, _ = _tiny_fit(tmp_path, "decayed-sum", weight_decay=0.1, focal_reduction="sum")
    assert checkpoint["optimizer"]["param_groups"][0]["weight_decay"] == 0.1
    assert (decayed_mean["1.weight"] - decayed_sum["1.weight"]).abs().max() > 1e-3
    # The decay shrinks the weights of the mean-loss run the most.
    assert decayed_mean["1.weight"].norm() < decayed_sum["1.weight"].norm()
    # History: the mean focal loss per crop and label, whatever the reduction.
    assert checkpoint["history"][0]["train_loss"] < 1.0


def test_the_loop_samples_with_the_configured_weight_rule(tmp_path, monkeypatch):
    rules = []

    def spy(dataset, seed, epoch, rule="max"):
        rules.append(rule)
        return crop_dataset.weighted_sampler(dataset, seed, epoch, rule)

    monkeypatch.setattr(loop, "weighted_sampler", spy)
    _tiny_fit(tmp_path, "max")
    _tiny_fit(tmp_path, "sum", sample_weight="sum")
    assert rules == ["max"] * 3 + ["sum"] * 3


def test_crop_datasets_follow_the_augmentation_and_preprocessing_options(samples, tiny_data_root, tmp_path):
    authors = replace(config(epochs=1), augmentation="authors",
                      preprocessing=ImagePreprocessing(clahe_histogram="8-bit", clahe_background="zero"))
    train_set, test_set = crop_datasets(samples, tiny_data_root, tmp_path, authors)
    assert isinstance(train_set.augmentation.transforms[-1], v2.RandomApply)
    assert isinstance(crop_datasets(samples, tiny_data_root, tmp_path, config(1))[0].augmentation.transforms[-1],
                      v2.ColorJitter)
    assert train_set.store.cache_dir == test_set.store.cache_dir == default_cache_dir(tmp_path, authors.preprocessing)
    assert train_set.store.preprocessing == authors.preprocessing


def test_a_model_without_normalisation_and_output_bias_is_saved_and_loaded_so(samples, tiny_data_root, tmp_path):
    cfg = replace(config(epochs=1), input_normalisation="none", head_output_bias=False)
    model = build_model(cfg)
    assert model.head[3].bias is None and torch.equal(model.pixel_std, torch.ones(1, 3, 1, 1))
    run = train_classifier(cfg, samples, tiny_data_root, tmp_path, progress=False)
    assert run.config == cfg and run.model.head[3].bias is None
    assert torch.equal(run.model.pixel_mean, torch.zeros(1, 3, 1, 1))
