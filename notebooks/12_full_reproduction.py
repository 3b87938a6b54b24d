# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Running the full reproduction
#
# The `tiny` profile that builds this book runs on a CPU in minutes. The paper's own settings
# (`book/profiles/full.yml`: VinDr-Mammo, EfficientNetV2-S, 50 epochs at batch 48, windows of
# 256 px every 48 px with 2560 masks each) cost about 650 windows × 2560 masked passes per mammogram.
# This page says what that costs, measured on the machine that executed it, how to run it on one
# GPU, eight GPUs or several nodes with `torchrun`, and how an interrupted run resumes. Every
# number below is measured or worked out from a measurement when the page is executed; the ones
# no machine has measured yet are listed at the end.

# %% tags=["parameters", "hide-cell"]
profile = "tiny"  # book/profiles/<profile>.yml
overrides = {}  # dotted keys of corrrelax_lib.config.StudyConfig, e.g. {"correlax.n_masks": 64}

# %%

import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.metrics.paper import authors_images_with_findings
from corrrelax_lib.paths import repository_root
from corrrelax_lib.pipeline.mask_budget import mask_budget_table
from corrrelax_lib.pipeline.study import Study
from corrrelax_lib.pipeline.throughput import (
    cached_cost_estimate,
    format_value,
    machine_summary,
    measurement_batch_sizes,
    recorded_cost_estimates,
    test_set_cost,
)

study = Study.open(profile, overrides)
config = study.config
results = ResultLog(study.results_dir, "12_full_reproduction")
display(Markdown(dataset_banner(config.data.dataset)))

# %% [markdown]
# ## The machine that executed this page

# %%
display(machine_summary(config.device).style.hide(axis="index").set_caption(
    f"Hardware and software of this build (profile `{profile}`, device `{config.device}`); the paper trained on one "
    "NVIDIA RTX 4080 (§3.3) and gives no timings"))

# %% [markdown]
# ## This profile, end to end
#
# What the chapters of this book cost here, read from the artifacts they wrote: the classifier's
# epochs (chapter 04) and the CorRELAX maps of every annotated test image (chapter 05).

# %%
maps = study.correlax_maps()
epoch_seconds = study.classifier().history["seconds"]
image_seconds = pd.Series([image_maps.metadata["seconds"]["explain"] for image_maps in maps.values()])
passes_per_second = pd.Series([image_maps.metadata["masks_per_second"] for image_maps in maps.values()])
end_to_end = pd.DataFrame([
    ("training: seconds per epoch (median)", f"{epoch_seconds.median():.2f}",
     f"{len(epoch_seconds)} epochs of `{config.classifier.backbone}` at {config.classifier.crop_size} px, batch {config.classifier.batch_size}"),
    ("CorRELAX: seconds per image (median)", f"{image_seconds.median():.1f}",
     f"{len(image_seconds)} ROI images, {config.correlax.window_size}-px windows every {config.correlax.stride} px, {config.correlax.n_masks} masks"),
    ("CorRELAX: masked passes per second (median)", f"{passes_per_second.median():.0f}", f"batch {config.correlax.batch_size}"),
], columns=["quantity", "measured", "setting"])
display(end_to_end.style.hide(axis="index").set_caption(
    f"Measured while building this book on `{config.device}` ({dataset_label(config.data.dataset)} data)"))
results.record("Full reproduction", "this profile: seconds per epoch (median)", round(float(epoch_seconds.median()), 3))
results.record("Full reproduction", "this profile: CorRELAX seconds per image (median)",
               round(float(image_seconds.median()), 2))

# %% [markdown]
# ## The paper's settings on this machine
#
# Two rates are timed with the `full` profile's classifier (EfficientNetV2-S, random weights: the
# rate does not depend on them) on random inputs: masked passes per second through the CorRELAX
# engine, and seconds per training step (forward, focal loss, backward, Adam). Everything else is
# worked out from them: windows on the paper's mean ROI (2497 × 885 px, §3.1), passes per image,
# steps per epoch from Table 1's counts. The `source` column says which number is which. On a CPU
# the batches are smaller than the profile's and the rates are scaled per item. The measurement is
# kept in the artifacts, so rebuilding the page shows the same numbers (delete the file to measure
# again); `benchmarks/full_profile_cost.py` runs the same measurement from the command line.

# %%
full = Study.open("full", {"device": config.device, "classifier.pretrained_weights": None}).config
estimate = cached_cost_estimate(full, study.artifacts_dir / "benchmarks" / f"full_profile_cost-{config.device}.json",
                                device=config.device, **measurement_batch_sizes(config.device))


