"""What a profile costs on this device: a few timed steps, extrapolated to the whole reproduction.

Two numbers are measured here, and everything else is worked out from them:

* **masked passes per second**: :class:`~corrrelax_lib.attribution.correlax.CorRELAX` itself,
  built from the study (:func:`~corrrelax_lib.pipeline.correlax_images.study_explainer`), explains
  a synthetic strip of windows of random pixels. The engine's own timer for its masked passes
  (``maps.metadata["masks_per_second"]``) gives the rate: the same window reading, mask products,
  mixed precision and streaming sums as on a mammogram.
* **seconds per training step**: forward, focal loss (Eq. 1), backward and Adam on a random batch
  at the profile's ``crop_size``, as :mod:`corrrelax_lib.training.loop` does it (AMP and
  channels-last on CUDA).

Both are measured at a batch size that can be smaller than the profile's (a CPU cannot hold 512
windows of 256 px in a short benchmark) and are then scaled per item: a pass or a crop is taken to
cost the same at any batch size. That holds well on a CPU; on a GPU, measure at the profile's batch
sizes (the defaults), where a small batch would leave the device idle.

The derived numbers take the paper's mean ROI (§3.1, 885 × 2497 px, width × height) and Table 1's
sample counts from ``data_manifests/vindr-mammo.yml``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from corrrelax_lib.config import StudyConfig
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.io.atomic import atomic_path
from corrrelax_lib.metrics.paper import paper_roi_size, paper_table1
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.models.device import amp_dtype, autocast, resolve_device
from corrrelax_lib.pipeline.correlax_images import study_explainer
from corrrelax_lib.training.config import study_training_config
from corrrelax_lib.training.focal_loss import focal_loss
from corrrelax_lib.training.loop import batch_loss
from corrrelax_lib.training.run import build_model
from corrrelax_lib.windows.grid import window_grid


def masked_pass_throughput(
    config: StudyConfig, *, device: str, n_batches: int = 2, batch_size: int | None = None,
) -> float:
    """Masked forward passes per second of the profile's classifier through the CorRELAX engine.

    The classifier is the profile's ``backbone`` (weights ``pretrained_weights``: the rate does not
    depend on them) with one output per label. One round of ``m = min(mask_chunk, n_batches · B)``
    masks on ``ceil(n_batches · B / m)`` windows of ``window_size`` px gives ``n_batches`` full
    batches of ``B`` masked windows. A first call of one batch warms up (allocator, cuDNN) and is
    not counted.

    Args:
        config: a study; reads ``classifier.backbone, classifier.pretrained_weights, seed`` and its
            ``correlax`` section.
        device: ``"cpu"`` or ``"cuda"`` (overrides the study's).
        n_batches: timed batches.
        batch_size: masked windows per forward pass ``B``; default ``correlax.batch_size``.

    Returns:
        Masked passes per second, counted by the engine's timer. Its end waits for the device (the
        correlations are copied to the host); its start follows the unmasked pass of the few windows
        without a CUDA synchronisation, so on a GPU unfinished unmasked work may be counted as
        masked time: the rate is then slightly underestimated, never overestimated.

    Example:
        >>> from corrrelax_lib.pipeline.study import Study
        >>> masked_pass_throughput(Study.open("tiny").config, device="cpu")  # doctest: +SKIP
        1480.2
    """
    batch_size = batch_size or config.correlax.batch_size
    model = _classifier(config).eval()
    _explain_strip(model, config, device, n_masks=batch_size, n_windows=1, batch_size=batch_size)  # warm-up
    n_masks, n_windows = _timed_round(config, n_batches, batch_size)
    _synchronize(resolve_device(device))
    metadata = _explain_strip(model, config, device, n_masks=n_masks, n_windows=n_windows, batch_size=batch_size)
    return float(metadata["masks_per_second"])


def training_step_seconds(
    config: StudyConfig, *, device: str, n_steps: int = 2, batch_size: int | None = None,
) -> float:
    """Seconds per optimisation step at the study's ``classifier.batch_size`` and ``classifier.crop_size``.

    One step is what :func:`corrrelax_lib.training.loop.fit` does per batch: forward under autocast,
    focal loss (Eq. 1, the classifier section's ``focal_alpha``, ``focal_gamma``, ``focal_alpha_form`` and
    ``focal_reduction``), backward, Adam step (its ``weight_decay``; with a gradient scaler under float16).
    Inputs are random ``(B, 3, crop_size, crop_size)`` crops and random multi-hot targets; data loading is
    not included. One untimed step warms up.

    Args:
        config: a study; reads its ``classifier`` section and ``seed``.
        device: ``"cpu"`` or ``"cuda"`` (overrides the study's).
        n_steps: timed steps.
        batch_size: crops per timed step; default ``classifier.batch_size``. With another value the
            measured seconds per crop are multiplied by ``classifier.batch_size``.

    Returns:
        Seconds per step of ``classifier.batch_size`` crops.
    """
    torch_device = resolve_device(device)
    classifier = config.classifier
    batch_size = batch_size or classifier.batch_size
    model = _classifier(config).to(torch_device).train()
    if torch_device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=classifier.learning_rate, weight_decay=classifier.weight_decay)
    scaler = torch.amp.GradScaler(torch_device.type, enabled=amp_dtype(torch_device) == torch.float16)
    generator = torch.Generator().manual_seed(config.seed)
    size = classifier.crop_size
    images = torch.rand(batch_size, 3, size, size, generator=generator).to(torch_device)
    if torch_device.type == "cuda":
        images = images.contiguous(memory_format=torch.channels_last)
    targets = (torch.rand(batch_size, len(LABELS), generator=generator) > 0.8).float().to(torch_device)

    def step() -> None:
        with autocast(torch_device):
            logits = model(images)
        terms = focal_loss(logits.float(), targets, alpha=classifier.focal_alpha, gamma=classifier.focal_gamma,
                           alpha_form=classifier.focal_alpha_form, reduction="none")
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(batch_loss(terms, classifier.focal_reduction)).backward()
        scaler.step(optimizer)
        scaler.update()

    step()  # warm-up
    _synchronize(torch_device)
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    _synchronize(torch_device)
    seconds_per_crop = (time.perf_counter() - start) / (n_steps * batch_size)
    return seconds_per_crop * classifier.batch_size


def paper_roi_windows(window_size: int, stride: int, roi_height: int, roi_width: int) -> int:
    """Windows on the grid of ``window_size`` px every ``stride`` px over a ``roi_height × roi_width`` ROI.

    All windows of the grid: CorRELAX skips those with less than ``min_foreground`` breast, which
    on a real ROI are a few along its border, so this is an upper bound of the windows explained.

    Example:
        >>> paper_roi_windows(256, 48, 2497, 885)  # the paper's mean ROI: 48 x 15
        720
    """
    grid = window_grid(roi_height, roi_width, window_size, stride)
    return grid.n_rows * grid.n_cols


@dataclass(frozen=True)
class CostEstimate:
    """Measured rates on one device and the cost of a profile worked out from them.

    Settings (from the profile and the paper):
        device: e.g. ``"NVIDIA H100 80GB HBM3"`` or ``"CPU (2 threads)"``.
        torch_version: ``torch.__version__``.
        backbone: the classifier's backbone.
        window_size, crop_size: pixels.
        n_masks: masks per window.
        batch_size: training crops per step.
        epochs: training epochs.
        roi_height, roi_width: the ROI the per-image cost is for, pixels (the paper's mean).
        training_crops_per_epoch: the sum of Table 1's training column. An epoch draws as many
            crops as there are training samples (:func:`~corrrelax_lib.data.crop_dataset.weighted_sampler`);
            Table 1 counts a box with several labels once per label, so the sum is an upper bound.
        validation_crops_per_epoch: the sum of Table 1's test column (same caveat): ``fit`` scores
            every test crop after every epoch.

    Measured:
        masked_passes_per_second: :func:`masked_pass_throughput`.
        timed_masked_passes, masked_batch_size: the passes it timed and their batch size.
        training_seconds_per_step: :func:`training_step_seconds`, for ``batch_size`` crops.
        timed_training_crops, training_batch_size_measured: the crops it timed and their batch size.

    Derived:
        windows_per_image: :func:`paper_roi_windows` (all windows: an upper bound).
        masked_passes_per_image: ``windows_per_image · n_masks``.
        unmasked_passes_per_image: ``windows_per_image`` (the engine's one unmasked pass per window).
        seconds_per_image: ``(masked + unmasked passes) / masked_passes_per_second``.
        steps_per_epoch: ``training_crops_per_epoch // batch_size`` (the loop drops the last partial batch).
        training_seconds_per_epoch: ``steps_per_epoch · training_seconds_per_step``.
        validation_seconds_per_epoch: ``validation_crops_per_epoch · (crop_size / window_size)² /
            masked_passes_per_second``: a forward pass costs as a masked one of the same pixel count
            (equal sizes in the paper's settings: the factor is 1).
        seconds_per_epoch: training plus validation.
        training_seconds_total: ``epochs · seconds_per_epoch``.
    """

    device: str
    torch_version: str
    backbone: str
    window_size: int
    crop_size: int
    n_masks: int
    batch_size: int
    epochs: int
    roi_height: int
    roi_width: int
    training_crops_per_epoch: int
    validation_crops_per_epoch: int
    masked_passes_per_second: float
    timed_masked_passes: int
    masked_batch_size: int
    training_seconds_per_step: float
    timed_training_crops: int
    training_batch_size_measured: int
    windows_per_image: int
    masked_passes_per_image: int
    unmasked_passes_per_image: int
    seconds_per_image: float
    steps_per_epoch: int
    training_seconds_per_epoch: float
    validation_seconds_per_epoch: float
    seconds_per_epoch: float
    training_seconds_total: float

    def to_frame(self) -> pd.DataFrame:
        """One row per quantity: ``quantity, value, unit, source`` (environment, setting, measured, derived)."""
        rows = [
            ("device", self.device, "", "environment"),
            ("torch", self.torch_version, "", "environment"),
            ("backbone", self.backbone, "", "setting"),
            ("window size", self.window_size, "px", "setting"),
            ("masks per window", self.n_masks, "masks", "setting"),
            ("mean ROI (height x width)", f"{self.roi_height} x {self.roi_width}", "px", "setting"),
            ("masked passes per second", self.masked_passes_per_second, "passes/s", "measured"),
            ("timed masked passes (batch size)", f"{self.timed_masked_passes} ({self.masked_batch_size})",
             "passes", "measured"),
            ("windows per image (all, upper bound)", self.windows_per_image, "windows", "derived"),
            ("masked passes per image", self.masked_passes_per_image, "passes", "derived"),
            ("unmasked passes per image", self.unmasked_passes_per_image, "passes", "derived"),
            ("CorRELAX per image", self.seconds_per_image, "s", "derived"),
            ("crop size", self.crop_size, "px", "setting"),
            ("batch size", self.batch_size, "crops", "setting"),
            ("training seconds per step", self.training_seconds_per_step, "s", "measured"),
            ("timed training crops (batch size)",
             f"{self.timed_training_crops} ({self.training_batch_size_measured})", "crops", "measured"),
            ("training crops per epoch (Table 1)", self.training_crops_per_epoch, "crops", "setting"),
            ("steps per epoch", self.steps_per_epoch, "steps", "derived"),
            ("training per epoch", self.training_seconds_per_epoch, "s", "derived"),
            ("validation crops per epoch (Table 1)", self.validation_crops_per_epoch, "crops", "setting"),
            ("validation per epoch", self.validation_seconds_per_epoch, "s", "derived"),
            ("epoch", self.seconds_per_epoch, "s", "derived"),
            ("epochs", self.epochs, "epochs", "setting"),
            ("training, all epochs", self.training_seconds_total, "s", "derived"),
        ]
        return pd.DataFrame(rows, columns=["quantity", "value", "unit", "source"])


def estimate_full_cost(
    config: StudyConfig,
    *,
    device: str,
    n_batches: int = 2,
    n_steps: int = 2,
    masked_batch_size: int | None = None,
    training_batch_size: int | None = None,
    roi_size: tuple[int, int] | None = None,
) -> CostEstimate:
    """Measure the two rates and work out per-image, per-epoch and whole-training seconds.

    Args:
        config: a study (see :func:`masked_pass_throughput`, :func:`training_step_seconds`).
        device: ``"cpu"`` or ``"cuda"``.
        n_batches, masked_batch_size: passed to :func:`masked_pass_throughput` (``batch_size``).
        n_steps, training_batch_size: passed to :func:`training_step_seconds` (``batch_size``).
            The defaults of both time the study's batch sizes; on a CPU, e.g. 32 masked windows
            and 16 crops keep the full profile at about a minute.
        roi_size: ``(height, width)`` in pixels; default the paper's mean ROI (2497, 885).

    Example:
        >>> from corrrelax_lib.pipeline.study import Study
        >>> config = Study.open("full", {"classifier.pretrained_weights": None}).config
        >>> estimate_full_cost(config, device="cpu", masked_batch_size=32,
        ...                    training_batch_size=16).to_frame()  # doctest: +SKIP
    """
    torch_device = resolve_device(device)
    classifier, correlax = config.classifier, config.correlax
    masked_batch_size = masked_batch_size or correlax.batch_size
    training_batch_size = training_batch_size or classifier.batch_size
    throughput = masked_pass_throughput(config, device=device, n_batches=n_batches, batch_size=masked_batch_size)
    timed_passes = math.prod(_timed_round(config, n_batches, masked_batch_size))
    step_seconds = training_step_seconds(config, device=device, n_steps=n_steps, batch_size=training_batch_size)
    if roi_size is None:
        roi = paper_roi_size().loc["roi"]
        roi_size = (int(roi["height mean"]), int(roi["width mean"]))
    table1 = paper_table1()
    training_crops, validation_crops = int(table1["training"].sum()), int(table1["test"].sum())
    # Per image: every window once unmasked, then once per mask (upper bound: no window skipped).
    windows = paper_roi_windows(correlax.window_size, correlax.stride, *roi_size)
    masked_passes = windows * correlax.n_masks
    # Per epoch: full training batches, then the test crops forward only.
    batch_size = classifier.batch_size
    steps = training_crops // batch_size if training_crops > batch_size else 1
    training_seconds = steps * step_seconds
    pixel_ratio = (classifier.crop_size / correlax.window_size) ** 2
    validation_seconds = validation_crops * pixel_ratio / throughput
    epoch_seconds = training_seconds + validation_seconds
    return CostEstimate(
        device=device_name(torch_device), torch_version=torch.__version__, backbone=classifier.backbone,
        window_size=correlax.window_size, crop_size=classifier.crop_size, n_masks=correlax.n_masks,
        batch_size=batch_size, epochs=classifier.epochs, roi_height=roi_size[0], roi_width=roi_size[1],
        training_crops_per_epoch=training_crops, validation_crops_per_epoch=validation_crops,
        masked_passes_per_second=throughput, timed_masked_passes=timed_passes,
        masked_batch_size=masked_batch_size, training_seconds_per_step=step_seconds,
        timed_training_crops=n_steps * training_batch_size, training_batch_size_measured=training_batch_size,
        windows_per_image=windows, masked_passes_per_image=masked_passes, unmasked_passes_per_image=windows,
        seconds_per_image=(masked_passes + windows) / throughput, steps_per_epoch=steps,
        training_seconds_per_epoch=training_seconds, validation_seconds_per_epoch=validation_seconds,
        seconds_per_epoch=epoch_seconds, training_seconds_total=classifier.epochs * epoch_seconds,
    )


def test_set_cost(estimate: CostEstimate, budgets: dict[str, float], n_images: int) -> pd.DataFrame:
    """CorRELAX's cost on ``n_images`` mean-size ROIs under each mask budget, from one measured rate.

    Args:
        estimate: the measured rate and the per-image passes of the paper's fixed count (:func:`estimate_full_cost`).
        budgets: ``{name: share of the fixed count's masked passes}``, e.g. a budget's ``passes_fraction``
            measured against its reference (:func:`~corrrelax_lib.pipeline.mask_budget.mask_budget_table`).
        n_images: images, e.g. the 357 VinDr-Mammo test images with findings.

    Returns:
        One row per budget: ``budget``, ``passes_fraction``, ``masked_passes_per_image``, ``seconds_per_image``
        (masked passes plus the unmasked pass per window, at the measured rate) and ``hours_test_set``.
    """
    rows = []
    for name, fraction in budgets.items():
        masked = fraction * estimate.masked_passes_per_image
        seconds = (masked + estimate.unmasked_passes_per_image) / estimate.masked_passes_per_second
        rows.append({"budget": name, "passes_fraction": fraction, "masked_passes_per_image": masked,
                     "seconds_per_image": seconds, "hours_test_set": seconds * n_images / 3600})
    return pd.DataFrame(rows)


def format_value(value: object) -> str:
    """A value of :meth:`CostEstimate.to_frame` for reading: floats to 4 significant digits (whole numbers
    from 10 000 on), integers with thousands separators, text as is."""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def measurement_batch_sizes(device: str) -> dict[str, int]:
    """Batch sizes for :func:`estimate_full_cost` on ``device``: on a CPU 32 masked windows and 16 crops
    (the full profile then takes about a minute), elsewhere ``{}`` (the profile's own, 512 and 48)."""
    return {"masked_batch_size": 32, "training_batch_size": 16} if resolve_device(device).type == "cpu" else {}


def cached_cost_estimate(
    config: StudyConfig, path: str | os.PathLike[str], *, device: str, **options: Any,
) -> CostEstimate:
    """:func:`estimate_full_cost` measured once and kept in ``path`` (a timing differs on every run; the
    book shows the one it measured first, so two builds give the same page). Delete ``path`` to measure again.

    Args:
        config, device, options: as :func:`estimate_full_cost`.
        path: the JSON file (:func:`write_cost_estimate`).
    """
    if Path(path).is_file():
        return read_cost_estimate(path)
    estimate = estimate_full_cost(config, device=device, **options)
    write_cost_estimate(estimate, path)
    return estimate


#: The names ``benchmarks/full_profile_cost.py`` gives its results (``<profile>_profile_cost-<device>.json``).
COST_ESTIMATE_PATTERN = "*_profile_cost-*.json"


def recorded_cost_estimates(directory: str | os.PathLike[str]) -> dict[str, CostEstimate]:
    """``{file stem: estimate}`` of every :data:`COST_ESTIMATE_PATTERN` file in ``directory`` (``benchmarks/results``:
    runs of ``benchmarks/full_profile_cost.py`` on other machines, e.g. a GPU; the other benchmarks' results
    beside them are not cost estimates), sorted by name."""
    return {path.stem: read_cost_estimate(path) for path in sorted(Path(directory).glob(COST_ESTIMATE_PATTERN))}


def machine_summary(device: str) -> pd.DataFrame:
    """What runs this process: CPU cores and threads, accelerator and its memory, library versions.

    Returns:
        One row per item, columns ``item, value``.
    """
    torch_device = resolve_device(device)
    rows = [("CPU cores (os.cpu_count)", str(os.cpu_count())), ("torch threads", str(torch.get_num_threads())),
            ("torch", torch.__version__), ("device used", device_name(torch_device)),
            ("CUDA available", str(torch.cuda.is_available()))]
    if torch.cuda.is_available():
        properties = torch.cuda.get_device_properties(0)
        rows += [("GPU", properties.name), ("GPU memory", f"{properties.total_memory / 2**30:.0f} GiB"),
                 ("GPUs", str(torch.cuda.device_count()))]
    return pd.DataFrame(rows, columns=["item", "value"])


def device_name(device: torch.device) -> str:
    """The GPU's name on CUDA, else ``"CPU (<threads> threads)"``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({torch.get_num_threads()} threads)"


def write_cost_estimate(estimate: CostEstimate, path: str | os.PathLike[str]) -> None:
    """Write ``estimate`` as JSON, atomically: ``path`` is complete or untouched, never half-written."""
    with atomic_path(path) as tmp, tmp.open("w", encoding="utf-8") as handle:
        json.dump(asdict(estimate), handle, indent=1)
        handle.write("\n")


def read_cost_estimate(path: str | os.PathLike[str]) -> CostEstimate:
    """The :class:`CostEstimate` written by :func:`write_cost_estimate`.

    Raises:
        ValueError: the file's keys are not the fields of :class:`CostEstimate`.
    """
    values = json.loads(Path(path).read_text(encoding="utf-8"))
    expected = {field.name for field in fields(CostEstimate)}
    if set(values) != expected:
        raise ValueError(f"{path}: not a cost estimate (missing {sorted(expected - set(values))}, "
                         f"unknown {sorted(set(values) - expected)})")
    return CostEstimate(**values)


def _classifier(config: StudyConfig) -> MultiLabelClassifier:
    """The study's classifier (:func:`~corrrelax_lib.training.run.build_model`), untrained, from the study's seed."""
    return build_model(study_training_config(config, data_fingerprint=""))


def _explain_strip(
    model: MultiLabelClassifier, config: StudyConfig, device: str, *, n_masks: int, n_windows: int,
    batch_size: int,
) -> dict[str, Any]:
    """CorRELAX metadata of a vertical strip of ``n_windows`` windows of random pixels, one mask round."""
    size, stride = config.correlax.window_size, config.correlax.stride
    correlax = replace(config.correlax, mask_chunk=n_masks, batch_size=batch_size, min_foreground=0.0)
    explainer = study_explainer(model, replace(config, device=device, correlax=correlax), LABELS, n_masks=n_masks)
    image = np.random.default_rng(config.seed).random((size + (n_windows - 1) * stride, size, 3))
    maps = explainer.explain(image, np.ones(image.shape[:2], dtype=bool))
    return maps.metadata


def _timed_round(config: StudyConfig, n_batches: int, batch_size: int) -> tuple[int, int]:
    """``(n_masks, n_windows)`` of the one mask round that fills ``n_batches`` batches of ``batch_size``."""
    n_masks = min(config.correlax.mask_chunk, n_batches * batch_size)
    return n_masks, math.ceil(n_batches * batch_size / n_masks)


def _synchronize(device: torch.device) -> None:
    """Wait for queued CUDA work, so that a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
