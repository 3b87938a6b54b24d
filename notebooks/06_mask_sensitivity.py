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
# # How many masks?
#
# This chapter reproduces **Figure 7 (§3.5, §4.3)**: the distance correlation of a window after
# the first *n* masks against its value with a large reference count (the paper: 2560), for
# *n* from a few tens to thousands. Beyond the paper it evaluates **adaptive masks**: each window
# stops receiving masks once its correlations are within a tolerance of their reference value
# with high probability, so strong, settled windows cost less. Beside Figure 7 it shows what the
# mask budget does to the **outcomes** the paper reports (where each map peaks, Table 4's hits) for
# fixed counts, variance-reduced mask designs, adaptive masks and an outcome-aware budget.

# %% tags=["parameters", "hide-cell"]
profile = "tiny"  # book/profiles/<profile>.yml
overrides = {}  # dotted keys of corrrelax_lib.config.StudyConfig, e.g. {"correlax.n_masks": 64}

# %%
import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.attribution.adaptive import AdaptiveMasks
from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.pipeline.mask_budget import AGREEMENT_COLUMNS, mask_budget_table
from corrrelax_lib.pipeline.mask_sensitivity import (
    adaptive_errors,
    explain_window_samples,
    prefix_errors,
    sample_windows,
)
from corrrelax_lib.pipeline.study import Study
from corrrelax_lib.viz.correlax_maps import plot_budget_agreement, plot_mask_sensitivity, plot_masks_used

study = Study.open(profile, overrides)
config = study.config
results = ResultLog(study.results_dir, "06_mask_sensitivity")
display(Markdown(dataset_banner(config.data.dataset)))

# %% [markdown]
# ## The windows
#
# A seeded sample of breast windows from the first test images with findings. Every window gets
# the same `sensitivity_reference_masks` masks; the correlations after the first *n* of them are
# read from the same run, so each *n* is a prefix of the reference set, as in the paper.

# %%
sensitivity = config.mask_sensitivity
images = study.test_images()[:sensitivity.images]
reference_explainer = study.explainer(n_masks=sensitivity.reference_masks, checkpoints=sensitivity.mask_counts)
adaptive = AdaptiveMasks(tolerance=sensitivity.adaptive_tolerance, z=sensitivity.adaptive_z,
                         min_masks=sensitivity.adaptive_min_masks)
adaptive_explainer = study.explainer(n_masks=sensitivity.reference_masks, checkpoints=(), adaptive=adaptive)
per_image = sensitivity.windows // len(images)
selections = {image.image_id: sample_windows(image.image, reference_explainer, per_image, config.seed)
              for image in images}

reference, adaptive_maps = (
    explain_window_samples(explainer, images, selections,
                           study.maps_directory(explainer) / f"sample-{per_image}-{config.seed}")
    for explainer in (reference_explainer, adaptive_explainer))
errors = pd.concat([prefix_errors(reference[image.image_id], sensitivity.mask_counts).assign(image=image.image_id)
                    for image in images], ignore_index=True)
display(Markdown(f"{errors['window'].nunique() if len(images) == 1 else len(errors) // len(sensitivity.mask_counts)} "
                 f"windows from {len(images)} images, {sensitivity.reference_masks} masks each."))

# %% [markdown]
# ## Figure 7

# %% mystnb={"figure": {"caption": "Figure 7 | Absolute difference between a window's distance correlation after the first n masks and after all reference masks, per window, on a log scale; dashed lines at 0.025 and 0.05.", "name": "fig-mask-sensitivity"}}
plot_mask_sensitivity(errors, reference_masks=sensitivity.reference_masks,
                      title=f"{dataset_label(config.data.dataset)}: distance correlation vs {sensitivity.reference_masks} masks")
plt.show()

# %%
summary = errors.groupby("n_masks")["abs_error"].agg(
    mean="mean", median="median", p95=lambda e: e.quantile(0.95), max="max",
    within_0025=lambda e: (e <= 0.025).mean())