def show_estimate(estimate, caption):
    frame = estimate.to_frame()
    frame["value"] = frame["value"].map(format_value)
    display(frame.style.hide(axis="index").set_caption(caption))


show_estimate(estimate, f"The `full` profile's costs on {estimate.device} (this build)")
hours_per_image, hours_per_epoch = estimate.seconds_per_image / 3600, estimate.seconds_per_epoch / 3600
results.record("Full reproduction", "full settings on this machine: masked passes per second",
               round(estimate.masked_passes_per_second, 2), None, estimate.device)
results.record("Full reproduction", "full settings on this machine: hours per image (derived)",
               round(hours_per_image, 2), None, estimate.device)
results.record("Full reproduction", "full settings on this machine: hours per epoch (derived)",
               round(hours_per_epoch, 2), None, estimate.device)

# %% [markdown]
# ## The mask budget and the VinDr-Mammo test set
#
# Chapter 06 compares mask budgets against a reference of many masks per window (the `full` profile:
# the paper's 2560; `tiny`: 320). The profile's default spends a share of the reference's masked passes,
# and chapter 06 measures how close its outcomes come (not the same outcomes: see there). Below, that share
# is applied to the paper's 2560 masks at the rate measured above, for the 357 VinDr-Mammo test images with
# findings that the pointing game scores (every window of the mean ROI counted: an upper bound). A share
# measured on phantoms is a projection for VinDr-Mammo, not a measurement.

# %%
budget = mask_budget_table(study)
default_budget = budget.loc[budget["default"]].iloc[0]
n_test_images = authors_images_with_findings()
cost = test_set_cost(estimate, {"paper: fixed 2560 masks": 1.0,
                                f"{study.name}'s default ({default_budget['method']}, {config.correlax.mask_budget} "
                                f"{default_budget['n_masks']} of {config.mask_sensitivity.budget_reference_masks}; "
                                "share measured here)":
                                    float(default_budget["passes_fraction"])}, n_test_images)
display(cost.style.format({"passes_fraction": "{:.3f}", "masked_passes_per_image": "{:,.0f}",
                           "seconds_per_image": "{:,.0f}", "hours_test_set": "{:,.1f}"})
        .hide(axis="index").set_caption(f"CorRELAX on the {n_test_images} VinDr-Mammo test images with findings at "
                                         f"{estimate.masked_passes_per_second:,.1f} masked passes/s ({estimate.device})"))
results.record("Full reproduction", "default mask budget: share of the reference's masked passes (measured here)",
               round(float(default_budget["passes_fraction"]), 4), None)
results.record("Full reproduction", f"test set ({n_test_images} images) at the default budget: hours (derived)",
               round(float(cost["hours_test_set"].iloc[1]), 2), None, estimate.device)

# %% [markdown]
# No GPU was lent to the session that wrote the mask budget, so none of these rates is a GPU's.
# `benchmarks/gpu_check.sh` measures them on one (EfficientNetV2-S at 256², bf16 autocast,
# channels-last, with and without `torch.compile`, and the mask-budget benchmark), writing JSON
# under `$OUT`:
#
# ```bash
# OUT=/tmp/gpu-check bash benchmarks/gpu_check.sh
# ```
#
# Measurements recorded on other machines with `benchmarks/full_profile_cost.py` and committed to
# `benchmarks/results/` (each names its device):

# %%
recorded = recorded_cost_estimates(repository_root() / "benchmarks" / "results")
summary = pd.DataFrame([{
    "file": name, "device": recorded_estimate.device, "torch": recorded_estimate.torch_version,
    "masked passes per second": recorded_estimate.masked_passes_per_second,
    "seconds per image": recorded_estimate.seconds_per_image,
    "training seconds per step": recorded_estimate.training_seconds_per_step,
    "seconds per epoch": recorded_estimate.seconds_per_epoch,
} for name, recorded_estimate in recorded.items()])
display(summary.style.format("{:,.4g}", subset=["masked passes per second", "seconds per image",
                                                 "training seconds per step", "seconds per epoch"])
        .hide(axis="index").set_caption("Recorded runs of the full-profile cost benchmark"))
gpu_runs = {name: run for name, run in recorded.items() if not run.device.startswith("CPU")}

