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
profile = "tiny"  # book/profiles/<profile>.yml
overrides = {}  # dotted keys of corrrelax_lib.config.StudyConfig, e.g. {"correlax.n_masks": 64}

# %%
import pandas as pd
from IPython.display import Markdown, display

from corrrelax_lib.book.notes import dataset_banner, dataset_label
from corrrelax_lib.book.results import ResultLog
from corrrelax_lib.metrics.paper import authors_images_with_findings, paper_table4, table4_reconstruction
from corrrelax_lib.metrics.pointing_game import PER_IMAGE_ROW, TABLE4_CRITERIA, pointing_game_table
from corrrelax_lib.pipeline.study import FINDINGS, Study

AT_25, AT_50, POSITIVE = TABLE4_CRITERIA  # the criteria's names, as pointing_game_table writes them

study = Study.open(profile, overrides)
config = study.config
results = ResultLog(study.results_dir, "07_pointing_game")
display(Markdown(dataset_banner(config.data.dataset)))

# %%
images = study.test_images()
maps = study.correlax_maps()  # the maps chapter's, from their cache
pairs = study.pointing_game_pairs(maps)
criteria = study.pointing_game_criteria()  # Table 4's columns under this profile

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
display(Markdown(f"On this build's grid ({config.correlax.window_size}-px windows, stride {config.correlax.stride}) the outermost window centres "
                 f"lie {(config.correlax.window_size - 1) / 2:.1f} px inside the ROI border; a box is hit within "
                 f"{config.pointing_game.tolerance} px of it."))

# %% [markdown]
# ## Table 4
#
# Two means close the table. The *weighted mean* is all hits over all image-label pairs, the mean
# of the label rows weighted by their support. The *hits per image* row divides the same hits by the
# number of test images with a finding, which is what the paper's "Weighted Mean Accuracy" computes
# (reconstructed exactly below); an image with findings of two labels counts two hits, so it can
# exceed a pair accuracy.

# %%
tolerance = config.pointing_game.tolerance
ours = pointing_game_table(pairs, criteria, FINDINGS).rename(columns=dict(zip(criteria, TABLE4_CRITERIA, strict=True)))
ours.insert(len(TABLE4_CRITERIA), "chance", pairs.groupby("label")["chance"].mean())
ours.loc["Weighted mean", "chance"] = pairs["chance"].mean()
paper = paper_table4()
paper_as_ours = paper.rename(index={"Weighted Mean Accuracy": PER_IMAGE_ROW}).reindex(ours.index)
table4 = pd.concat({f"ours ({dataset_label(config.data.dataset)})": ours, "paper (VinDr-Mammo)": paper_as_ours},
                   axis=1)
support_columns = [column for column in table4.columns if column[1] == "support"]
display(table4.style.format("{:.4f}", na_rep="–").format("{:.0f}", subset=support_columns, na_rep="–")
        .set_caption(f"Table 4 | Pointing-game accuracy (Eq. 11) of prediction maps (maximum ≥ 25% / ≥ 50%) and "
                     f"correlation maps (maximum > {config.pointing_game.correlation_above:g}), boxes grown by {tolerance} px; support = image-label pairs "
                     f"(images, for hits per image); chance = hit rate of a uniformly random point of the breast. "
                     f"Ours ({dataset_label(config.data.dataset)}, {config.correlax.n_masks} masks per window) beside "
                     "the paper's, whose printed 'Weighted Mean Accuracy' is its hits per image."))

# %% [markdown]
# ## The paper's means, rebuilt from its rows
#
# Each row's accuracy times its support must be a whole number of hits. Summed, they divided by the
# test images with a finding that the authors' notebook scores (read from `data_manifests/`, with
# its source) give the printed means exactly; divided by the pairs they give the support-weighted
# means. One printed value is no fraction of its support: the row is flagged, and the count that makes
# the printed mean come out is used.