display(summary.style.format("{:.4f}").format("{:.0%}", subset=["within_0025"])
        .set_caption(f"|ρ_n − ρ_{sensitivity.reference_masks}| of the distance correlation per mask count n "
                     "(within_0025: share of windows within ±0.025)"))
for n, row in summary.iterrows():
    paper_claim = "mean < 0.025 for n ≥ 256" if n >= 256 * sensitivity.reference_masks / 2560 else None
    results.record("Figure 7", f"mean |ρ_n − ρ_ref|, n = {n} of {sensitivity.reference_masks}",
                   round(float(row["mean"]), 4), paper_claim)

# %% [markdown]
# ## Adaptive masks
#
# A window stops after a round of masks when, for its distance correlation and every class
# correlation, `z` standard errors of the difference to the full-count value (Fisher z,
# ``(1 − ρ²)·sqrt(1/(n−3) − 1/(N−3))``) fit inside the tolerance; never before
# `adaptive_min_masks`. The same windows and the same mask set as above.

# %%
adaptive_table = pd.concat([adaptive_errors(adaptive_maps[image.image_id], reference[image.image_id])
                            for image in images], ignore_index=True)
mask_fraction = adaptive_table["masks_used"].mean() / sensitivity.reference_masks
plot_masks_used(adaptive_table["masks_used"].to_numpy(), n_max=sensitivity.reference_masks,
                title=f"Adaptive masks per window (tolerance {sensitivity.adaptive_tolerance}, z = {sensitivity.adaptive_z})")
plt.show()
comparison = pd.concat([errors[["n_masks", "abs_error"]].assign(method="fixed n"),
                        adaptive_table.assign(n_masks=sensitivity.reference_masks, method="adaptive")
                        [["n_masks", "abs_error", "method"]]], ignore_index=True)

# %% mystnb={"figure": {"caption": "Adaptive masks against the reference: the adaptive run's distance-correlation errors (placed at the reference count, since windows use up to that many masks) beside the fixed counts of Figure 7.", "name": "fig-adaptive-errors"}}
plot_mask_sensitivity(comparison, reference_masks=sensitivity.reference_masks,
                      title="Fixed mask counts and adaptive masks")
plt.show()

# %%
adaptive_summary = pd.Series({
    "mean masks used": adaptive_table["masks_used"].mean(),
    "fraction of the reference count": mask_fraction,
    "max |error|, distance correlation": adaptive_table["abs_error"].max(),
    "max |error|, any correlation": adaptive_table["max_abs_error"].max(),
    "windows within tolerance (any correlation)": (adaptive_table["max_abs_error"] <= sensitivity.adaptive_tolerance).mean(),
})
display(adaptive_summary.to_frame("adaptive").style.format("{:.4f}")
        .set_caption("Adaptive masks on the sampled windows"))
for item, value in adaptive_summary.items():
    results.record("adaptive masks", item, round(float(value), 4), None)

# %% [markdown]
# ## The outcomes against the mask budget
#
# What the paper reports from the correlations is where each map peaks and whether Table 4 counts a
# hit. Here maps of the first `budget_images` test images are made by every method and compared
# with a reference of `budget_reference_masks` masks per window drawn from a seed of its own
# (`budget_reference_seed`), so that no method is judged against its own masks. With `budget_region` set
# (the `tiny` profile, to fit its CPU budget) only the windows centred in a square of that many pixels around
# each image's first finding are computed: maxima and hits are then read on that square. The methods: the
# paper's independent masks at fixed counts, the same counts with variance-reduced designs
# (antithetic pairs M and 1 − M, scrambled Sobol draws; balanced blocks were measured and dropped),
# adaptive masks (above), and the **outcome-aware budget**: every window gets a first pass of masks,
# then only windows under a map maximum that a contender within `budget_z` standard errors could
# still overtake (more than `budget_tolerance_cells` strides away), or under a correlation maximum
# whose sign is in doubt, get more rounds, as long as the cap could settle the question. Table 4's prediction
# criteria read the unmasked predictions only, which no mask changes. The profile's own setting
# (`correlax` section) is ringed.