# %% [markdown]
# ## Getting the data
#
# VinDr-Mammo is credentialed (PhysioNet); `data_manifests/vindr-mammo.yml` says how to obtain it.
# Point `CORRRELAX_DATA` at the folder holding `finding_annotations.csv`, then check it. The check
# lists missing CSVs and columns, images listed in the CSVs but absent (with the CSV line naming
# each), images in the wrong place (e.g. flat in `images/` or saved as `.dcm`), and compares the
# counts with the manifest's; every command below runs the same check first and stops on a problem.
#
# ```bash
# export CORRRELAX_DATA=/data/vindr-mammo
# corrrelax check-data --profile full
# ```
#
# ## Commands
#
# Each command runs as one process or as every process of a `torchrun` job. `train` uses
# DistributedDataParallel (nccl on GPUs; each rank draws its share of the same global batches of
# 48, so the global batch must be a multiple of the number of GPUs); `explain` shares the images
# out by `image_id`; `evaluate` gathers the maps into Table 4 and chapter 08's comparison (CSV files
# in `tables/`), computing nothing. The artifacts are the ones the
# notebooks read, so `make book PROFILE=full` afterwards only renders.
#
# One GPU:
#
# ```bash
# corrrelax train --profile full
# corrrelax explain --profile full --maps correlax baselines external
# corrrelax evaluate --profile full --maps baselines
# make book PROFILE=full
# ```
#
# Eight GPUs on one machine:
#
# ```bash
# torchrun --nproc_per_node 8 -m corrrelax_lib.cli train --profile full
# torchrun --nproc_per_node 8 -m corrrelax_lib.cli explain --profile full --maps correlax baselines external
# corrrelax evaluate --profile full --maps baselines
# ```
#
# Several nodes (run the same line on every node; `CORRRELAX_ARTIFACTS` and `CORRRELAX_DATA` on a
# filesystem every node sees):
#
# ```bash
# export CORRRELAX_ARTIFACTS=/shared/correlax-artifacts CORRRELAX_DATA=/shared/vindr-mammo
# torchrun --nnodes 4 --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint head-node:29500 \
#     -m corrrelax_lib.cli explain --profile full --maps correlax baselines
# ```
#
# Profile values are overridden as with papermill, e.g. `-p n_masks 1024 -p correlax_batch_size 256`;
# a changed value that changes the maps writes them to a new folder instead of mixing them.
#
# ## Resuming
#
# Every image's maps are one `.npz` and a `.json` sidecar with the parameters and the sha256 of the
# `.npz`, each written to a temporary file and renamed, sidecar last. After a crash or a preemption,
# run the same command again: images with a complete, matching pair are skipped; leftover temporary
# files are deleted; an `.npz` without its sidecar, with other parameters or whose checksum does not
# match is recomputed (a warning names it). Training resumes from its last finished epoch
# (`checkpoint.pt`). The tests of `tests/distributed/` check this with two gloo processes on a CPU:
# the same Table 4 as one process, a rank killed mid-run and restarted, a flipped byte, and DDP
# weights equal to a single process's.

# %% [markdown]
# ## Still unmeasured

# %%
unmeasured = []
if not gpu_runs:
    unmeasured.append("the GPU rates: masked passes per second, seconds per image and seconds per training epoch on "
                      "any GPU (run `python benchmarks/full_profile_cost.py --device cuda` and commit its JSON)")
unmeasured.append("the mask budget on a GPU and on VinDr-Mammo (measured on this profile's phantoms; "
                  "`benchmarks/gpu_check.sh` runs it on a GPU)")
unmeasured += [
    "multi-GPU and multi-node scaling of `train` and `explain` (tested for correctness with 2 CPU processes only)",
    "the full profile end to end: training on VinDr-Mammo, its Tables 2–4 and the explorer's memory at 1024 px",
    "the seconds per image on real ROIs, where windows with less than 5% breast are skipped (the estimate counts "
    "every window of the mean ROI, an upper bound)",
]
display(Markdown("\n".join(f"- {item}" for item in unmeasured)))

# %% [markdown]
# ## What we found

# %%
display(Markdown(
    f"On this build's {estimate.device}, the paper's settings run "
    f"{estimate.masked_passes_per_second:,.1f} masked passes per second, so one mammogram of the mean ROI "
    f"({estimate.windows_per_image} windows × {estimate.n_masks} masks) would take about {hours_per_image:,.1f} hours "
    f"and one training epoch about {hours_per_epoch:,.2f} hours ({estimate.epochs} epochs: "
    f"{estimate.training_seconds_total / 86400:,.1f} days). "
    + (f"Recorded GPU runs: {', '.join(run.device for run in gpu_runs.values())}."
       if gpu_runs else "No GPU has measured these numbers yet; the full reproduction needs one or more GPUs.")
))