# %%
n_images = authors_images_with_findings()
reconstruction = table4_reconstruction(paper, n_images)
display(reconstruction.style.format({"printed": "{:.4f}", "exact": "{:.4f}"})
        .apply(lambda row: ["background-color: #f8d7da" if not row["consistent"] else "" for _ in row], axis=1)
        .set_caption(f"Paper Table 4 rebuilt from its rows: hits = accuracy × support (whole), then all hits over "
                     f"the {n_images} images with a finding (hits per image) and over the pairs (per pair); "
                     "red: the printed value is not hits / support, rounded or truncated"))
flagged = reconstruction.loc[~reconstruction["consistent"]].drop(index="per pair", level="label")
per_image = reconstruction.xs("hits per image", level="label")
per_pair = reconstruction.xs("per pair", level="label")
typos = "; ".join(f"{label}, {criterion}: printed {row['printed']:.4f} = {row['printed'] * row['support']:.2f} of "
                  f"{row['support']} pairs, {row['hits']}/{row['support']} = {row['exact']:.4f} makes the mean come out"
                  for (criterion, label), row in flagged.iterrows())
display(Markdown(
    f"The printed means are the hits over {n_images} images: "
    + ", ".join(f"{int(row['hits'])}/{n_images} = {row['exact']:.4f} (printed {row['printed']:.4f})"
                for _, row in per_image.iterrows())
    + ". Over the pairs the same hits give "
    + ", ".join(f"{row['exact']:.4f}" for _, row in per_pair.iterrows())
    + f". Flagged: {typos or 'none'}."))

# %%
for label in [*FINDINGS, "Weighted mean", PER_IMAGE_ROW]:
    for criterion in TABLE4_CRITERIA:
        if label == "Weighted mean":
            paper_value = float(per_pair.loc[criterion, "exact"])
        elif label == PER_IMAGE_ROW:
            paper_value = float(paper.loc["Weighted Mean Accuracy", criterion])
        else:
            paper_value = float(paper.loc[label, criterion])
        results.record("Table 4", f"{label}: {criterion}", round(float(ours.loc[label, criterion]), 4)
                       if ours.loc[label, "support"] else None, round(paper_value, 4),
                       "paper: recomputed from its rows" if label == "Weighted mean" else "")
    if label == "Weighted mean":
        paper_support = int(per_pair["support"].iloc[0])
    else:
        paper_support = n_images if label == PER_IMAGE_ROW else int(paper_as_ours.loc[label, "support"])
    results.record("Table 4", f"{label}: support", int(ours.loc[label, "support"]), paper_support)
results.record("Table 4", "Weighted mean: chance", round(float(ours.loc["Weighted mean", "chance"]), 4), None,
               "hit rate of a uniformly random breast point")
for (criterion, label), row in flagged.iterrows():
    results.record("Table 4", f"paper typo: {label}, {criterion}", None, round(float(row["exact"]), 4),
                   f"printed {row['printed']:.4f}; {row['hits']}/{row['support']} makes the printed mean")

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
    f"On {len(images)} test images of `{config.data.dataset}` ({int(mean['support'])} image-label pairs), the prediction "
    f"maps point at the finding in {mean[AT_25]:.1%} of pairs at the 25% threshold and "
    f"{mean[AT_50]:.1%} at 50%; the correlation maps in {mean[POSITIVE]:.1%}. A uniformly "
    f"random point of the breast would hit in {mean['chance']:.1%} of pairs. "
    f"Per image, as the paper counts, ours are {ours.loc[PER_IMAGE_ROW, AT_25]:.1%}, "
    f"{ours.loc[PER_IMAGE_ROW, AT_50]:.1%} and {ours.loc[PER_IMAGE_ROW, POSITIVE]:.1%}. "
    f"The paper's printed means ({', '.join(f'{value:.1%}' for value in per_image['printed'])}) are its hits per "
    f"image; per pair its rows give {', '.join(f'{value:.1%}' for value in per_pair['exact'])}. "
    f"With {int(mean['support'])} pairs, one "
    f"pair moves an accuracy by {1 / mean['support']:.1%}; these are synthetic phantoms, not a clinical result."
))