# %%
budget = mask_budget_table(study)
default = budget.loc[budget["default"]].iloc[0]

# %% mystnb={"figure": {"caption": "Agreement with an independent reference against the masked passes spent, for every method; the profile's default is ringed; dotted: 10 % of the reference's passes, dashed: 0.98 agreement (the target of 0.98 at 10 %).", "name": "fig-mask-budget"}}
region = ("every window" if sensitivity.budget_region is None
          else f"a {sensitivity.budget_region}-px square around a finding")
plot_budget_agreement(budget, title=f"{dataset_label(config.data.dataset)}: {sensitivity.budget_images} images "
                      f"({region}), reference {sensitivity.budget_reference_masks} masks "
                      f"(seed {sensitivity.budget_reference_seed})")
plt.show()

# %%
shown = ["passes_fraction", "rho_dist_median", "rho_dist_p95", "rho_class_median", "rho_class_p95",
         *AGREEMENT_COLUMNS]
display(budget.set_index(["method", "n_masks"])[[*shown, "default"]].style.format("{:.3f}", subset=shown)
        .set_caption(f"Each method against {sensitivity.budget_reference_masks} masks of an independent seed "
                     "(n_masks: the fixed count, or the cap)"))
for column in ("passes_fraction", *AGREEMENT_COLUMNS):
    results.record("mask budget", f"default ({config.correlax.mask_budget}): {column}", round(float(default[column]), 4),
                   "≥ 0.98 at ≤ 0.10 of the passes (issue #16's target)" if column != "passes_fraction" else None)

# %% [markdown]
# ## What we found

# %%
settled = summary.index[summary["mean"] <= 0.025]
worst = budget[list(AGREEMENT_COLUMNS)].min(axis=1)
target_met = bool(worst[budget["default"]].min() >= 0.98 and default["passes_fraction"] <= 0.10)
closest = budget.assign(worst=worst).sort_values(["worst", "passes_fraction"], ascending=[False, True]).iloc[0]
display(Markdown(
    f"On {len(adaptive_table)} windows of `{config.data.dataset}`, the mean distance-correlation error against "
    f"{sensitivity.reference_masks} masks falls from {summary['mean'].iloc[0]:.4f} at {summary.index[0]} masks to "
    f"{summary['mean'].iloc[-1]:.4f} at {summary.index[-1]}; it is below 0.025 from "
    + (f"{settled.min()} masks on" if len(settled) else "none of the counts tried")
    + f" (the paper: from 256 of 2560 masks on VinDr-Mammo). Adaptive masks used {mask_fraction:.0%} of the "
    f"reference count on average, with a largest distance-correlation error of "
    f"{adaptive_table['abs_error'].max():.4f} and {(adaptive_table['max_abs_error'] <= sensitivity.adaptive_tolerance).mean():.0%} "
    f"of the windows within ±{sensitivity.adaptive_tolerance} on every correlation. Against an independent "
    f"reference of {sensitivity.budget_reference_masks} masks, the profile's default "
    f"(`{config.correlax.mask_budget}`, {default['method']}) spends {default['passes_fraction']:.1%} of the "
    f"reference's passes; its map maxima agree within one stride in {default['max_agreement']:.1%} of the maps, "
    f"its Table 4 outcome in {default['pair_agreement']:.1%} of the image-label pairs, and its smoothed maps "
    f"correlate at {default['map_pearson']:.3f} with the reference's. Issue #16's target (≥ 0.98 in all three at "
    f"≤ 10 % of the passes) is {'met' if target_met else 'not met'} by the default"
    + ("." if target_met else
       f"; {closest['method']} ({closest['n_masks']} masks) comes closest: {closest['worst']:.3f} in its weakest "
       f"measure at {closest['passes_fraction']:.1%} of the passes.")
))
