import dataclasses
import math

import pytest
import torch

from corrrelax_lib.config import load_study_config
from corrrelax_lib.paths import profile_path
from corrrelax_lib.pipeline import throughput
from corrrelax_lib.pipeline.throughput import (
    CostEstimate,
    cached_cost_estimate,
    estimate_full_cost,
    format_value,
    machine_summary,
    masked_pass_throughput,
    paper_roi_windows,
    read_cost_estimate,
    recorded_cost_estimates,
    training_step_seconds,
    write_cost_estimate,
)

# small_cnn on 32-px windows and crops: every measurement takes well under a second.
TINY = {"classifier.backbone": "small_cnn", "classifier.pretrained_weights": None, "correlax.window_size": 32,
        "correlax.stride": 8, "classifier.crop_size": 32, "correlax.n_masks": 8, "correlax.mask_chunk": 4,
        "correlax.batch_size": 8, "classifier.batch_size": 8, "classifier.epochs": 3}


@pytest.fixture(scope="module")
def config():
    return load_study_config(profile_path("tiny"), TINY)


@pytest.fixture(scope="module")
def estimate(config) -> CostEstimate:
    return estimate_full_cost(config, device="cpu", n_batches=1, n_steps=1, roi_size=(100, 70))


def test_masked_pass_throughput_is_positive_and_finite(config):
    # mask_chunk 4 < 3 batches of 8: one round of 4 masks on 6 windows.
    rate = masked_pass_throughput(config, device="cpu", n_batches=3)
    assert rate > 0 and math.isfinite(rate)


def test_training_step_seconds_is_positive_and_finite(config):
    seconds = training_step_seconds(config, device="cpu", n_steps=1, batch_size=4)
    assert seconds > 0 and math.isfinite(seconds)


def test_paper_roi_windows_by_hand():
    # Rows: origins 0, 16, ..., 80 (the last reaches 112 > 100, padded): 6. Columns: 0, 16, 32, 48: 4.
    assert paper_roi_windows(32, 16, 100, 70) == 24
    assert paper_roi_windows(32, 16, 32, 32) == 1
    assert paper_roi_windows(32, 16, 10, 20) == 1  # smaller than one window: one padded window
    # The paper's mean ROI (2497 x 885 px, height x width) at 256 / 48: 48 rows x 15 columns.
    assert paper_roi_windows(256, 48, 2497, 885) == 720


def test_estimate_derived_fields_follow_from_the_measured_rates(estimate):
    assert estimate.masked_passes_per_second > 0 and estimate.training_seconds_per_step > 0
    assert estimate.device.startswith("CPU (")
    # 100 x 70 px at window 32, stride 8: row origins 0, 8, ..., 72 (10), column origins 0, 8, ..., 40 (6).
    assert estimate.windows_per_image == 60
    assert estimate.masked_passes_per_image == 60 * 8
    assert estimate.unmasked_passes_per_image == 60
    assert estimate.seconds_per_image == pytest.approx((60 * 8 + 60) / estimate.masked_passes_per_second)
    # Table 1 of the paper: training and test columns summed.
    assert estimate.training_crops_per_epoch == 14589 + 989 + 428 + 313 + 95 + 46 + 45 + 39
    assert estimate.validation_crops_per_epoch == 3643 + 237 + 115 + 79 + 24 + 11 + 12 + 9
    assert estimate.steps_per_epoch == 16544 // 8
    assert estimate.training_seconds_per_epoch == pytest.approx(2068 * estimate.training_seconds_per_step)
    assert estimate.validation_seconds_per_epoch == pytest.approx(4130 / estimate.masked_passes_per_second)
    assert estimate.seconds_per_epoch == pytest.approx(
        estimate.training_seconds_per_epoch + estimate.validation_seconds_per_epoch)
    assert estimate.training_seconds_total == pytest.approx(3 * estimate.seconds_per_epoch)
    # One round of min(mask_chunk, 1 x 8) = 4 masks on 2 windows.
    assert (estimate.timed_masked_passes, estimate.masked_batch_size) == (8, 8)


def test_to_frame_is_tidy(estimate):
    frame = estimate.to_frame()
    assert list(frame.columns) == ["quantity", "value", "unit", "source"]
    assert set(frame["source"]) == {"environment", "setting", "measured", "derived"}
    assert frame["quantity"].is_unique
    per_image = frame.set_index("quantity").loc["CorRELAX per image"]
    assert per_image["value"] == estimate.seconds_per_image and per_image["unit"] == "s"


def test_json_round_trip(estimate, tmp_path):
    path = tmp_path / "results" / "cost.json"
    write_cost_estimate(estimate, path)
    assert read_cost_estimate(path) == estimate


def test_failing_write_leaves_the_old_file_and_no_partial_one(estimate, tmp_path):
    path = tmp_path / "cost.json"
    write_cost_estimate(estimate, path)
    before = path.read_text()
    broken = dataclasses.replace(estimate, training_seconds_total=object())  # not JSON: fails mid-write
    with pytest.raises(TypeError):
        write_cost_estimate(broken, path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["cost.json"]


def test_reading_another_json_is_an_error(tmp_path):
    path = tmp_path / "other.json"
    path.write_text('{"device": "cpu"}')
    with pytest.raises(ValueError, match="not a cost estimate"):
        read_cost_estimate(path)


def test_estimate_defaults_to_the_paper_mean_roi(config):
    estimate = estimate_full_cost(config, device="cpu", n_batches=1, n_steps=1, training_batch_size=2)
    assert (estimate.roi_height, estimate.roi_width) == (2497, 885)
    # Window 32, stride 8: ceil((2497 - 32) / 8) + 1 = 310 rows, ceil((885 - 32) / 8) + 1 = 108 columns.
    assert estimate.windows_per_image == 310 * 108
    assert estimate.timed_training_crops == 2 and estimate.training_batch_size_measured == 2


def test_cached_estimate_is_measured_once_then_read(config, tmp_path, monkeypatch):
    path = tmp_path / "full_profile_cost-cpu.json"
    first = cached_cost_estimate(config, path, device="cpu", n_batches=1, n_steps=1)

    def no_measure(*args, **kwargs):
        raise AssertionError("a cached estimate was measured again")

    monkeypatch.setattr(throughput, "estimate_full_cost", no_measure)
    assert cached_cost_estimate(config, path, device="cpu") == first
    (tmp_path / "mask_budget-tiny-cpu.json").write_text('{"rows": []}')  # another benchmark's result beside it
    assert recorded_cost_estimates(tmp_path) == {"full_profile_cost-cpu": first}


def test_machine_summary_names_the_device_and_versions():
    summary = machine_summary("cpu").set_index("item")["value"]
    assert summary["device used"].startswith("CPU (") and summary["torch"] == torch.__version__


def test_format_value_reads_like_the_book_table():
    assert [format_value(value) for value in (10.6392, 173312.7, 1843200, "CPU (2 threads)")] == [
        "10.64", "173,313", "1,843,200", "CPU (2 threads)"]
