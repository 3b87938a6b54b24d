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
# # The pointing game
#
# This chapter reproduces **Table 4 (§3.5, §4.4)**: for every label present in a test image, is
# the maximum of that label's map on one of its boxes? The box is grown by the stride on every
# side, as in the paper. Prediction maps must also reach 25% or 50% at their maximum, correlation
# maps must be positive there. Several boxes of one label in one image are one image-label pair.
# The maps are those of the previous chapter, read from its cache.

# %% tags=["parameters", "hide-cell"]
profile = "tiny"
dataset = "phantom-tiny"
data_root = "artifacts/tiny/data/phantom-tiny"
artifacts_dir = "artifacts/tiny"
results_dir = "artifacts/tiny/results"
seed = 0
device = "cpu"
clahe_clip_limits = [1.0, 2.0]
clahe_tile_grid = 8
crop_size = 64
crop_scale = [0.05, 5.0]
crop_aspect = [0.33, 1.66]
backbone = "small_cnn"
pretrained_weights = None
learning_rate = 1e-3
final_learning_rate = 1e-7
focal_alpha = 0.95
focal_gamma = 2.5
focal_alpha_form = "alpha_t"
epochs = 150
batch_size = 16
num_workers = 0
progress = False
window_size = 64
stride = 16
n_masks = 32
mask_cells = 8
keep_prob = 0.5
mask_shift = False
mask_chunk = 16
min_foreground = 0.05
correlax_batch_size = 128
pointing_tolerance = 16

# %%
import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.paper import paper_table4
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.metrics.pointing_game import TABLE4_CRITERIA, pointing_game_table, support_weighted_mean
from corrrelax_lib.pipeline.correlax_images import pointing_game_pairs
from corrrelax_lib.pipeline.profile_inputs import FINDINGS, profile_inputs, profile_maps

results = ResultLog(results_dir, "07_pointing_game")
display(Markdown(dataset_banner(dataset)))
parameters = dict(globals())

# %%
inputs = profile_inputs(parameters)
images = inputs.images
explainer, maps = profile_maps(parameters, inputs)  # the maps chapter's, from its cache
pairs = pointing_game_pairs(images, maps, FINDINGS, tolerance=pointing_tolerance)

# %% [markdown]
# ## Where a map points
#
# The predicted location of a finding is its map's maximum (§3.5), taken on the ROI-pixel map that
# the IoU-smoothed window values are upsampled to. Each window's value sits at its centre, so the
# outermost window centres lie half a window inside the ROI's border; beyond them the map is held
# constant out to the border. A maximum in the first row or column of windows is therefore a
# plateau that reaches the border, and its first pixel in row-major order would be the border pixel
# x = 0 or y = 0, where no window is centred: a finding near the skin line or in the axilla (skin
# thickening, retractions, lymph nodes) would be scored a miss although its own window is the
# strongest. We take the plateau's pixel farthest from the border, which is that window's centre
# (`corrrelax_lib.metrics.pointing_game.predicted_location`; every method of the baselines chapter
# is scored the same way).

# %%
display(Markdown(f"On this build's grid ({window_size}-px windows, stride {stride}) the outermost window centres "
                 f"lie {(window_size - 1) / 2:.1f} px inside the ROI border; a box is hit within "
                 f"{pointing_tolerance} px of it."))

# %% [markdown]
# ## Table 4

# %%
ours = pointing_game_table(pairs, TABLE4_CRITERIA, FINDINGS)
ours.insert(len(TABLE4_CRITERIA), "chance", pairs.groupby("label")["chance"].mean())
ours.loc["Weighted mean", "chance"] = pairs["chance"].mean()
paper = paper_table4()
table4 = pd.concat({f"ours ({dataset_label(dataset)})": ours,
                    "paper (VinDr-Mammo)": paper.rename(index={"Weighted Mean Accuracy": "Weighted mean"})}, axis=1)
support_columns = [column for column in table4.columns if column[1] == "support"]
display(table4.style.format("{:.4f}", na_rep="–").format("{:.0f}", subset=support_columns, na_rep="–")
        .set_caption(f"Table 4 | Pointing-game accuracy (Eq. 11) of prediction maps (maximum ≥ 25% / ≥ 50%) and "
                     f"correlation maps (maximum > 0), boxes grown by {pointing_tolerance} px; support = image-label "
                     f"pairs; chance = hit rate of a uniformly random point of the breast. Ours ({dataset_label(dataset)}, "
                     f"{n_masks} masks per window) beside the paper's."))

# %% [markdown]
# The paper's "Weighted Mean Accuracy" row is not the support-weighted mean of its own rows.
# Recomputed from the rows as printed:

# %%
recomputed = support_weighted_mean(paper, TABLE4_CRITERIA)
display(pd.DataFrame({"paper, as printed": paper.loc["Weighted Mean Accuracy", list(TABLE4_CRITERIA)],
                      "support-weighted mean of the paper's rows": recomputed})
        .style.format("{:.4f}").set_caption("The paper's weighted-mean row against its own rows"))

# %%
for label in [*FINDINGS, "Weighted mean"]:
    for criterion in TABLE4_CRITERIA:
        paper_value = paper.loc["Weighted Mean Accuracy" if label == "Weighted mean" else label, criterion]
        results.record("Table 4", f"{label}: {criterion}", round(float(ours.loc[label, criterion]), 4)
                       if ours.loc[label, "support"] else None, float(paper_value))
    results.record("Table 4", f"{label}: support", int(ours.loc[label, "support"]),
                   int(paper.loc["Weighted Mean Accuracy" if label == "Weighted mean" else label, "support"]))
results.record("Table 4", "Weighted mean: chance", round(float(ours.loc["Weighted mean", "chance"]), 4), None,
               "hit rate of a uniformly random breast point")
for criterion in TABLE4_CRITERIA:
    results.record("Table 4", f"paper's rows, support-weighted: {criterion}", None, round(float(recomputed[criterion]), 4),
                   "recomputed from the paper's own rows")

# %% [markdown]
# ## Every pair

# %%
display(pairs.assign(image_id=pairs["image_id"].str[:8]).style.hide(axis="index")
        .set_caption("Hits per image-label pair"))

# %% [markdown]
# ## What we found

# %%
mean = ours.loc["Weighted mean"]
display(Markdown(
    f"On {len(images)} test images of `{dataset}` ({int(mean['support'])} image-label pairs), the prediction "
    f"maps point at the finding in {mean['prediction > 25%']:.1%} of pairs at the 25% threshold and "
    f"{mean['prediction > 50%']:.1%} at 50%; the correlation maps in {mean['correlation > 0']:.1%}. A uniformly "
    f"random point of the breast would hit in {mean['chance']:.1%} of pairs. "
    f"The paper's rows give {recomputed['prediction > 25%']:.1%}, {recomputed['prediction > 50%']:.1%} and "
    f"{recomputed['correlation > 0']:.1%} when weighted by their support (printed: "
    f"{paper.loc['Weighted Mean Accuracy', 'prediction > 25%']:.1%}, "
    f"{paper.loc['Weighted Mean Accuracy', 'prediction > 50%']:.1%}, "
    f"{paper.loc['Weighted Mean Accuracy', 'correlation > 0']:.1%}). With {int(mean['support'])} pairs, one "
    f"pair moves an accuracy by {1 / mean['support']:.1%}; these are synthetic phantoms, not a clinical result."
))
